// Package par runs the parallel loops of the CPU backend and of
// internal/gemm on a shared set of long-lived goroutines, without
// allocating: a loop is a Task (an interface, so that a pointer to the
// caller's own pooled state is passed without boxing), its bookkeeping comes
// from a pool, and idle goroutines are woken through a channel instead of
// starting new ones.
//
// The calling goroutine always takes part and takes every share that no
// helper has claimed, so a loop finishes even when every helper is busy
// (loops nested inside loops, or many callers at once): helpers only speed
// it up.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is the body of a loop.
type Task interface {
	// Run does the items [lo, hi) as participant w. For Ranges, w is the
	// index of the range; for Items, hi is lo+1 and w identifies the
	// goroutine, in [0, parts), so that it may index per-goroutine scratch
	// memory.
	Run(w, lo, hi int)
}

// Func adapts a function to a Task. A closure that captures variables is
// allocated by its caller when passed this way: hot loops pass a pointer to
// a pooled struct instead.
type Func func(w, lo, hi int)

// Run calls f.
func (f Func) Run(w, lo, hi int) { f(w, lo, hi) }

// Split returns the start of range i when n items are cut into parts
// contiguous ranges of nearly equal size: n·i/parts.
func Split(n, parts, i int) int { return n * i / parts }

// Ranges cuts [0, n) into parts contiguous ranges (Split) and calls
// t.Run(w, lo, hi) once for each range w, on up to parts goroutines (the
// caller's among them), returning when all are done. Which goroutine runs
// which range is not fixed, but each range is run exactly once, so results
// that depend only on the ranges are deterministic. parts ≤ 1 runs t.Run(0,
// 0, n) inline; n ≤ 0 does nothing.
func Ranges(parts, n int, t Task) {
	if n <= 0 {
		return
	}
	if parts <= 1 {
		t.Run(0, 0, n)
		return
	}
	do(t, min(parts, n), n, false)
}

// Items calls t.Run(w, i, i+1) for every item i in [0, n) on up to parts
// goroutines (the caller's among them) that take the items in turn from a
// shared counter, returning when all are done: a goroutine that the machine
// slows down takes fewer items. w, in [0, parts), is the same for all items
// one goroutine runs and differs between goroutines running at once.
func Items(parts, n int, t Task) {
	if n <= 0 {
		return
	}
	if parts <= 1 {
		for i := range n {
			t.Run(0, i, i+1)
		}
		return
	}
	do(t, min(parts, n), n, true)
}

// job is one loop in flight, shared by its caller and helpers.
type job struct {
	t       Task
	parts   int
	n       int
	items   bool         // Items rather than Ranges
	next    atomic.Int64 // next range or item to claim
	ids     atomic.Int64 // participant numbers handed out (Items)
	helpers sync.WaitGroup
}

var jobs = sync.Pool{New: func() any { return new(job) }}

// wake hands a job to an idle helper goroutine; a send succeeds only while
// one waits on it.
var wake = make(chan *job)

// helpers counts the helper goroutines started, at most maxHelpers.
var helpers atomic.Int64

// maxHelpers bounds the helper goroutines: beyond it a loop's caller does
// the shares no idle helper takes.
func maxHelpers() int64 { return int64(max(64, 8*runtime.GOMAXPROCS(0))) }

func do(t Task, parts, n int, items bool) {
	j := jobs.Get().(*job)
	j.t, j.parts, j.n, j.items = t, parts, n, items
	j.next.Store(0)
	j.ids.Store(0)
	for range parts - 1 {
		j.helpers.Add(1)
		select {
		case wake <- j:
			continue
		default:
		}
		if helpers.Add(1) <= maxHelpers() {
			go helper(j)
			continue
		}
		helpers.Add(-1)
		j.helpers.Done()
	}
	j.work()
	j.helpers.Wait()
	j.t = nil
	jobs.Put(j)
}

// helper works on j, then on every job it is woken for.
func helper(j *job) {
	for {
		j.work()
		j.helpers.Done()
		j = <-wake
	}
}

// work claims shares of the loop until none is left.
func (j *job) work() {
	total := int64(j.parts)
	if j.items {
		total = int64(j.n)
	}
	if j.next.Load() >= total {
		return
	}
	if !j.items {
		for r := j.next.Add(1) - 1; r < total; r = j.next.Add(1) - 1 {
			w := int(r)
			j.t.Run(w, Split(j.n, j.parts, w), Split(j.n, j.parts, w+1))
		}
		return
	}
	w := int(j.ids.Add(1) - 1)
	for i := j.next.Add(1) - 1; i < total; i = j.next.Add(1) - 1 {
		j.t.Run(w, int(i), int(i)+1)
	}
}
