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

// workers returns how many goroutines parallelTask uses for n items when
// each goroutine gets at least grain items: between 1 and the backend's
// thread count (0 when n is 0).
func (b *Backend) workers(n, grain int) int {
	if n <= 0 {
		return 0
	}
	w := n / max(grain, 1)
	return max(1, min(w, b.threads))
}

// parallelTask splits the items [0, n) into b.workers(n, grain) contiguous
// ranges of nearly equal size and calls t.Run(w, lo, hi) for each range w, on
// as many goroutines (the calling one among them, internal/par's helpers the
// others), returning when all are done. Ranges never overlap, so t may write
// the memory of its items without locks; w, in [0, workers), indexes
// per-range scratch space. t is a pointer to pooled state (cpu/task.go), so a
// call costs no allocation.
func (b *Backend) parallelTask(n, grain int, t par.Task) {
	par.Ranges(b.workers(n, grain), n, t)
}

// dynamicTask calls t.Run(w, i, i+1) for every item i in [0, n) on
// b.workers(n, 1) goroutines (the calling one among them) that take the items
// in turn from a shared counter, returning when all are done. Where
// parallelTask fixes each goroutine's share up front, here a goroutine that
// the machine slows down (other processes on its core) takes fewer items, so
// that the call ends when the work does, not when the slowest share does;
// items should be large (a convolution's image). t may write only the memory
// of its item and of its worker w, in [0, workers), which indexes per-worker
// scratch space.
func (b *Backend) dynamicTask(n int, t par.Task) {
	par.Items(b.workers(n, 1), n, t)
}
