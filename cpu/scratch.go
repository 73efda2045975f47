package cpu

import "sync"

// scratchPools recycle the large temporary buffers of the convolutions (im2col
// matrices, per-worker gradient partials) across calls: index 0 holds
// *[]float32, index 1 *[]float64.
var scratchPools [2]sync.Pool

func poolFor[T scalar]() *sync.Pool {
	var z T
	if _, ok := any(z).(float32); ok {
		return &scratchPools[0]
	}
	return &scratchPools[1]
}

// getScratch returns a buffer of n elements with unspecified contents. Give it
// back with putScratch when done.
func getScratch[T scalar](n int) *[]T {
	if s, ok := poolFor[T]().Get().(*[]T); ok && cap(*s) >= n {
		*s = (*s)[:n]
		return s
	}
	s := make([]T, n)
	return &s
}

// putScratch returns a buffer from getScratch to the pool.
func putScratch[T scalar](s *[]T) { poolFor[T]().Put(s) }
