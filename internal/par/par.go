// Package par runs the parallel loops of the CPU backend and of
// internal/gemm on a shared set of long-lived goroutines, without
// allocating: a loop is a Task (an interface, so that a pointer to the
// caller's own pooled state is passed without boxing), its bookkeeping comes
// from a pool, and idle goroutines are reused instead of starting new ones:
// a helper that finished its share polls for the next loop for a while
// (spinTime) and then parks, to be woken through a channel.
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
	"time"
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
	pending atomic.Int64 // helpers' shares not yet finished
	helpers sync.WaitGroup
}

var jobs = sync.Pool{New: func() any { return new(job) }}

// wake hands a job to a parked helper goroutine; a send succeeds only while
// one waits on it.
var wake = make(chan *job)

// helpers counts the helper goroutines started, at most maxHelpers.
var helpers atomic.Int64

// maxHelpers bounds the helper goroutines: beyond it a loop's caller does
// the shares no idle helper takes.
func maxHelpers() int64 { return int64(max(64, 8*runtime.GOMAXPROCS(0))) }

// spinTime is how long a helper that finished its share keeps polling for
// the next loop before it parks, and how long a caller that finished its
// own shares polls for its helpers before it parks. A parked helper's
// thread sleeps in the kernel, and waking it took 80–140 µs (median) on the
// 2-vCPU cloud machine vkcnn is tuned on, while the loops of a training
// step follow each other 2–90 µs apart: without the spin every loop would
// run on the caller alone for its first 100 µs. Spinning, a helper joins a
// loop about 1 µs after it starts.
//
// Spinning pays only while one goroutine runs loops (a training step): a
// spinner holds a P, so where several goroutines run loops (concurrent
// predictions) one with work could wait for it, behind a helper polling
// for nothing. Helpers and callers spin only when no two loops have been
// in flight at once for quietTime; otherwise they park at once, as they
// always did.
const (
	spinTime  = 200 * time.Microsecond
	quietTime = 20 * time.Millisecond
)

var (
	// inFlight counts the loops running (in do).
	inFlight atomic.Int64
	// epoch is the time the package started, and crowded the time since
	// it when a loop last started while another ran.
	epoch   = time.Now()
	crowded atomic.Int64
)

// spinAllowed reports whether helpers and callers may spin: no two loops have
// run at once for quietTime.
func spinAllowed() bool {
	return time.Since(epoch)-time.Duration(crowded.Load()) > quietTime
}

// spinners are the helpers polling for work, at most GOMAXPROCS − 1 of
// them (a spinner holds a P). A caller hands a share to one by pushing its
// job on queue, which spinning helpers take from; a share is queued only
// for a spinner not yet given one (free), and a spinner stops spinning only
// while the queue is empty, so that every queued share is taken: free +
// len(queue) is the number of helpers spinning.
var spinners struct {
	sync.Mutex
	free   int          // spinning helpers not yet given a share
	queue  []*job       // one entry per share handed out, not yet taken
	nfree  atomic.Int64 // free, read without the lock
	queued atomic.Int64 // len(queue), read without the lock
}

func do(t Task, parts, n int, items bool) {
	if inFlight.Add(1) > 1 {
		crowded.Store(int64(time.Since(epoch)))
	}
	defer inFlight.Add(-1)
	j := jobs.Get().(*job)
	j.t, j.parts, j.n, j.items = t, parts, n, items
	j.next.Store(0)
	j.ids.Store(0)
	j.pending.Store(int64(parts - 1))
	j.helpers.Add(parts - 1)
	shares := parts - 1
	if spinners.nfree.Load() > 0 {
		spinners.Lock()
		for shares > 0 && spinners.free > 0 {
			spinners.free--
			spinners.queue = append(spinners.queue, j)
			shares--
		}
		spinners.nfree.Store(int64(spinners.free))
		spinners.queued.Store(int64(len(spinners.queue)))
		spinners.Unlock()
	}
	for ; shares > 0; shares-- {
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
		j.pending.Add(-1)
		j.helpers.Done()
	}
	j.work()
	// Poll for the helpers before parking, unless they may need this
	// goroutine's P to run at all.
	if j.pending.Load() > 0 && parts <= runtime.GOMAXPROCS(0) && spinAllowed() {
		start := time.Now()
		for i := 1; j.pending.Load() > 0; i++ {
			if i%64 == 0 && (time.Since(start) > spinTime || inFlight.Load() > 1) {
				break
			}
		}
	}
	j.helpers.Wait()
	j.t = nil
	jobs.Put(j)
}

// helper works on j, then on every job it is handed.
func helper(j *job) {
	for {
		j.work()
		// Become a spinner before the caller learns that the share is
		// done, so that its next loop finds this helper spinning.
		spinning := false
		spinners.Lock()
		if spinners.free+len(spinners.queue) < runtime.GOMAXPROCS(0)-1 && spinAllowed() {
			spinners.free++
			spinners.nfree.Store(int64(spinners.free))
			spinning = true
		}
		spinners.Unlock()
		j.pending.Add(-1)
		j.helpers.Done()
		if spinning {
			j = spin()
		} else {
			j = <-wake
		}
	}
}

// spin returns the next job handed to the calling helper, one of the free
// spinners: polled for spinTime, then waited for parked.
func spin() *job {
	start := time.Now()
	for i := 1; ; i++ {
		stop := i%64 == 0 && (time.Since(start) > spinTime || inFlight.Load() > 1)
		if spinners.queued.Load() == 0 && !stop {
			continue
		}
		spinners.Lock()
		if k := len(spinners.queue); k > 0 {
			j := spinners.queue[k-1]
			spinners.queue[k-1] = nil
			spinners.queue = spinners.queue[:k-1]
			spinners.queued.Store(int64(k - 1))
			spinners.Unlock()
			return j
		}
		if stop {
			spinners.free--
			spinners.nfree.Store(int64(spinners.free))
			spinners.Unlock()
			return <-wake
		}
		spinners.Unlock()
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
