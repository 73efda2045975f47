package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/alloctest"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestFitStepNoAllocs checks that a training step allocates nothing once
// warm with the layers and Fit features the presets do not use (dropout,
// average pooling, the other activations, softmax, 1-d batch norm, host
// transforms, callbacks, gradient clipping, label smoothing, divergence checks, schedules,
// AdamW, validation), on the CPU backend: Fit over 2k steps allocates no
// more than over k (internal/alloctest, as models' TestPresetStepNoAllocs).
func TestFitStepNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	defer alloctest.Quiet()()
	b := cpu.New(cpu.Threads(2))
	defer b.Close()
	in := tensor.Shape{3, 12, 12}
	rng := rand.New(rand.NewPCG(1, 2))
	set := func(n int) *data.Dataset {
		d := &data.Dataset{Images: make([]float32, n*in.Len()), Labels: make([]int, n)}
		for i := range d.Images {
			d.Images[i] = rng.Float32()
		}
		for i := range d.Labels {
			d.Labels[i] = rng.IntN(4)
		}
		return d
	}
	const k, bs = 4, 16
	short, long, val := set(k*bs), set(2*k*bs), set(2*bs)
	const base = "conv(3,4,3) relu flatten dense(400,4)"
	for _, c := range []struct {
		name, spec string
		cfg        func(*FitConfig)
	}{
		{"avgpool", "conv(3,4,3) relu avgpool(2) flatten dense(100,4)", nil},
		{"maxpool3s2", "conv(3,4,3) relu maxpool(3,s2) flatten dense(64,4)", nil},
		{"dropout", "conv(3,4,3) relu flatten dropout(0.5) dense(400,4)", nil},
		{"activations", "conv(3,4,3) tanh flatten dense(400,8) leakyrelu(0.2) dense(8,8) silu dense(8,4) sigmoid", nil},
		{"batchnorm1d-softmax", "flatten dense(432,8) batchnorm1d(8) relu dense(8,4) softmax", nil},
		{"callbacks", base, func(c *FitConfig) { c.OnStep = func(StepInfo) error { return nil } }},
		{"clipping", base, func(c *FitConfig) { c.ClipNorm = 0.01 }},
		{"smoothing", base, func(c *FitConfig) { c.LabelSmoothing = 0.1 }},
		{"diverge", base, func(c *FitConfig) { c.DivergeRatio = 100 }},
		{"transforms", base, func(c *FitConfig) {
			c.Transforms = []Transform{RandomCrop(2), HorizontalFlip(0.5), Normalize([]float32{0.5}, []float32{0.2})}
		}},
		{"adamw-cosine", base, func(c *FitConfig) {
			c.Optimizer = NewAdam(tensor.DefaultAdamW())
			c.Schedule = CosineLR{LR: 0.01}
		}},
		{"validation", base, func(c *FitConfig) { c.Validation = val }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Build(b, in, 1); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			cfg := FitConfig{Epochs: 1, BatchSize: bs, Loss: CrossEntropyLoss(), Optimizer: NewSGD(tensor.SGDParams{LR: 0.01, Momentum: 0.9}), Shuffle: true}
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			defer cfg.Optimizer.Close()
			train := func(d *data.Dataset) func() {
				return func() {
					if _, err := m.Fit(d, cfg); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r := alloctest.Compare(k, 5, train(short), train(long)); r.PerItem > 0 {
				t.Errorf("Fit allocates %v times over %d steps and %v over %d: %.2f allocations per step, expected 0",
					r.Short, k, r.Long, 2*k, r.PerItem)
			}
		})
	}
}
