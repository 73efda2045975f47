package tensortest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vkcnn/vkcnn/internal/torchtest"
	"github.com/vkcnn/vkcnn/tensor"
)

// These tests check the suite's references against PyTorch, so that the
// conformance suite holds every backend to torch's semantics. They skip
// without PyTorch (fail with VKCNN_REQUIRE_TORCH=1; see internal/torchtest).

// runTorch runs script with internal/torchtest, passing in as JSON in the file
// named by sys.argv[1]; the script writes its results as JSON to sys.argv[2],
// which runTorch decodes into out.
func runTorch(t *testing.T, script string, in, out any) {
	t.Helper()
	torchtest.Require(t)
	dir := t.TempDir()
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	inPath, outPath := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(inPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	torchtest.Run(t, script, inPath, outPath)
	res, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("decode python's results: %v", err)
	}
}

// optimScript runs torch.optim.SGD and torch.optim.AdamW/Adam in float64 for
// the configurations and gradients it is given and returns the parameters
// after every step.
const optimScript = `
import json, sys
import torch
cfg = json.load(open(sys.argv[1]))
out = []
for c in cfg["cases"]:
    p = torch.nn.Parameter(torch.tensor(cfg["p0"], dtype=torch.float64))
    if c["kind"] == "sgd":
        opt = torch.optim.SGD([p], lr=c["lr"], momentum=c["momentum"], weight_decay=c["wd"], nesterov=c["nesterov"])
    elif c["decoupled"]:
        opt = torch.optim.AdamW([p], lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"], weight_decay=c["wd"])
    else:
        opt = torch.optim.Adam([p], lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"], weight_decay=c["wd"])
    steps = []
    for g in cfg["grads"]:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        steps.append(p.detach().tolist())
    out.append(steps)
json.dump(out, open(sys.argv[2], "w"))
`

// TestOptimizerReferencesMatchTorch runs refSGD and refAdam beside
// torch.optim.SGD (with and without Nesterov), Adam and AdamW for five steps in
// float64.
func TestOptimizerReferencesMatchTorch(t *testing.T) {
	r := newRand(0x7047)
	const n, steps = 7, 5
	p0 := awayFromZero(r, n)
	grads := make([][]float64, steps)
	for i := range grads {
		grads[i] = awayFromZero(r, n)
	}
	type tcase struct {
		Kind      string  `json:"kind"`
		LR        float64 `json:"lr"`
		Momentum  float64 `json:"momentum"`
		WD        float64 `json:"wd"`
		Nesterov  bool    `json:"nesterov"`
		Beta1     float64 `json:"beta1"`
		Beta2     float64 `json:"beta2"`
		Eps       float64 `json:"eps"`
		Decoupled bool    `json:"decoupled"`
		sgd       tensor.SGDParams
		adam      tensor.AdamParams
	}
	var cases []tcase
	for _, o := range []tensor.SGDParams{
		{LR: 0.1, Momentum: 0.9, Nesterov: true},
		{LR: 0.05, Momentum: 0.5, WeightDecay: 0.1, Nesterov: true},
		{LR: 0.05, Momentum: 0.5, WeightDecay: 0.1},
		{LR: 0.1, WeightDecay: 0.01},
	} {
		cases = append(cases, tcase{Kind: "sgd", LR: o.LR, Momentum: o.Momentum, WD: o.WeightDecay, Nesterov: o.Nesterov, sgd: o})
	}
	for _, o := range []tensor.AdamParams{
		tensor.DefaultAdamW(),
		{LR: 0.01, Beta1: 0.8, Beta2: 0.9, Eps: 0.1, WeightDecay: 0.5, Decoupled: true},
		{LR: 0.01, Beta1: 0.8, Beta2: 0.9, Eps: 0.1, WeightDecay: 0.5},
	} {
		cases = append(cases, tcase{Kind: "adam", LR: o.LR, WD: o.WeightDecay, Beta1: o.Beta1, Beta2: o.Beta2,
			Eps: o.Eps, Decoupled: o.Decoupled, adam: o})
	}
	in := map[string]any{"p0": p0, "grads": grads, "cases": cases}
	var out [][][]float64
	runTorch(t, optimScript, in, &out)
	if len(out) != len(cases) {
		t.Fatalf("torch returned %d cases, expected %d", len(out), len(cases))
	}
	for ci, c := range cases {
		p := append([]float64(nil), p0...)
		v, m := make([]float64, n), make([]float64, n)
		for s, g := range grads {
			var mag []float64
			if c.Kind == "sgd" {
				mag, _ = refSGD(p, g, v, c.sgd)
			} else {
				mag, _, _ = refAdam(p, g, m, v, c.adam, s+1)
			}
			compare(named(t, "%s %+v%+v step %d", c.Kind, c.sgd, c.adam, s+1), "parameter against torch",
				p, out[ci][s], mag, Tol{Rel: 1e-13})
		}
	}
}

// batchNormScript runs torch.nn.functional.batch_norm in float64, in training
// (with autograd for the gradients and torch.native_batch_norm for the saved
// mean and inverse std) and in evaluation.
const batchNormScript = `
import json, sys
import torch
import torch.nn.functional as F
cfg = json.load(open(sys.argv[1]))
out = []
t = lambda v, s=None: None if v is None else torch.tensor(v, dtype=torch.float64).reshape(s if s else [len(v)])
for c in cfg:
    x = t(c["x"], c["shape"]).requires_grad_()
    w, b = t(c["gamma"]), t(c["beta"])
    if w is not None:
        w.requires_grad_()
        b.requires_grad_()
    rm, rv = t(c["rmean"]), t(c["rvar"])
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=c["momentum"], eps=c["eps"])
    (y * t(c["dy"], c["shape"])).sum().backward()
    _, mean, invstd = torch.native_batch_norm(x.detach(), None if w is None else w.detach(), None if b is None else b.detach(),
        None, None, True, c["momentum"], c["eps"])
    r = {"y": y.detach().flatten().tolist(), "mean": mean.tolist(), "invstd": invstd.tolist(),
         "dx": x.grad.flatten().tolist()}
    if w is not None:
        r["dgamma"], r["dbeta"] = w.grad.tolist(), b.grad.tolist()
    if rm is not None:
        r["rmean"], r["rvar"] = rm.tolist(), rv.tolist()
        ey = F.batch_norm(x.detach(), t(c["rmean"]), t(c["rvar"]), None if w is None else w.detach(),
            None if b is None else b.detach(), training=False, eps=c["eps"])
        r["eval"] = ey.flatten().tolist()
    out.append(r)
json.dump(out, open(sys.argv[2], "w"))
`

// TestBatchNormReferencesMatchTorch runs refBatchNormTrain, refBatchNormEval
// and refBatchNormBackward beside torch.nn.functional.batch_norm and its
// autograd in float64: outputs, saved mean and inverse std, running
// statistics (unbiased variance) and the gradients of x, gamma and beta.
func TestBatchNormReferencesMatchTorch(t *testing.T) {
	r := newRand(0x7048)
	type tcase struct {
		Shape    []int     `json:"shape"`
		X        []float64 `json:"x"`
		DY       []float64 `json:"dy"`
		Gamma    []float64 `json:"gamma"`
		Beta     []float64 `json:"beta"`
		RMean    []float64 `json:"rmean"`
		RVar     []float64 `json:"rvar"`
		Eps      float64   `json:"eps"`
		Momentum float64   `json:"momentum"`
	}
	var cases []tcase
	for i, s := range [][]int{{4, 3}, {2, 3, 4, 5}, {1, 2, 3, 3}, {3, 2, 5}, {2, 4}} {
		n, ch := tensor.Shape(s).Len(), s[1]
		c := tcase{Shape: s, X: uniform(r, n, -2, 3), DY: uniform(r, n, -1, 1), Eps: 1e-5, Momentum: 0.1}
		if i != 3 {
			c.Gamma, c.Beta = uniform(r, ch, -2, 2), uniform(r, ch, -1, 1)
		}
		if i != 4 {
			c.RMean, c.RVar = uniform(r, ch, -1, 1), uniform(r, ch, 0.5, 2)
		}
		if i == 1 {
			c.Eps, c.Momentum = 1e-3, 0.3
		}
		cases = append(cases, c)
	}
	type result struct {
		Y, Mean, InvStd, DX, DGamma, DBeta, RMean, RVar, Eval []float64
	}
	var out []result
	runTorch(t, batchNormScript, cases, &out)
	if len(out) != len(cases) {
		t.Fatalf("torch returned %d cases, expected %d", len(out), len(cases))
	}
	tol := Tol{Rel: 1e-12}
	for i, c := range cases {
		st := named(t, "case %d x %v", i, c.Shape)
		s := tensor.Shape(c.Shape)
		g := bnGeom{outer: s[0], c: s[1], inner: s[2:].Len()}
		p := tensor.BatchNormParams{Eps: c.Eps, Momentum: c.Momentum}
		ref := refBatchNormTrain(g, c.X, c.Gamma, c.Beta, c.RMean, c.RVar, p)
		o := out[i]
		compare(st, "output", ref.y, o.Y, ref.yMag, tol)
		compare(st, "mean", ref.mean, o.Mean, ref.meanMag, tol)
		compare(st, "inverse std", ref.invStd, o.InvStd, nil, tol)
		bref := refBatchNormBackward(g, c.DY, c.X, c.Gamma, ref.mean, ref.invStd)
		compare(st, "input gradient", bref.dx, o.DX, bref.dxMag, tol)
		if c.Gamma != nil {
			compare(st, "gamma gradient", bref.dgamma, o.DGamma, bref.dgammaMag, tol)
			compare(st, "beta gradient", bref.dbeta, o.DBeta, bref.dbetaMag, tol)
		}
		if c.RMean != nil {
			compare(st, "running mean", ref.rMean, o.RMean, ref.rMeanMag, tol)
			compare(st, "running variance", ref.rVar, o.RVar, ref.rVarMag, tol)
			ey, eyMag := refBatchNormEval(g, c.X, c.Gamma, c.Beta, c.RMean, c.RVar, p)
			compare(st, "eval output", ey, o.Eval, eyMag, tol)
		}
	}
}

// activationScript evaluates torch's LeakyReLU (several slopes) and SiLU and
// their autograd gradients in float64.
const activationScript = `
import json, sys
import torch
import torch.nn.functional as F
cfg = json.load(open(sys.argv[1]))
x0, dy = torch.tensor(cfg["x"], dtype=torch.float64), torch.tensor(cfg["dy"], dtype=torch.float64)
out = {"leaky": [], "leaky_grad": []}
for s in cfg["slopes"]:
    x = x0.clone().requires_grad_()
    y = F.leaky_relu(x, negative_slope=s)
    (y * dy).sum().backward()
    out["leaky"].append(y.detach().tolist())
    out["leaky_grad"].append(x.grad.tolist())
x = x0.clone().requires_grad_()
y = F.silu(x)
(y * dy).sum().backward()
out["silu"], out["silu_grad"] = y.detach().tolist(), x.grad.tolist()
json.dump(out, open(sys.argv[2], "w"))
`

// TestActivationReferencesMatchTorch runs refLeakyReLU, refSiLU and their
// backward references beside torch.nn.functional.leaky_relu and silu with
// autograd, in float64, on the conformance suite's activation inputs (which
// include ±0, values near 0 and ±1000).
func TestActivationReferencesMatchTorch(t *testing.T) {
	x := activationInput(&harness{dt: tensor.Float64}, 200)
	dy := uniform(newRand(0xac9), len(x), -1, 1)
	slopes := []float64{0.01, 0.2, 0, -0.5}
	var out struct {
		Leaky     [][]float64 `json:"leaky"`
		LeakyGrad [][]float64 `json:"leaky_grad"`
		SiLU      []float64   `json:"silu"`
		SiLUGrad  []float64   `json:"silu_grad"`
	}
	runTorch(t, activationScript, map[string]any{"x": x, "dy": dy, "slopes": slopes}, &out)
	if len(out.Leaky) != len(slopes) || len(out.LeakyGrad) != len(slopes) {
		t.Fatalf("torch returned %d and %d leaky relu results, expected %d", len(out.Leaky), len(out.LeakyGrad), len(slopes))
	}
	tol := Tol{Rel: 1e-14}
	for k, s := range slopes {
		fwd, bwd := make([]float64, len(x)), make([]float64, len(x))
		for i, v := range x {
			fwd[i], bwd[i] = refLeakyReLU(v, s), refLeakyReLUBackward(dy[i], v, s)
		}
		st := named(t, "slope %v", s)
		compare(st, "leaky relu", fwd, out.Leaky[k], nil, exact)
		compare(st, "leaky relu gradient", bwd, out.LeakyGrad[k], nil, exact)
	}
	fwd, bwd, mag := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i, v := range x {
		fwd[i] = refSiLU(v)
		bwd[i], mag[i] = refSiLUBackward(dy[i], v)
	}
	compare(t, "silu", fwd, out.SiLU, nil, tol)
	compare(t, "silu gradient", bwd, out.SiLUGrad, mag, tol)
}
