package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSizeClass(t *testing.T) {
	prev := -1
	for n := 0; n < 1<<20; n += 1 + n/97 {
		c, capacity := SizeClass(n)
		if capacity < n || c < 0 || c >= Classes || float64(capacity) > 1.25*float64(max(n, 64)) {
			t.Fatalf("SizeClass(%d) = %d, %d", n, c, capacity)
		}
		if c < prev {
			t.Fatalf("SizeClass(%d) = %d, below the class of a smaller size (%d)", n, c, prev)
		}
		if c2, cap2 := SizeClass(capacity); c2 != c || cap2 != capacity {
			t.Fatalf("SizeClass(%d) = %d, %d but SizeClass(%d) = %d, %d", n, c, capacity, capacity, c2, cap2)
		}
		prev = c
	}
}

type countTask struct {
	hits []atomic.Int64
	ws   []atomic.Int64
}

func (c *countTask) Run(w, lo, hi int) {
	c.ws[w].Add(1)
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

func TestRangesAndItems(t *testing.T) {
	for _, parts := range []int{1, 2, 3, 8, 100} {
		for _, n := range []int{0, 1, 5, 64, 1000} {
			for _, items := range []bool{false, true} {
				c := &countTask{hits: make([]atomic.Int64, n), ws: make([]atomic.Int64, max(parts, 1))}
				if items {
					Items(parts, n, c)
				} else {
					Ranges(parts, n, c)
				}
				for i := range c.hits {
					if h := c.hits[i].Load(); h != 1 {
						t.Fatalf("parts %d, n %d, items %v: item %d run %d times", parts, n, items, i, h)
					}
				}
				if !items && n > 0 {
					for w := range min(parts, n) {
						if c.ws[w].Load() != 1 {
							t.Fatalf("parts %d, n %d: range %d run %d times", parts, n, w, c.ws[w].Load())
						}
					}
				}
			}
		}
	}
}

// nested runs Ranges inside Ranges, deeper than there are helpers idle,
// which must still finish (the callers do the shares nobody takes).
type nested struct {
	depth int
	sum   *atomic.Int64
}

func (t nested) Run(_, lo, hi int) {
	if t.depth == 0 {
		t.sum.Add(int64(hi - lo))
		return
	}
	Ranges(4, 8, nested{t.depth - 1, t.sum})
}

func TestNested(t *testing.T) {
	var sum atomic.Int64
	Ranges(4, 8, nested{3, &sum})
	if got := sum.Load(); got != 4*4*4*8 { // 4 ranges a level, 8 items at the leaves
		t.Fatalf("nested sum %d, expected %d", got, 4*4*4*8)
	}
}

type nop struct{}

func (nop) Run(int, int, int) {}

func TestNoAllocs(t *testing.T) {
	Ranges(2, 100, nop{})
	if a := testing.AllocsPerRun(100, func() { Ranges(2, 100, nop{}); Items(2, 10, nop{}) }); a != 0 {
		t.Fatalf("Ranges and Items allocate %v times per call", a)
	}
}

// TestConcurrentCallers runs loops from many goroutines at once, nested and
// not, with GOMAXPROCS at 1, 2 and 4, so that spinning helpers are handed
// shares by several callers, stop spinning while loops are queued, and
// callers run with more parts than Ps: every loop must finish with every
// item run once.
func TestConcurrentCallers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					n := 1 + (g*31+i*7)%300
					c := &countTask{hits: make([]atomic.Int64, n), ws: make([]atomic.Int64, 4)}
					if i%2 == 0 {
						Ranges(2+g%3, n, c)
					} else {
						Items(2+g%3, n, c)
					}
					for k := range c.hits {
						if h := c.hits[k].Load(); h != 1 {
							t.Errorf("GOMAXPROCS %d, caller %d, loop %d: item %d run %d times", procs, g, i, k, h)
							return
						}
					}
					if i%50 == 0 {
						var sum atomic.Int64
						Ranges(3, 6, nested{2, &sum})
						if sum.Load() != 3*4*8 { // 3 ranges, each 4 ranges of 8 leaf items
							t.Errorf("GOMAXPROCS %d: nested sum %d, expected %d", procs, sum.Load(), 3*4*8)
							return
						}
						time.Sleep(time.Duration(i) * time.Microsecond) // let some spinners park
					}
				}
			}()
		}
		wg.Wait()
	}
}
