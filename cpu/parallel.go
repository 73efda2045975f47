package cpu

import (
	"sync"
	"sync/atomic"
)

// Grains: the fewest items worth handing to one goroutine, so that small ops
// run inline instead of paying for goroutine start-up.
const (
	// elemGrain is for cheap elementwise work (one element per item).
	elemGrain = 1 << 15
	// rowGrain is for row-wise work where one item is a row or plane of
	// moderate length.
	rowGrain = 16
)

// workers returns how many goroutines parallel uses for n items when each
// goroutine gets at least grain items: between 1 and the backend's thread
// count (0 when n is 0).
func (b *Backend) workers(n, grain int) int {
	if n <= 0 {
		return 0
	}
	w := n / max(grain, 1)
	return max(1, min(w, b.threads))
}

// parallel splits the items [0, n) into b.workers(n, grain) contiguous ranges
// of nearly equal size and calls fn(w, lo, hi) for range w in its own
// goroutine (the last range on the calling goroutine), returning when all are
// done. Ranges never overlap, so fn may write the memory of its items without
// locks; w, in [0, workers), indexes per-worker scratch space.
func (b *Backend) parallel(n, grain int, fn func(w, lo, hi int)) {
	nw := b.workers(n, grain)
	if nw <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < nw-1; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fn(w, w*n/nw, (w+1)*n/nw)
		}(w)
	}
	fn(nw-1, (nw-1)*n/nw, n)
	wg.Wait()
}

// dynamic calls fn(w, i) for every item i in [0, n) on b.workers(n, 1)
// goroutines (the last on the calling goroutine) that take the items in
// turn from a shared counter, returning when all are done. Where parallel
// fixes each goroutine's share up front, here a goroutine that the machine
// slows down (other processes on its core) takes fewer items, so that the
// call ends when the work does, not when the slowest share does; items
// should be large (a convolution's image). fn may write only the memory of
// its item and of its worker w, in [0, workers), which indexes per-worker
// scratch space.
func (b *Backend) dynamic(n int, fn func(w, i int)) {
	nw := b.workers(n, 1)
	if nw <= 1 {
		for i := range n {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	run := func(w int) {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(w, i)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < nw-1; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			run(w)
		}(w)
	}
	run(nw - 1)
	wg.Wait()
}

// parallelSum runs fn over the ranges of parallel and returns the sum of the
// per-range results, added in range order so that the result depends only on
// n, grain and the thread count, never on scheduling.
func (b *Backend) parallelSum(n, grain int, fn func(lo, hi int) float64) float64 {
	part := make([]float64, max(b.workers(n, grain), 1))
	b.parallel(n, grain, func(w, lo, hi int) { part[w] = fn(lo, hi) })
	var s float64
	for _, p := range part {
		s += p
	}
	return s
}
