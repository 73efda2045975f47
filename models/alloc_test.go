package models

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/alloctest"
	"github.com/vkcnn/vkcnn/nn"
)

// forEachPreset runs body as a subtest for every preset, built on one CPU
// backend with 2 workers, with a maker of random datasets for its input; the
// set-up both allocation tests share. It skips under the race detector, whose
// sync.Pool drops items at random, and keeps the runtime quiet
// (alloctest.Quiet) while it runs.
func forEachPreset(t *testing.T, body func(t *testing.T, p Preset, m *nn.Sequential, set func(n int) *data.Dataset)) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	defer alloctest.Quiet()()
	b := cpu.New(cpu.Threads(2))
	defer b.Close()
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			m, set := allocPreset(t, b, p)
			body(t, p, m, set)
		})
	}
}

// allocPreset builds preset p on b and returns the model with a random
// dataset maker for its input.
func allocPreset(t *testing.T, b *cpu.Backend, p Preset) (*nn.Sequential, func(n int) *data.Dataset) {
	m, err := p.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(b, p.Input, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	rng := rand.New(rand.NewPCG(1, 2))
	classes := max(m.OutShape().Len(), 2)
	return m, func(n int) *data.Dataset {
		// FlipInvariant, so that a preset's flips (resnet's) run too.
		d := &data.Dataset{Images: make([]float32, n*p.Input.Len()), Labels: make([]int, n), FlipInvariant: true}
		for i := range d.Images {
			d.Images[i] = rng.Float32()
		}
		for i := range d.Labels {
			d.Labels[i] = rng.IntN(classes)
		}
		return d
	}
}

// TestPresetStepNoAllocs checks that a training step of every preset
// allocates nothing once warm, on the CPU backend in float32: Train (one Fit
// call with the preset's loss, optimizer, schedule and shifts) over 2k steps
// allocates no more than over k (internal/alloctest: the fewest of 5 calls,
// GOMAXPROCS 1 with the backend on 2 workers, no garbage collection); what
// a call allocates once (the history, the shuffled order, the shifted copy
// of the images) cancels out.
func TestPresetStepNoAllocs(t *testing.T) {
	forEachPreset(t, func(t *testing.T, p Preset, m *nn.Sequential, set func(n int) *data.Dataset) {
		cfg, err := p.TrainConfig(1)
		if err != nil {
			t.Fatal(err)
		}
		defer cfg.Optimizer.Close()
		cfg.Epochs = 1
		const k = 4 // steps; one-cycle needs a few
		short, long := set(k*p.BatchSize), set(2*k*p.BatchSize)
		train := func(d *data.Dataset) func() {
			return func() {
				if _, err := Train(m, d, cfg); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := alloctest.Compare(k, 5, train(short), train(long)); r.PerItem > 0 {
			t.Errorf("Train allocates %v times over %d steps and %v over %d: %.2f allocations per step, expected 0",
				r.Short, k, r.Long, 2*k, r.PerItem)
		}
	})
}

// TestPresetEvalNoAllocs checks that Evaluate, Predict and Outputs allocate
// nothing per batch once warm, for every preset on the CPU backend: a call
// over 2k batches allocates no more than one over k (what a call allocates
// once, its results and the finiteness checks' bookkeeping, cancels out),
// measured as in TestPresetStepNoAllocs.
func TestPresetEvalNoAllocs(t *testing.T) {
	forEachPreset(t, func(t *testing.T, p Preset, m *nn.Sequential, set func(n int) *data.Dataset) {
		loss, err := p.NewLoss()
		if err != nil {
			t.Fatal(err)
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
			call := func(d *data.Dataset) func() {
				return func() {
					if err := c.run(d); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r := alloctest.Compare(k, 5, call(short), call(long)); r.PerItem > 0 {
				t.Errorf("%s allocates %v times over %d batches and %v over %d: %.2f allocations per batch of %d, expected 0",
					c.name, r.Short, k, r.Long, 2*k, r.PerItem, bs)
			}
		}
	})
}
