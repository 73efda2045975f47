package nn_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/torchtest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestSchedulesMatchTorch compares OneCycleLR and CosineLR (no warmup) with
// torch.optim.lr_scheduler's rates, step by step.
func TestSchedulesMatchTorch(t *testing.T) {
	const total = 23
	script := fmt.Sprintf(`
import json, torch
def rates(make, per=1):
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=0.1)
    s = make(o)
    out = []
    for i in range(%d):
        out.append(o.param_groups[0]["lr"])
        o.step()
        if (i + 1) %% per == 0:
            s.step()
    return out
print(json.dumps({
  "onecycle": rates(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=%d, cycle_momentum=False)),
  "onecycle2": rates(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=%d, pct_start=0.5, div_factor=10, final_div_factor=100, cycle_momentum=False)),
  "cosine": rates(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=%d, eta_min=0.001)),
  "step": rates(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)),
  "exponential": rates(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7), 4),
}))`, total, total, total, total)
	out := torchtest.Run(t, script)
	var want map[string][]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, s := range map[string]nn.Schedule{
		"onecycle":  nn.OneCycleLR{MaxLR: 0.4},
		"onecycle2": nn.OneCycleLR{MaxLR: 1, PctStart: 0.5, DivFactor: 10, FinalDivFactor: 100},
		"cosine":    nn.CosineLR{LR: 0.1, MinLR: 0.001},
		"step":      nn.StepLR{LR: 0.1, Every: 5, Gamma: 0.5},
		// stepped once per epoch of 4 steps, as Fit binds it
		"exponential": nn.ExponentialLR{LR: 0.1, Gamma: 0.7}.PerEpoch(4),
	} {
		if err := s.Validate(total); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(want[name]) != total {
			t.Fatalf("%s: torch gave %d rates", name, len(want[name]))
		}
		for i, w := range want[name] {
			if got := s.Rate(i, total); math.Abs(got-w) > 1e-12*math.Max(1, math.Abs(w)) {
				t.Errorf("%s step %d: rate %.17g, torch %.17g", name, i, got, w)
			}
		}
	}
}

func TestScheduleWarmupAndValidation(t *testing.T) {
	s := nn.CosineLR{LR: 1, MinLR: 0.1, Warmup: 4}
	for i, want := range []float64{0.25, 0.5, 0.75, 1} {
		if got := s.Rate(i, 14); math.Abs(got-want) > 1e-15 {
			t.Errorf("warmup step %d: %g, expected %g", i, got, want)
		}
	}
	if got := s.Rate(9, 14); math.Abs(got-0.55) > 1e-12 {
		t.Errorf("cosine midpoint %g, expected 0.55", got)
	}
	if got := s.Rate(14, 14); math.Abs(got-0.1) > 1e-12 {
		t.Errorf("end %g, expected MinLR 0.1", got)
	}
	for _, bad := range []nn.Schedule{nn.CosineLR{LR: 1, Warmup: 14}, nn.CosineLR{LR: -1}, nn.CosineLR{LR: 1, MinLR: 2},
		nn.StepLR{LR: 1, Gamma: 0.5}, nn.OneCycleLR{MaxLR: 1, PctStart: 1}, nn.OneCycleLR{}, nn.OneCycleLR{MaxLR: 1, PctStart: 0.01},
		nn.ExponentialLR{LR: 1}, nn.ExponentialLR{Gamma: 0.5}, nn.ExponentialLR{LR: 1, Gamma: 0.5, EpochSteps: -1}, nn.ExponentialLR{LR: 1, Gamma: math.Inf(1)}} {
		if err := bad.Validate(14); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("%+v: Validate gave %v, expected ErrParam", bad, err)
		}
	}
}

// TestFitExponentialPerEpoch checks that Fit steps an ExponentialLR once per
// epoch: every step of epoch e (0-based) has the rate LR·Gamma^e, also when
// the last batch of an epoch is short, and that a set EpochSteps is kept.
func TestFitExponentialPerEpoch(t *testing.T) {
	m := blobModel(t, cpu64(t), tensor.Float64)
	opt := nn.NewSGD(tensor.SGDParams{LR: 123})
	defer opt.Close()
	for _, c := range []struct {
		s     nn.ExponentialLR
		epoch int // steps per epoch the rates follow
	}{{nn.ExponentialLR{LR: 0.1, Gamma: 0.5}, 4}, {nn.ExponentialLR{LR: 0.1, Gamma: 0.5, EpochSteps: 2}, 2}} {
		var got []float64
		_, err := m.Fit(blobs(30, 1), nn.FitConfig{Epochs: 3, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Schedule: c.s,
			OnStep: func(si nn.StepInfo) error {
				if si.LR != opt.LR {
					return fmt.Errorf("step %d: info LR %g, optimizer LR %g", len(got), si.LR, opt.LR)
				}
				got = append(got, si.LR)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 12 {
			t.Fatalf("%d steps, expected 12", len(got))
		}
		for i, lr := range got {
			if want := 0.1 * math.Pow(0.5, float64(i/c.epoch)); lr != want {
				t.Errorf("%+v step %d: rate %g, expected %g", c.s, i, lr, want)
			}
		}
	}
}

// TestFitSchedulesEveryStep checks that Fit sets the schedule's rate before
// each step and reports it.
func TestFitSchedulesEveryStep(t *testing.T) {
	m := blobModel(t, cpu64(t), tensor.Float64)
	opt := nn.NewSGD(tensor.SGDParams{LR: 123, Momentum: 0.9})
	defer opt.Close()
	s := nn.OneCycleLR{MaxLR: 0.1}
	step := 0
	_, err := m.Fit(blobs(30, 1), nn.FitConfig{Epochs: 3, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Schedule: s,
		OnStep: func(si nn.StepInfo) error {
			if want := s.Rate(step, 12); si.LR != want || opt.LR != want {
				return fmt.Errorf("step %d: info LR %g, optimizer LR %g, expected %g", step, si.LR, opt.LR, want)
			}
			step++
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if step != 12 {
		t.Fatalf("%d steps, expected 12", step)
	}
}

// TestClipNorm checks that clipping bounds the global gradient norm and
// reports the norm before clipping: after an SGD step with rate 1 from a
// snapshot, the update's norm is min(norm, ClipNorm).
func TestClipNorm(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			for _, clip := range []float64{1e-3, 1e6} {
				m := blobModel(t, b, tb.dt)
				before := paramValues(t, m)
				opt := nn.NewSGD(tensor.SGDParams{LR: 1})
				var norm float64
				_, err := m.Fit(blobs(12, 1), nn.FitConfig{Epochs: 1, BatchSize: 12, Loss: nn.CrossEntropyLoss(), Optimizer: opt, ClipNorm: clip,
					OnStep: func(s nn.StepInfo) error { norm = s.GradNorm; return nil }})
				opt.Close()
				if err != nil {
					t.Fatal(err)
				}
				after := paramValues(t, m)
				var sq float64
				for i := range before {
					sq += (after[i] - before[i]) * (after[i] - before[i])
				}
				if !(norm > 0) {
					t.Fatalf("clip %g: reported gradient norm %v, expected > 0", clip, norm)
				}
				want := math.Min(norm, clip)
				if got := math.Sqrt(sq); math.Abs(got-want) > 1e-3*want {
					t.Errorf("clip %g: update norm %g, expected %g (gradient norm %g)", clip, got, want, norm)
				}
			}
		})
	}
}

func paramValues(t *testing.T, m *nn.Sequential) []float64 {
	t.Helper()
	var out []float64
	for _, p := range m.Params() {
		v, err := p.Get()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v...)
	}
	return out
}

// TestLabelSmoothingLoss checks the reported training loss against
// (1−ε)·CE + ε·mean_c(−log p_c) computed on the host from the outputs.
func TestLabelSmoothingLoss(t *testing.T) {
	b := cpu64(t)
	m := blobModel(t, b, tensor.Float64)
	d := blobs(9, 4)
	const eps = 0.2
	preds, err := m.Predict(d.Images, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for i, p := range preds {
		ce, mean := -math.Log(p.Probs[d.Labels[i]]), 0.0
		for _, q := range p.Probs {
			mean -= math.Log(q) / float64(len(p.Probs))
		}
		want += ((1-eps)*ce + eps*mean) / float64(len(preds))
	}
	opt := nn.NewSGD(tensor.SGDParams{LR: 0})
	defer opt.Close()
	hist, err := m.Fit(d, nn.FitConfig{Epochs: 1, BatchSize: 9, Loss: nn.CrossEntropyLoss(), Optimizer: opt, LabelSmoothing: eps})
	if err != nil {
		t.Fatal(err)
	}
	if got := hist[0].Loss; math.Abs(got-want) > 1e-12 {
		t.Fatalf("smoothed loss %.15g, expected %.15g", got, want)
	}
	single, err := nn.Parse("flatten dense(36,1) sigmoid")
	if err != nil {
		t.Fatal(err)
	}
	if err := single.Build(b, tensor.Shape{1, 6, 6}, 1); err != nil {
		t.Fatal(err)
	}
	defer single.Free()
	_, err = single.Fit(&data.Dataset{Images: d.Images, Labels: make([]int, 9)}, nn.FitConfig{Epochs: 1, BatchSize: 9, Loss: nn.BCELoss(), Optimizer: opt, LabelSmoothing: eps})
	if !errors.Is(err, tensor.ErrParam) {
		t.Fatalf("label smoothing on a single output gave %v, expected ErrParam", err)
	}
}

// TestFitDiverges checks that a huge learning rate stops Fit with
// ErrDiverged naming the epoch and step, before the diverged update.
func TestFitDiverges(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			m := blobModel(t, tb.open(t), tb.dt)
			opt := nn.NewSGD(tensor.SGDParams{LR: 1e30})
			defer opt.Close()
			_, err := m.Fit(blobs(60, 1), nn.FitConfig{Epochs: 3, BatchSize: 6, Loss: nn.CrossEntropyLoss(), Optimizer: opt})
			if !errors.Is(err, nn.ErrDiverged) {
				t.Fatalf("Fit gave %v, expected ErrDiverged", err)
			}
			for _, s := range []string{"fit: epoch ", " step ", "lower learning rate", "1e+30"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			for _, v := range paramValues(t, m) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("parameters hold %v after the diverged step, expected the last finite values", v)
				}
			}
		})
	}
}

// TestFitDivergeRatio checks FitConfig.DivergeRatio on a run whose loss
// explodes while staying finite (SGD at rate 100 on blobs: 1.73, then 365,
// then between 11 and 55): ratio 100 stops it at step 2 before that step's
// update, with the parameters of step 1; ratio 1000 and 0 let it run; the
// checkpoint keeps the first step's loss for a resumed run; a negative or
// NaN ratio is a tensor.ErrParam error.
func TestFitDivergeRatio(t *testing.T) {
	run := func(ratio float64, stopAt int, ckpt string) (map[string]nn.HostTensor, []float64, error) {
		m := blobModel(t, cpu64(t), tensor.Float64)
		opt := nn.NewSGD(tensor.SGDParams{LR: 100})
		defer opt.Close()
		var losses []float64
		_, err := m.Fit(blobs(60, 1), nn.FitConfig{Epochs: 3, BatchSize: 6, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
			DivergeRatio: ratio, Checkpoint: ckpt,
			OnStep: func(s nn.StepInfo) error {
				losses = append(losses, s.Loss)
				if len(losses) == stopAt {
					return nn.ErrStop
				}
				return nil
			}})
		sd, serr := m.StateDict()
		if serr != nil {
			t.Fatal(serr)
		}
		return sd, losses, err
	}
	ckpt := filepath.Join(t.TempDir(), "run.ckpt")
	_, free, err := run(0, 0, ckpt)
	if err != nil || len(free) != 30 || !(free[1] > 100*free[0]) || slices.Max(free[2:]) > 1000*free[0] {
		t.Fatalf("unguarded run: %v, losses %v; expected 30 finite losses, the second over 100 times the first, none over 1000 times", err, free)
	}
	st, err := nn.ReadCheckpoint(ckpt)
	if err != nil || st.FirstLoss != free[0] {
		t.Fatalf("checkpoint first loss %v (%v), expected %v", st.FirstLoss, err, free[0])
	}
	if _, _, err := run(1000, 0, ""); err != nil {
		t.Errorf("ratio 1000: %v, expected no error", err)
	}
	stopped, _, err := run(100, 0, "")
	if !errors.Is(err, nn.ErrDiverged) {
		t.Fatalf("ratio 100: %v, expected ErrDiverged", err)
	}
	for _, s := range []string{"epoch 1 step 2", "DivergeRatio 100", "lower learning rate", "keep the values of the step before"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	first, _, err := run(0, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "weights after the stopped step", first, stopped)
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, _, err := run(bad, 0, ""); !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "DivergeRatio") {
			t.Errorf("ratio %v: %v, expected an ErrParam error naming DivergeRatio", bad, err)
		}
	}
}

// TestEarlyStopping trains against a validation set with the opposite
// labels, so the validation loss rises from the first epoch: Fit must stop
// after Patience more epochs and restore the first epoch's weights.
func TestEarlyStopping(t *testing.T) {
	m := blobModel(t, cpu64(t), tensor.Float64)
	train := blobs(60, 1)
	val := blobs(60, 1)
	for i := range val.Labels {
		val.Labels[i] = (val.Labels[i] + 1) % 3
	}
	opt := nn.NewAdam(tensor.AdamParams{LR: 0.02, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	var first map[string]nn.HostTensor
	hist, err := m.Fit(train, nn.FitConfig{Epochs: 20, BatchSize: 10, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Validation: val, Patience: 2,
		OnEpoch: func(e nn.EpochInfo) error {
			if e.Epoch == 1 {
				sd, err := m.StateDict()
				first = sd
				return err
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, e := range hist {
		if e.ValLoss < hist[best].ValLoss {
			best = i
		}
	}
	if len(hist) != best+3 {
		t.Fatalf("trained %d epochs with the best at epoch %d, expected to stop 2 epochs after it (history %+v)", len(hist), best+1, hist)
	}
	if best != 0 {
		t.Fatalf("best validation epoch %d, expected 1 on the flipped labels", best+1)
	}
	got, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range first {
		if fmt.Sprint(h.Data) != fmt.Sprint(got[name].Data) {
			t.Fatalf("%s differs from the best epoch's weights", name)
		}
	}
	if _, err := m.Fit(train, nn.FitConfig{Epochs: 1, BatchSize: 10, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Patience: 1}); !errors.Is(err, tensor.ErrParam) {
		t.Fatalf("Patience without Validation gave %v, expected ErrParam", err)
	}
}

// TestResumeBitIdentical stops a run after epoch 2, resumes it from the
// checkpoint in a new model and optimizer and checks that the final weights,
// optimizer state and history equal those of an uninterrupted run bit for
// bit (dropout, shuffling, augmentation, schedule, clipping, smoothing and
// Adam all on).
func TestResumeBitIdentical(t *testing.T) {
	b := cpu64(t)
	dir := t.TempDir()
	train, val := blobs(50, 1), blobs(20, 2)
	spec := "conv(1,4,3,p1) batchnorm2d(4) relu residual[conv(4,4,3,p1,nobias) batchnorm2d(4)] maxpool(2) flatten dropout(0.3) dense(36,3)"
	run := func(ckpt string, resume *nn.TrainState, stopAfter int) (*nn.Sequential, *nn.Adam, []nn.EpochInfo) {
		m, err := nn.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Build(b, tensor.Shape{1, 6, 6}, 7); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Free() })
		opt := nn.NewAdam(tensor.AdamParams{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4})
		t.Cleanup(func() { opt.Close() })
		hist, err := m.Fit(train, nn.FitConfig{Epochs: 5, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
			Shuffle: true, Seed: 3, Validation: val, Schedule: nn.CosineLR{LR: 0.02, Warmup: 5}, ClipNorm: 0.5,
			LabelSmoothing: 0.1, Patience: 10, Checkpoint: ckpt, Resume: resume, Augment: nn.RandomShift(1),
			OnEpoch: func(e nn.EpochInfo) error {
				if e.Epoch == stopAfter {
					return nn.ErrStop
				}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return m, opt, hist
	}
	whole, wholeOpt, wholeHist := run(filepath.Join(dir, "whole.ckpt"), nil, 0)
	part := filepath.Join(dir, "part.ckpt")
	_, _, partHist := run(part, nil, 2)
	if len(partHist) != 2 {
		t.Fatalf("interrupted run trained %d epochs, expected 2", len(partHist))
	}
	st, err := nn.ReadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 2 || st.Step != 14 || len(st.History) != 2 {
		t.Fatalf("checkpoint at epoch %d step %d with %d history entries, expected 2, 14, 2", st.Epoch, st.Step, len(st.History))
	}
	resumed, resumedOpt, resumedHist := run(part, st, 0)
	if len(resumedHist) != 5 {
		t.Fatalf("resumed history has %d epochs, expected 5", len(resumedHist))
	}
	for i := range wholeHist {
		w, r := wholeHist[i], resumedHist[i]
		w.Duration, r.Duration = 0, 0
		if math.Float64bits(w.Loss) != math.Float64bits(r.Loss) || math.Float64bits(w.ValLoss) != math.Float64bits(r.ValLoss) || w.Accuracy != r.Accuracy {
			t.Errorf("epoch %d: resumed %+v, uninterrupted %+v", i+1, r, w)
		}
	}
	a, err := whole.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	c, err := resumed.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "weights", a, c)
	ao, err := wholeOpt.State(whole.Params())
	if err != nil {
		t.Fatal(err)
	}
	co, err := resumedOpt.State(resumed.Params())
	if err != nil {
		t.Fatal(err)
	}
	if ao.Steps != co.Steps || ao.Steps != 35 {
		t.Fatalf("Adam steps %d resumed, %d uninterrupted, expected 35", co.Steps, ao.Steps)
	}
	sameBits(t, "Adam moments", ao.Tensors, co.Tensors)
	// A checkpoint of another model is refused.
	other := blobModel(t, b, tensor.Float32)
	opt := nn.NewAdam(tensor.DefaultAdam())
	defer opt.Close()
	if _, err := other.Fit(train, nn.FitConfig{Epochs: 5, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Resume: st}); !errors.Is(err, tensor.ErrParam) {
		t.Fatalf("resuming another model gave %v, expected ErrParam", err)
	}
	// A file that is not a checkpoint is refused.
	if err := whole.SaveSafetensors(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	if _, err := nn.ReadCheckpoint(filepath.Join(dir, "model.safetensors")); !errors.Is(err, nn.ErrFormat) {
		t.Fatalf("reading a model file as a checkpoint gave %v, expected ErrFormat", err)
	}
	if _, err := nn.ReadCheckpoint(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading a missing checkpoint gave %v, expected ErrNotExist", err)
	}
}

// sameBits fails unless a and b hold the same tensors with identical bits.
func sameBits(t *testing.T, what string, a, b map[string]nn.HostTensor) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%s: %d tensors vs %d", what, len(a), len(b))
	}
	for name, h := range a {
		x, y := h.Float64s(), b[name].Float64s()
		if len(x) != len(y) {
			t.Fatalf("%s %s: %d values vs %d", what, name, len(x), len(y))
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				t.Fatalf("%s %s[%d]: %v vs %v, expected identical bits", what, name, i, x[i], y[i])
			}
		}
	}
}

// TestResidualFitsEveryBackend trains a small residual model with batch
// normalization on each backend and checks that CPU float32 and Vulkan give
// the same first-epoch loss.
func TestResidualFitsEveryBackend(t *testing.T) {
	losses := map[string]float64{}
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			m, err := nn.Parse("conv(1,4,3,p1,nobias) batchnorm2d(4) relu residual[conv(4,4,3,p1,nobias) batchnorm2d(4) relu conv(4,4,3,p1)] relu residual[conv(4,6,3,s2,p1) relu | conv(4,6,1,s2,nobias) batchnorm2d(6)] relu gap dense(6,3)")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.BuildDType(tb.open(t), tb.dt, tensor.Shape{1, 6, 6}, 3); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			opt := nn.NewAdam(tensor.AdamParams{LR: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
			defer opt.Close()
			val := blobs(30, 2)
			hist, err := m.Fit(blobs(90, 1), nn.FitConfig{Epochs: 8, BatchSize: 10, Loss: nn.CrossEntropyLoss(), Optimizer: opt, Shuffle: true, Seed: 1, Validation: val})
			if err != nil {
				t.Fatal(err)
			}
			losses[tb.name] = hist[0].Loss
			if last := hist[len(hist)-1]; last.ValAccuracy < 0.9 {
				t.Errorf("validation accuracy %.3f after %d epochs, expected ≥ 0.9 (history %+v)", last.ValAccuracy, len(hist), hist)
			}
		})
	}
	if c, v := losses["cpu-float32"], losses["vulkan-float32"]; v != 0 && math.Abs(c-v) > 1e-4*c {
		t.Errorf("first-epoch loss %.7g on the CPU, %.7g on Vulkan", c, v)
	}
}
