package cpu

import "github.com/vkcnn/vkcnn/internal/par"

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
// of nearly equal size and calls fn(w, lo, hi) for each range w, on as many
// goroutines (the calling one among them, internal/par's helpers the
// others), returning when all are done. Ranges never overlap, so fn may
// write the memory of its items without locks; w, in [0, workers), indexes
// per-range scratch space. A closure fn that captures variables is one
// allocation per call: hot paths use parallelTask.
func (b *Backend) parallel(n, grain int, fn func(w, lo, hi int)) {
	b.parallelTask(n, grain, par.Func(fn))
}

// parallelTask is parallel with the body as a par.Task (a pointer to pooled
// state, which costs no allocation).
func (b *Backend) parallelTask(n, grain int, t par.Task) {
	par.Ranges(b.workers(n, grain), n, t)
}

// dynamic calls fn(w, i) for every item i in [0, n) on b.workers(n, 1)
// goroutines (the calling one among them) that take the items in turn from
// a shared counter, returning when all are done. Where parallel fixes each
// goroutine's share up front, here a goroutine that the machine slows down
// (other processes on its core) takes fewer items, so that the call ends
// when the work does, not when the slowest share does; items should be large
// (a convolution's image). fn may write only the memory of its item and of
// its worker w, in [0, workers), which indexes per-worker scratch space.
// Hot paths use dynamicTask.
func (b *Backend) dynamic(n int, fn func(w, i int)) {
	b.dynamicTask(n, par.Func(func(w, lo, _ int) { fn(w, lo) }))
}

// dynamicTask is dynamic with the body as a par.Task, called as
// t.Run(w, i, i+1) for item i.
func (b *Backend) dynamicTask(n int, t par.Task) {
	par.Items(b.workers(n, 1), n, t)
}
