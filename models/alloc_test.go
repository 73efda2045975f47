package models

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
)

// TestPresetStepNoAllocs checks that a training step of every preset
// allocates nothing once warm, on the CPU backend in float32: Train (one Fit
// call with the preset's loss, optimizer, schedule and shifts) over 2k steps
// allocates no more than over k steps; what a call allocates once (the
// history, the shuffled order, the shifted copy of the images, the first
// step's buffers) cancels out.
//
// The fewest allocations of several calls are compared: the runtime itself
// allocates now and then while the process warms up (a sync.Pool's queue or
// the semaphore records of a WaitGroup growing when goroutines move between
// threads), a few times in thousands of ops, which a single call may catch.
// For the same reason the test runs with GOMAXPROCS 1 (the backend still
// splits every op over 2 workers, so the parallel paths are the same) and
// without garbage collection, which empties the pools.
func TestPresetStepNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b := cpu.New(cpu.Threads(2))
	defer b.Close()
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			m, err := p.Model()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Build(b, p.Input, 1); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			cfg, err := p.TrainConfig(1)
			if err != nil {
				t.Fatal(err)
			}
			defer cfg.Optimizer.Close()
			cfg.Epochs = 1
			classes := max(m.OutShape().Len(), 2)
			rng := rand.New(rand.NewPCG(1, 2))
			set := func(n int) *data.Dataset {
				d := &data.Dataset{Images: make([]float32, n*p.Input.Len()), Labels: make([]int, n)}
				for i := range d.Images {
					d.Images[i] = rng.Float32()
				}
				for i := range d.Labels {
					d.Labels[i] = rng.IntN(classes)
				}
				return d
			}
			const k = 4 // steps; one-cycle needs a few
			short, long := set(k*p.BatchSize), set(2*k*p.BatchSize)
			train := func(d *data.Dataset) uint64 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if _, err := Train(m, d, cfg); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				return after.Mallocs - before.Mallocs
			}
			train(long) // warm up
			var a1, a2 []uint64
			for range 5 {
				a1 = append(a1, train(short))
				a2 = append(a2, train(long))
			}
			if lo1, lo2 := slices.Min(a1), slices.Min(a2); lo2 > lo1 {
				t.Errorf("Train allocates %d times over %d steps and %d times over %d (fewest of %v and %v): %.2f allocations per step, expected 0",
					lo1, k, lo2, 2*k, a1, a2, float64(lo2-lo1)/k)
			}
		})
	}
}

// TestPresetEvalNoAllocs checks that Evaluate, Predict and Outputs allocate
// nothing per batch once warm, for every preset on the CPU backend: a call
// over 2k batches allocates no more than one over k (what a call allocates
// once, the results and the finiteness checks' bookkeeping, cancels out),
// measured as TestPresetStepNoAllocs does.
func TestPresetEvalNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	b := cpu.New(cpu.Threads(2))
	defer b.Close()
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			m, err := p.Model()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Build(b, p.Input, 1); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			loss, err := p.NewLoss()
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			set := func(n int) *data.Dataset {
				d := &data.Dataset{Images: make([]float32, n*p.Input.Len()), Labels: make([]int, n)}
				for i := range d.Images {
					d.Images[i] = rng.Float32()
				}
				for i := range d.Labels {
					d.Labels[i] = rng.IntN(2)
				}
				return d
			}
			const k, bs = 4, 32
			short, long := set(k*bs), set(2*k*bs)
			for _, c := range []struct {
				name string
				run  func(d *data.Dataset) error
			}{
				{"Evaluate", func(d *data.Dataset) error { _, err := m.Evaluate(d, loss, bs); return err }},
				{"Predict", func(d *data.Dataset) error { _, err := m.Predict(d.Images, bs); return err }},
				{"Outputs", func(d *data.Dataset) error { _, err := m.Outputs(d.Images, bs); return err }},
			} {
				count := func(d *data.Dataset) uint64 {
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					if err := c.run(d); err != nil {
						t.Fatal(err)
					}
					runtime.ReadMemStats(&after)
					return after.Mallocs - before.Mallocs
				}
				count(long) // warm up
				var a1, a2 []uint64
				for range 5 {
					a1 = append(a1, count(short))
					a2 = append(a2, count(long))
				}
				if lo1, lo2 := slices.Min(a1), slices.Min(a2); lo2 > lo1 {
					t.Errorf("%s allocates %d times over %d batches and %d times over %d (fewest of %v and %v): %.2f allocations per batch of %d, expected 0",
						c.name, lo1, k, lo2, 2*k, a1, a2, float64(lo2-lo1)/k, bs)
				}
			}
		})
	}
}
