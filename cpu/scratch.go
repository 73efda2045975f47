package cpu

import (
	"sync"

	"github.com/vkcnn/vkcnn/internal/par"
)

// scratchPools recycle the large temporary buffers of the convolutions (im2col
// matrices, per-worker gradient partials) across calls: index 0 holds
// *[]float32, index 1 *[]float64, each by par.SizeClass of the capacity. A
// sync.Pool hands each buffer to one caller at a time, so ops running on many
// goroutines at once never share one.
var scratchPools [2][par.Classes]sync.Pool

// poolFor returns the pool of buffers of T whose capacity is n's
// par.SizeClass.
func poolFor[T scalar](n int) *sync.Pool {
	var z T
	c, _ := par.SizeClass(n)
	if _, ok := any(z).(float32); ok {
		return &scratchPools[0][c]
	}
	return &scratchPools[1][c]
}

// getScratch returns a buffer of n elements with unspecified contents. Give it
// back with putScratch when done.
func getScratch[T scalar](n int) *[]T {
	if s, ok := poolFor[T](n).Get().(*[]T); ok {
		*s = (*s)[:n]
		return s
	}
	_, capacity := par.SizeClass(n)
	s := make([]T, n, capacity)
	return &s
}

// putScratch returns a buffer from getScratch to the pool.
func putScratch[T scalar](s *[]T) { poolFor[T](cap(*s)).Put(s) }

// intScratch recycles the index buffers of the pooling ops.
var intScratch sync.Pool

// getInts returns a buffer of n ints with unspecified contents. Give it back
// with putInts.
func getInts(n int) *[]int {
	if s, ok := intScratch.Get().(*[]int); ok && cap(*s) >= n {
		*s = (*s)[:n]
		return s
	}
	s := make([]int, n)
	return &s
}

// putInts returns a buffer from getInts to the pool.
func putInts(s *[]int) { intScratch.Put(s) }
