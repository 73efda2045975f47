package nn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// blobs returns n 6×6 images of class 0, 1 or 2: a bright 2×2 square in the
// top-left, top-right or bottom half, plus noise.
func blobs(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 3))
	d := &data.Dataset{Images: make([]float32, n*36), Labels: make([]int, n)}
	for i := range n {
		c := i % 3
		d.Labels[i] = c
		img := d.Images[i*36 : (i+1)*36]
		for j := range img {
			img[j] = float32(0.2 * r.NormFloat64())
		}
		y0, x0 := r.IntN(2), r.IntN(2)
		switch c {
		case 1:
			x0 += 3
		case 2:
			y0 += 3
			x0 += r.IntN(3)
		}
		for dy := range 2 {
			for dx := range 2 {
				img[(y0+dy)*6+x0+dx] += 1
			}
		}
	}
	return d
}

func blobModel(t *testing.T, b tensor.Backend, dt tensor.DType) *nn.Sequential {
	return buildModel(t, b, dt, "conv(1,4,3,p1) relu maxpool(2) flatten dense(36,3)", tensor.Shape{1, 6, 6}, 5)
}

func TestFitClassifies(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			train, val := blobs(90, 1), blobs(30, 2)
			fit := func() ([]nn.EpochInfo, *nn.Sequential, *countingBackend, int, []int) {
				cb := &countingBackend{Backend: b}
				m := blobModel(t, cb, tb.dt)
				opt := nn.NewAdam(tensor.AdamParams{LR: 0.02, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
				defer opt.Close()
				steps, allocsAfterEpoch := 0, []int{}
				last := 0
				hist, err := m.Fit(train, nn.FitConfig{Epochs: 6, BatchSize: 16, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
					Shuffle: true, Seed: 9, Validation: val,
					OnStep: func(s nn.StepInfo) error {
						steps++
						if s.Steps != 6 || s.Samples != min(16, 90-16*(s.Step-1)) {
							return fmt.Errorf("step info %+v, expected 6 steps of up to 16 samples", s)
						}
						if s.Step > 1 && cb.downloads-last != 2 {
							return fmt.Errorf("step %d read back %d times, expected 2 (loss and classes)", s.Step, cb.downloads-last)
						}
						last = cb.downloads
						return nil
					},
					OnEpoch: func(e nn.EpochInfo) error {
						allocsAfterEpoch = append(allocsAfterEpoch, cb.allocs)
						return nil
					}})
				if err != nil {
					t.Fatal(err)
				}
				return hist, m, cb, steps, allocsAfterEpoch
			}
			hist, m, _, steps, allocs := fit()
			if len(hist) != 6 || steps != 36 {
				t.Fatalf("%d epochs and %d steps, expected 6 and 36", len(hist), steps)
			}
			for _, e := range hist {
				t.Logf("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f", e.Epoch, e.Loss, e.Accuracy, e.ValLoss, e.ValAccuracy)
			}
			first, final := hist[0], hist[len(hist)-1]
			if !(final.Loss < first.Loss/2) || final.Accuracy < 0.9 || final.ValAccuracy < 0.9 || math.IsNaN(final.ValLoss) {
				t.Errorf("first epoch %+v, last %+v: expected the loss to halve and accuracies ≥ 0.9", first, final)
			}
			for i, a := range allocs {
				if a != allocs[0] {
					t.Errorf("epoch %d ends with %d allocations, epoch 1 with %d: buffers not reused", i+1, a, allocs[0])
				}
			}
			if m.Training() {
				t.Error("model left in training mode")
			}
			ev, err := m.Evaluate(val, nn.CrossEntropyLoss(), 7)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ev.Accuracy-final.ValAccuracy) > 1e-12 || math.Abs(ev.Loss-final.ValLoss) > 1e-5 || ev.Samples != 30 {
				t.Errorf("Evaluate %+v, Fit's validation %v %v", ev, final.ValLoss, final.ValAccuracy)
			}
			preds, err := m.Predict(val.Images, 8)
			if err != nil {
				t.Fatal(err)
			}
			right := 0
			for i, p := range preds {
				sum := 0.0
				for _, q := range p.Probs {
					sum += q
				}
				if math.Abs(sum-1) > 1e-5 || p.Confidence != p.Probs[p.Class] || p.Confidence < 1.0/3 {
					t.Fatalf("prediction %d: %+v", i, p)
				}
				if p.Class == val.Labels[i] {
					right++
				}
			}
			if float64(right)/30 != ev.Accuracy {
				t.Errorf("Predict gets %d of 30 right, Evaluate says accuracy %v", right, ev.Accuracy)
			}
			again, _, _, _, _ := fit()
			for i := range hist {
				if math.Abs(again[i].Loss-hist[i].Loss) > 1e-9*hist[i].Loss || again[i].Accuracy != hist[i].Accuracy {
					t.Errorf("epoch %d: loss %v then %v with the same seeds", i+1, hist[i].Loss, again[i].Loss)
				}
			}
		})
	}
}

func TestFitBinaryTargetsFrozenAndStop(t *testing.T) {
	b := cpu64(t)
	// y = 1 when x0 > x1: a dense layer with a frozen second layer.
	r := rand.New(rand.NewPCG(4, 4))
	d := &data.Dataset{Images: make([]float32, 200)}
	for i := range 100 {
		d.Images[2*i], d.Images[2*i+1] = float32(r.NormFloat64()), float32(r.NormFloat64())
		l := 0
		if d.Images[2*i] > d.Images[2*i+1] {
			l = 1
		}
		d.Labels = append(d.Labels, l)
		d.Targets = append(d.Targets, float32(l))
	}
	m := nn.NewSequential(nn.Dense(2, 2), nn.Tanh(), nn.Dense(2, 1, nn.Frozen()), nn.Sigmoid())
	if err := m.Build(b, tensor.Shape{2}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.Param("2.weight").Set([]float64{2, -2}); err != nil {
		t.Fatal(err)
	}
	frozen, _ := m.Param("2.weight").Get()
	before, _ := m.Param("0.weight").Get()
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.5, Momentum: 0.9})
	defer opt.Close()
	hist, err := m.Fit(d, nn.FitConfig{Epochs: 20, BatchSize: 25, Loss: nn.BCELoss(), Optimizer: opt})
	if err != nil {
		t.Fatal(err)
	}
	final := hist[len(hist)-1]
	t.Logf("binary: loss %.4f → %.4f, accuracy %.2f → %.2f", hist[0].Loss, final.Loss, hist[0].Accuracy, final.Accuracy)
	if final.Accuracy < 0.95 || final.Loss >= hist[0].Loss || !math.IsNaN(final.ValLoss) {
		t.Errorf("binary fit: first %+v last %+v", hist[0], final)
	}
	after, _ := m.Param("0.weight").Get()
	still, _ := m.Param("2.weight").Get()
	if slices.Equal(before, after) || !slices.Equal(frozen, still) {
		t.Errorf("trainable weight %v → %v, frozen %v → %v", before, after, frozen, still)
	}
	preds, err := m.Predict(d.Images[:20], 64)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		if len(p.Probs) != 2 || p.Confidence < 0.5 || p.Probs[1] != 1-p.Probs[0] {
			t.Errorf("binary prediction %d: %+v", i, p)
		}
	}
	// Labels alone give the same targets for a single output.
	ev1, _ := m.Evaluate(&data.Dataset{Images: d.Images, Labels: d.Labels}, nn.BCELoss(), 100)
	ev2, _ := m.Evaluate(&data.Dataset{Images: d.Images, Targets: d.Targets}, nn.BCELoss(), 30)
	if math.Abs(ev1.Loss-ev2.Loss) > 1e-6 || ev1.Accuracy != ev2.Accuracy {
		t.Errorf("labels give %+v, targets %+v", ev1, ev2)
	}

	steps := 0
	hist, err = m.Fit(d, nn.FitConfig{Epochs: 5, BatchSize: 10, Loss: nn.MSELoss(), Optimizer: opt,
		OnStep: func(s nn.StepInfo) error {
			steps++
			if steps == 13 {
				return nn.ErrStop
			}
			return nil
		}})
	if err != nil || steps != 13 || len(hist) != 1 {
		t.Errorf("ErrStop at step 13: %d steps, %d epochs, error %v", steps, len(hist), err)
	}
	boom := errors.New("boom")
	_, err = m.Fit(d, nn.FitConfig{Epochs: 2, BatchSize: 10, Loss: nn.MSELoss(), Optimizer: opt,
		OnEpoch: func(nn.EpochInfo) error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("callback error: Fit returned %v", err)
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	b := cpu64(t)
	m := blobModel(t, b, tensor.Float32)
	good := blobs(6, 1)
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.1})
	cfg := nn.FitConfig{Epochs: 1, BatchSize: 4, Loss: nn.CrossEntropyLoss(), Optimizer: opt}
	for _, c := range []struct {
		name string
		d    *data.Dataset
		cfg  func(*nn.FitConfig)
		want string
		is   error
	}{
		{"epochs", good, func(c *nn.FitConfig) { c.Epochs = 0 }, "0 epochs", tensor.ErrParam},
		{"batch", good, func(c *nn.FitConfig) { c.BatchSize = -1 }, "batch size -1", tensor.ErrParam},
		{"loss", good, func(c *nn.FitConfig) { c.Loss = nil }, "no loss", tensor.ErrParam},
		{"optimizer", good, func(c *nn.FitConfig) { c.Optimizer = nil }, "no optimizer", tensor.ErrParam},
		{"x", &data.Dataset{Images: good.Images[:35], Labels: good.Labels}, nil, "multiple of 36", tensor.ErrShape},
		{"labels", &data.Dataset{Images: good.Images, Labels: good.Labels[:5]}, nil, "5 labels, expected 6", tensor.ErrShape},
		{"label range", &data.Dataset{Images: good.Images, Labels: []int{0, 1, 2, 3, 0, 0}}, nil, "label 3 is 3", tensor.ErrParam},
		{"no target", &data.Dataset{Images: good.Images}, nil, "no Labels and no Targets", tensor.ErrShape},
		{"targets", &data.Dataset{Images: good.Images, Targets: make([]float32, 17)}, nil, "17 target values, expected 18", tensor.ErrShape},
		{"validation", good, func(c *nn.FitConfig) { c.Validation = &data.Dataset{Images: good.Images[:36]} }, "validation set", tensor.ErrShape},
		{"nil", nil, nil, "nil dataset", tensor.ErrParam},
		{"shape", &data.Dataset{Images: good.Images, Labels: good.Labels, Shape: tensor.Shape{1, 5, 7}}, nil, "samples of shape [1 5 7], expected 36 values", tensor.ErrShape},
		{"classes", &data.Dataset{Images: good.Images, Labels: good.Labels, Classes: 10}, nil, "the dataset has 10 classes, the model 3 outputs", tensor.ErrShape},
	} {
		cc := cfg
		if c.cfg != nil {
			c.cfg(&cc)
		}
		_, err := m.Fit(c.d, cc)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
			t.Errorf("%s: error %v, expected %q wrapping %v", c.name, err, c.want, c.is)
		}
	}
	// A loaded set's Shape and Classes pass when they fit the model.
	loaded := &data.Dataset{Name: "blobs", Images: good.Images, Labels: good.Labels, Shape: tensor.Shape{1, 6, 6}, Classes: 3}
	if _, err := m.Fit(loaded, cfg); err != nil {
		t.Errorf("Fit on a dataset with Shape and Classes: %v", err)
	}
	if _, err := m.Predict(good.Images[:10], 4); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Predict on 10 values: %v", err)
	}
	if _, err := m.Evaluate(good, nil, 0); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Evaluate with batch 0: %v", err)
	}
	if _, err := nn.LossByName("hinge"); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("LossByName(hinge): %v", err)
	}
	for _, name := range []string{"mse", "bce", "ce", "cross_entropy"} {
		if l, err := nn.LossByName(name); err != nil || l == nil {
			t.Errorf("LossByName(%s): %v", name, err)
		}
	}
}

func TestOptimizerSteps(t *testing.T) {
	b := cpu64(t)
	m := nn.NewSequential(nn.Dense(2, 1, nn.NoBias()))
	if err := m.BuildDType(b, tensor.Float64, tensor.Shape{2}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	p := m.Params()[0]
	set := func(w, g []float64) {
		if err := p.Set(w); err != nil {
			t.Fatal(err)
		}
		if err := b.Upload(p.Grad, g); err != nil {
			t.Fatal(err)
		}
	}
	sgd := nn.NewSGD(tensor.SGDParams{LR: 0.1, Momentum: 0.5, WeightDecay: 0.01})
	defer sgd.Close()
	set([]float64{1, -2}, []float64{0.5, 1})
	for range 2 {
		if err := sgd.Step(m.Params()); err != nil {
			t.Fatal(err)
		}
	}
	// v1 = g + wd·w; w1 = w − lr·v1; v2 = 0.5·v1 + g + wd·w1; w2 = w1 − lr·v2.
	want := make([]float64, 2)
	for i, w := range []float64{1, -2} {
		g := []float64{0.5, 1}[i]
		v1 := g + 0.01*w
		w1 := w - 0.1*v1
		v2 := 0.5*v1 + g + 0.01*w1
		want[i] = w1 - 0.1*v2
	}
	if got, _ := p.Get(); math.Abs(got[0]-want[0]) > 1e-12 || math.Abs(got[1]-want[1]) > 1e-12 {
		t.Errorf("SGD: %v, expected %v", got, want)
	}
	adam := nn.NewAdam(tensor.DefaultAdam())
	defer adam.Close()
	set([]float64{1, -2}, []float64{0.5, -1})
	if err := adam.Step(m.Params()); err != nil {
		t.Fatal(err)
	}
	// The first bias-corrected Adam step moves each weight by LR·sign(g).
	if got, _ := p.Get(); math.Abs(got[0]-(1-1e-3)) > 1e-9 || math.Abs(got[1]-(-2+1e-3)) > 1e-9 || adam.Steps != 1 {
		t.Errorf("Adam: %v after %d steps, expected [0.999 -1.999]", got, adam.Steps)
	}
	p.Frozen = true
	if err := adam.Step(m.Params()); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Get(); math.Abs(got[0]-(1-1e-3)) > 1e-9 {
		t.Errorf("Adam moved a frozen parameter to %v", got)
	}
	if err := sgd.Step([]*nn.Param{{Name: "x"}}); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("step on an unbuilt parameter: %v", err)
	}
}

// TestHugeBatchSize: a batch size far above the data (up to MaxInt) trains
// and evaluates in one batch instead of overflowing or allocating for it.
func TestHugeBatchSize(t *testing.T) {
	b := cpu64(t)
	m := blobModel(t, b, tensor.Float32)
	train := blobs(30, 1)
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.1})
	defer opt.Close()
	hist, err := m.Fit(train, nn.FitConfig{Epochs: 1, BatchSize: math.MaxInt, Loss: nn.CrossEntropyLoss(), Optimizer: opt})
	if err != nil || len(hist) != 1 || !(hist[0].Loss > 0) {
		t.Fatalf("Fit with batch MaxInt: %v, %+v; want one epoch with a positive loss", err, hist)
	}
	res, err := m.Evaluate(train, nn.CrossEntropyLoss(), math.MaxInt)
	if err != nil || res.Samples != 30 {
		t.Fatalf("Evaluate with batch MaxInt: %+v, %v; want 30 samples", res, err)
	}
}
