package alloctest

import "testing"

var sink [][]byte

// TestCompare checks that Compare tells work that allocates per item from
// work that allocates only per call.
func TestCompare(t *testing.T) {
	defer Quiet()()
	work := func(items int, perItem bool) func() {
		return func() {
			sink = append(sink[:0], make([]byte, 64)) // once per call
			for range items {
				if perItem {
					sink = append(sink, make([]byte, 64))
				}
			}
		}
	}
	sink = make([][]byte, 0, 64)
	if r := Compare(4, 3, work(4, false), work(8, false)); r.PerItem != 0 {
		t.Errorf("per-call work: %v allocations per item (%v, %v), expected 0", r.PerItem, r.Short, r.Long)
	}
	if r := Compare(4, 3, work(4, true), work(8, true)); r.PerItem != 1 {
		t.Errorf("per-item work: %v allocations per item (%v, %v), expected 1", r.PerItem, r.Short, r.Long)
	}
}
