package cpu

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vkcnn/vkcnn/internal/par"
	"github.com/vkcnn/vkcnn/tensor"
)

func TestBackendBasics(t *testing.T) {
	b := New(Threads(3))
	if b.Name() != "cpu" {
		t.Errorf("Name() = %q, want cpu", b.Name())
	}
	c := b.Caps()
	if c.Device != "cpu (3 threads)" || !c.Supports(tensor.Float32) || !c.Supports(tensor.Float64) || c.Software {
		t.Errorf("Caps() = %+v", c)
	}
	if got := New(Threads(1)).Caps().Device; got != "cpu (1 thread)" {
		t.Errorf("one thread: Device = %q", got)
	}

	x, err := b.Alloc(tensor.Float64, tensor.Shape{2, 3})
	must(t, err)
	near(t, "alloc zero-fills", get[float64](t, b, x), make([]float64, 6), 0)
	must(t, b.Fill(x, 2.5))
	near(t, "fill", get[float64](t, b, x), []float64{2.5, 2.5, 2.5, 2.5, 2.5, 2.5}, 0)
	must(t, b.Upload(x, []float64{1, 2, 3, 4, 5, 6}))
	v, err := x.Reshape(tensor.Shape{6})
	must(t, err)
	y, err := b.Alloc(tensor.Float64, tensor.Shape{3, 2})
	must(t, err)
	must(t, b.Copy(y, v))
	near(t, "copy through a view", get[float64](t, b, y), []float64{1, 2, 3, 4, 5, 6}, 0)
	must(t, b.Sync())
}

func TestBackendErrors(t *testing.T) {
	b := New()
	x, err := b.Alloc(tensor.Float32, tensor.Shape{4})
	must(t, err)
	x64, err := b.Alloc(tensor.Float64, tensor.Shape{4})
	must(t, err)
	other, err := New().Alloc(tensor.Float32, tensor.Shape{4})
	must(t, err)
	freed, err := b.Alloc(tensor.Float32, tensor.Shape{4})
	must(t, err)
	must(t, freed.Free())

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"alloc bad dtype", func() error { _, err := b.Alloc(0, tensor.Shape{1}); return err }(), tensor.ErrDType},
		{"alloc bad shape", func() error { _, err := b.Alloc(tensor.Float32, tensor.Shape{2, 0}); return err }(), tensor.ErrShape},
		{"alloc too big", func() error {
			_, err := New(MemoryLimit(1024)).Alloc(tensor.Float64, tensor.Shape{129})
			return err
		}(), tensor.ErrOutOfMemory},
		{"alloc larger than memory", func() error {
			if physicalMemory() == 0 {
				return tensor.ErrOutOfMemory // unknown here: nothing to check
			}
			_, err := b.Alloc(tensor.Float64, tensor.Shape{1 << 40})
			return err
		}(), tensor.ErrOutOfMemory},
		{"upload wrong type", b.Upload(x, []float64{1, 2, 3, 4}), tensor.ErrDType},
		{"upload wrong length", b.Upload(x, []float32{1, 2}), tensor.ErrShape},
		{"upload not a slice", b.Upload(x, 3), tensor.ErrDType},
		{"download wrong length", b.Download(make([]float32, 5), x), tensor.ErrShape},
		{"mixed dtypes", b.Add(x, x, x64), tensor.ErrDType},
		{"other backend", b.Add(x, x, other), tensor.ErrBackend},
		{"freed", b.ReLU(x, freed), tensor.ErrFreed},
		{"nil input", b.ReLU(x, nil), tensor.ErrShape},
		{"conv rank", b.Conv2D(x, x, x, nil, tensor.DefaultConv2D()), tensor.ErrShape},
		{"pool window", b.MaxPool2D(x, x, tensor.Pool2DParams{}), tensor.ErrShape},
		{"dropout rate", b.DropoutMask(x, 1, 0), tensor.ErrParam},
		{"sum axis", b.Sum(x, x, 1), tensor.ErrParam},
		{"adam step 0", b.AdamStep(x, x, x, x, tensor.DefaultAdam(), 0), tensor.ErrParam},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want an error wrapping %v", c.name, c.err, c.want)
		}
	}

	must(t, b.Close())
	must(t, b.Close())
	for name, err := range map[string]error{
		"alloc":    func() error { _, err := b.Alloc(tensor.Float32, tensor.Shape{1}); return err }(),
		"upload":   b.Upload(x, []float32{1, 2, 3, 4}),
		"download": b.Download(make([]float32, 4), x),
		"sync":     b.Sync(),
		"relu":     b.ReLU(x, x),
		"conv":     b.Conv2D(x, x, x, nil, tensor.DefaultConv2D()),
	} {
		if !errors.Is(err, tensor.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
}

func TestParallelCoversOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		b := New(Threads(threads))
		for _, n := range []int{0, 1, 5, 7, 100, 1001} {
			for _, grain := range []int{1, 3, 50} {
				hits := make([]int, n)
				var mu sync.Mutex
				seen := map[int]bool{}
				b.parallelTask(n, grain, par.Func(func(w, lo, hi int) {
					mu.Lock()
					if seen[w] {
						t.Errorf("threads %d n %d grain %d: worker %d called twice", threads, n, grain, w)
					}
					seen[w] = true
					mu.Unlock()
					for i := lo; i < hi; i++ {
						hits[i]++
					}
				}))
				if len(seen) != b.workers(n, grain) {
					t.Errorf("threads %d n %d grain %d: %d workers ran, workers() says %d", threads, n, grain, len(seen), b.workers(n, grain))
				}
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("threads %d n %d grain %d: item %d done %d times", threads, n, grain, i, h)
					}
				}
			}
		}
	}
}

func TestDynamicCoversOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		b := New(Threads(threads))
		for _, n := range []int{0, 1, 5, 7, 100} {
			hits := make([]atomic.Int32, n)
			workers := make([]atomic.Int32, max(b.workers(n, 1), 1))
			b.dynamicTask(n, par.Func(func(w, i, _ int) {
				hits[i].Add(1)
				workers[w].Add(1)
			}))
			for i := range hits {
				if h := hits[i].Load(); h != 1 {
					t.Fatalf("threads %d n %d: item %d done %d times", threads, n, i, h)
				}
			}
			total := 0
			for w := range workers {
				total += int(workers[w].Load())
			}
			if total != n {
				t.Errorf("threads %d n %d: workers did %d items in all", threads, n, total)
			}
		}
	}
}
