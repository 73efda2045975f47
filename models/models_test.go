package models

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestPresetsBuild parses and builds every preset and checks that its spec is
// canonical, that it maps its input to the classes of its dataset, and that
// its loss and optimizer exist.
func TestPresetsBuild(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	wantParams := map[string]int{
		"seed01": 5*9 + 5 + 3380*100 + 100 + 100*2 + 2,
		"cnn":    8*9 + 8 + 16*8*9 + 16 + 784*64 + 64 + 64*10 + 10,
		"lenet5": 6*25 + 6 + 16*6*25 + 16 + 400*120 + 120 + 120*84 + 84 + 84*10 + 10,
		// Convolutions without bias, two parameters per BN channel.
		"resnet": 16*9 + 2*16 + (32*16*9 + 2*32 + 32*32*9 + 2*32 + 32*16 + 2*32) + (64*32*9 + 2*64 + 64*64*9 + 2*64 + 64*32 + 2*64) + 3136*128 + 128 + 128*10 + 10,
	}
	if got := Names(); !slices.Equal(got, []string{"seed01", "cnn", "lenet5", "resnet"}) {
		t.Fatalf("Names() = %v", got)
	}
	for _, p := range All() {
		m, err := p.Model()
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if m.String() != p.Spec {
			t.Errorf("%s: spec %q is not canonical, nn prints %q", p.Name, p.Spec, m.String())
		}
		if err := m.Build(b, p.Input, 1); err != nil {
			t.Fatalf("%s: build: %v", p.Name, err)
		}
		classes := 10
		if p.Dataset == "mnist01" {
			classes = 2
		}
		if got := m.OutShape(); !got.Equal(tensor.Shape{classes}) {
			t.Errorf("%s: output %v, want [%d]", p.Name, got, classes)
		}
		if got := m.NumParams(); got != wantParams[p.Name] {
			t.Errorf("%s: %d parameters, want %d", p.Name, got, wantParams[p.Name])
		}
		if _, err := p.NewLoss(); err != nil {
			t.Errorf("%s: loss: %v", p.Name, err)
		}
		cfg, err := p.TrainConfig(1)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if cfg.Epochs != p.Epochs || cfg.BatchSize != p.BatchSize || cfg.Loss == nil || cfg.Optimizer == nil || !cfg.Shuffle {
			t.Errorf("%s: train config %+v does not follow the preset", p.Name, cfg)
		}
		cfg.Optimizer.Close()
		m.Free()
	}
}

func TestGet(t *testing.T) {
	p, err := Get(" LeNet5 ")
	if err != nil || p.Name != "lenet5" {
		t.Fatalf("Get(LeNet5) = %v, %v", p.Name, err)
	}
	p.Input[0] = 99 // a copy: must not change the table
	if q, _ := Get("lenet5"); q.Input[0] != 1 {
		t.Errorf("Get returns a shared Input slice")
	}
	_, err = Get("resnet50")
	if !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "seed01, cnn, lenet5, resnet") {
		t.Errorf("Get(resnet50) error %v, want ErrParam listing the names", err)
	}
}

func TestNewOptimizer(t *testing.T) {
	o, err := NewOptimizer("SGD", 0.1, 0.9)
	if s, ok := o.(*nn.SGD); err != nil || !ok || s.LR != 0.1 || s.Momentum != 0.9 {
		t.Errorf("NewOptimizer(sgd) = %#v, %v", o, err)
	}
	o, err = NewOptimizer("adam", 0.01, 0)
	if a, ok := o.(*nn.Adam); err != nil || !ok || a.LR != 0.01 || a.Beta2 != 0.999 {
		t.Errorf("NewOptimizer(adam) = %#v, %v", o, err)
	}
	for _, c := range []struct {
		name    string
		lr, mom float64
	}{{"rmsprop", 0.1, 0}, {"sgd", 0, 0}, {"sgd", -1, 0}, {"sgd", math.NaN(), 0}, {"sgd", 0.1, 1}, {"sgd", 0.1, -0.5}, {"adam", 0.1, 0.9}} {
		if _, err := NewOptimizer(c.name, c.lr, c.mom); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("NewOptimizer(%q, %v, %v) error %v, want ErrParam", c.name, c.lr, c.mom, err)
		}
	}
}

// linesModel returns a tiny model built for the lines dataset and its
// training and test sets.
func linesModel(t *testing.T) (*nn.Sequential, *data.Dataset, *data.Dataset) {
	t.Helper()
	train, test, err := data.Load("lines", data.Options{Seed: 3, N: 120})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Parse("conv(1,4,3) relu maxpool(2) flatten dense(196,2)")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(cpu.New(), train.Shape, 1); err != nil {
		t.Fatal(err)
	}
	return m, train, test
}

// TestTrain trains a tiny model on lines with decay and shifts and checks the
// schedule, the numbering of epochs and steps, and that it learns.
func TestTrain(t *testing.T) {
	m, train, test := linesModel(t)
	defer m.Free()
	opt := nn.NewAdam(tensor.AdamParams{LR: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	var lrs []float64
	var steps []nn.StepInfo
	cfg := TrainConfig{
		FitConfig: nn.FitConfig{Epochs: 4, BatchSize: 16, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Shuffle: true, Seed: 5,
			Validation: test,
			OnStep:     func(s nn.StepInfo) error { steps = append(steps, s); return nil },
			OnEpoch:    func(nn.EpochInfo) error { lrs = append(lrs, opt.LR); return nil }},
		LRDecay: 0.5,
		Shift:   1,
	}
	hist, err := Train(m, train, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 4 {
		t.Fatalf("%d epochs of history, want 4", len(hist))
	}
	for i, h := range hist {
		if h.Epoch != i+1 || h.Epochs != 4 {
			t.Errorf("history %d says epoch %d of %d", i, h.Epoch, h.Epochs)
		}
	}
	if want := []float64{0.03, 0.015, 0.0075, 0.00375}; !slices.Equal(lrs, want) {
		t.Errorf("learning rates seen after each epoch %v, want %v", lrs, want)
	}
	if len(steps) != 4*6 || steps[len(steps)-1].Epoch != 4 || steps[len(steps)-1].Epochs != 4 || steps[7].Step != 2 {
		t.Errorf("step callbacks: %d, last %+v", len(steps), steps[len(steps)-1])
	}
	t.Logf("lines: validation accuracy per epoch %.3f %.3f %.3f %.3f", hist[0].ValAccuracy, hist[1].ValAccuracy, hist[2].ValAccuracy, hist[3].ValAccuracy)
	if last := hist[len(hist)-1]; last.ValAccuracy < 0.9 {
		t.Errorf("validation accuracy %.3f after 4 epochs on lines, want ≥ 0.9", last.ValAccuracy)
	}
	if opt.Steps != 4*6 {
		t.Errorf("optimizer took %d steps, want %d", opt.Steps, 4*6)
	}
}

// TestTrainResume checks that a Train run with a learning-rate decay and
// shifts (the cnn and lenet5 presets' settings) checkpoints and resumes: a
// run stopped after epoch 2 and resumed from its checkpoint ends with the
// weights and history of an uninterrupted one, bit for bit.
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	run := func(ckpt string, resume *nn.TrainState, stopAfter int) (map[string]nn.HostTensor, []nn.EpochInfo) {
		m, train, test := linesModel(t)
		defer m.Free()
		opt := nn.NewAdam(tensor.AdamParams{LR: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
		defer opt.Close()
		hist, err := Train(m, train, TrainConfig{
			FitConfig: nn.FitConfig{Epochs: 4, BatchSize: 16, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Shuffle: true, Seed: 5,
				Validation: test, Checkpoint: ckpt, Resume: resume,
				OnEpoch: func(e nn.EpochInfo) error {
					if e.Epoch == stopAfter {
						return nn.ErrStop
					}
					return nil
				}},
			LRDecay: 0.5, Shift: 1})
		if err != nil {
			t.Fatal(err)
		}
		if stopAfter == 0 && opt.LR != 0.03*0.125 {
			t.Errorf("optimizer rate %g after 4 epochs, expected the last epoch's %g", opt.LR, 0.03*0.125)
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		return sd, hist
	}
	whole, wholeHist := run(filepath.Join(dir, "whole.ckpt"), nil, 0)
	part := filepath.Join(dir, "part.ckpt")
	if _, h := run(part, nil, 2); len(h) != 2 {
		t.Fatalf("interrupted run trained %d epochs, expected 2", len(h))
	}
	st, err := nn.ReadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	resumed, resumedHist := run(part, st, 0)
	if len(resumedHist) != 4 || len(wholeHist) != 4 {
		t.Fatalf("%d epochs resumed, %d uninterrupted, expected 4", len(resumedHist), len(wholeHist))
	}
	for i := range wholeHist {
		w, r := wholeHist[i], resumedHist[i]
		if w.Loss != r.Loss || w.ValLoss != r.ValLoss || w.Accuracy != r.Accuracy {
			t.Errorf("epoch %d: resumed %+v, uninterrupted %+v", i+1, r, w)
		}
	}
	if len(whole) == 0 || len(whole) != len(resumed) {
		t.Fatalf("%d tensors uninterrupted, %d resumed", len(whole), len(resumed))
	}
	for name, h := range whole {
		if !reflect.DeepEqual(h, resumed[name]) {
			t.Errorf("%s differs between the resumed and the uninterrupted run", name)
		}
	}
}

// TestTrainFlip checks that Flip mirrors images only on a FlipInvariant
// dataset: on lines (where a mirrored line changes class) it trains exactly
// as without it, on the same data marked invariant it takes another path,
// and the caller's Transforms array is left as it was.
func TestTrainFlip(t *testing.T) {
	run := func(flip, invariant bool) map[string]nn.HostTensor {
		m, train, _ := linesModel(t)
		defer m.Free()
		train.FlipInvariant = invariant
		opt := nn.NewSGD(tensor.SGDParams{LR: 0.1})
		defer opt.Close()
		own := make([]nn.Transform, 0, 4)
		cfg := TrainConfig{FitConfig: nn.FitConfig{Epochs: 1, BatchSize: 16, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
			Shuffle: true, Seed: 3, Transforms: own}, Flip: flip}
		if _, err := Train(m, train, cfg); err != nil {
			t.Fatal(err)
		}
		if own[:cap(own)][0] != nil {
			t.Error("Train wrote into the caller's Transforms array")
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	plain := run(false, false)
	if !reflect.DeepEqual(run(true, false), plain) {
		t.Error("Flip changed training on a dataset that is not FlipInvariant")
	}
	if reflect.DeepEqual(run(true, true), plain) {
		t.Error("Flip on a FlipInvariant dataset trained exactly as without it")
	}
}

// TestTrainStop checks that a callback ends training early like in Fit.
func TestTrainStop(t *testing.T) {
	m, train, _ := linesModel(t)
	defer m.Free()
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.1})
	defer opt.Close()
	cfg := TrainConfig{FitConfig: nn.FitConfig{Epochs: 5, BatchSize: 32, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
		OnEpoch: func(e nn.EpochInfo) error {
			if e.Epoch == 2 {
				return nn.ErrStop
			}
			return nil
		}}, LRDecay: 0.5}
	hist, err := Train(m, train, cfg)
	if err != nil || len(hist) != 2 {
		t.Errorf("stopped run: %d epochs, error %v; want 2, nil", len(hist), err)
	}
	boom := errors.New("boom")
	cfg.OnEpoch = func(nn.EpochInfo) error { return boom }
	if hist, err := Train(m, train, cfg); !errors.Is(err, boom) || len(hist) != 1 {
		t.Errorf("failing callback: %d epochs, error %v; want 1, boom", len(hist), err)
	}
}

func TestTrainErrors(t *testing.T) {
	m, train, _ := linesModel(t)
	defer m.Free()
	base := TrainConfig{FitConfig: nn.FitConfig{Epochs: 1, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1})}}
	for name, c := range map[string]func(*TrainConfig){
		"zero epochs":    func(c *TrainConfig) { c.Epochs = 0 },
		"negative decay": func(c *TrainConfig) { c.LRDecay = -0.5 },
		"NaN decay":      func(c *TrainConfig) { c.LRDecay = math.NaN() },
		"negative shift": func(c *TrainConfig) { c.Shift = -1 },
		"huge shift":     func(c *TrainConfig) { c.Shift = 16 },
		"decay, custom optimizer": func(c *TrainConfig) {
			c.LRDecay = 0.5
			c.Optimizer = struct{ nn.Optimizer }{c.Optimizer}
		},
	} {
		cfg := base
		c(&cfg)
		if _, err := Train(m, train, cfg); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("%s: error %v, want ErrParam", name, err)
		}
	}
	if _, err := Train(nn.NewSequential(nn.ReLU()), train, base); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("unbuilt model: error %v, want ErrNotBuilt", err)
	}
	if _, err := Train(m, &data.Dataset{Images: make([]float32, 5), Labels: []int{0}}, base); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("bad dataset: error %v, want ErrShape", err)
	}
}
