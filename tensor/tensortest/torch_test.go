package tensortest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// These tests check the suite's references against PyTorch, so that the
// conformance suite holds every backend to torch's semantics. They run
// /usr/bin/python3 and skip when it cannot import torch.

const python = "/usr/bin/python3"

// runTorch runs script with /usr/bin/python3, passing in as JSON in the file
// named by sys.argv[1]; the script writes its results as JSON to sys.argv[2],
// which runTorch decodes into out. It skips t when torch is missing.
func runTorch(t *testing.T, script string, in, out any) {
	t.Helper()
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", python, err)
	}
	dir := t.TempDir()
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	inPath, outPath, pyPath := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json"), filepath.Join(dir, "ref.py")
	if err := os.WriteFile(inPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pyPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(python, pyPath, inPath, outPath).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, msg)
	}
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
