// Package alloctest measures, for tests, whether a piece of work allocates
// per item (per training step, per batch) once warm: it compares a run over
// k items with a run over 2k, so that what a call allocates once (results,
// bookkeeping, first-use buffers) cancels out.
//
// The Go runtime itself allocates now and then while a process warms up (a
// sync.Pool's queue or a WaitGroup's semaphore records growing when
// goroutines move between threads), a few times in thousands of ops, which a
// single run may catch; so the fewest allocations of several runs are
// compared, with GOMAXPROCS 1 (callers keep their parallel code paths by
// asking their backend for more than one worker) and without garbage
// collection, which empties the pools.
package alloctest

import (
	"runtime"
	"runtime/debug"
	"slices"
)

// Quiet sets GOMAXPROCS to 1 and turns garbage collection off; the returned
// function restores both. Call it as defer alloctest.Quiet()().
func Quiet() (restore func()) {
	procs := runtime.GOMAXPROCS(1)
	gc := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(gc)
		runtime.GOMAXPROCS(procs)
	}
}

// Mallocs returns the number of heap allocations made while f runs.
func Mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// Result is what Compare measured.
type Result struct {
	// Short and Long are the allocations of each run over k and 2k items.
	Short, Long []uint64
	// PerItem is (fewest of Long − fewest of Short)/k: 0 or less when the
	// work allocates nothing per item.
	PerItem float64
}

// Compare runs long once to warm up, then short and long in turn reps
// times each, and returns their allocations; short does k items of work and
// long 2k.
func Compare(k, reps int, short, long func()) Result {
	Mallocs(long)
	var r Result
	for range reps {
		r.Short = append(r.Short, Mallocs(short))
		r.Long = append(r.Long, Mallocs(long))
	}
	r.PerItem = (float64(slices.Min(r.Long)) - float64(slices.Min(r.Short))) / float64(k)
	return r
}
