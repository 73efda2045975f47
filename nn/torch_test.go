package nn_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/internal/torchtest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// torchTwinScript reads vkcnn's safetensors file with json, struct and
// torch.frombuffer (the safetensors package is not needed), checks that its
// metadata says format "pt", loads it strictly into the PyTorch module that
// MODEL builds, compares outputs in eval mode, checks that integer buffers
// are int64, and saves its own (trained a few steps, so running statistics
// differ from the defaults) for the reverse check.
const torchTwinScript = `
import json, struct, sys
import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
d = sys.argv[1]
DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NP = {torch.float32: "<f4", torch.float64: "<f8", torch.int64: "<i8"}
CODE = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}

def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    sd = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        sd[name] = torch.frombuffer(bytearray(body[b:end]), dtype=DT[e["dtype"]]).reshape(e["shape"])
    assert header.get("__metadata__", {}).get("format") == "pt", header.get("__metadata__")
    return sd

def save(path, sd):
    header, chunks, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(sd):
        t = sd[name].detach().contiguous()
        raw = t.numpy().astype(NP[t.dtype]).tobytes()
        header[name] = {"dtype": CODE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        chunks.append(raw)
    js = json.dumps(header).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(chunks))

class Block(nn.Module):
    def __init__(self, body, shortcut=()):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)
    def forward(self, x):
        return self.body(x) + self.shortcut(x)

class GAP(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))

def model():
    return MODEL

x = torch.from_numpy(np.load(d + "/x.npy"))
m = model()
sd = load(d + "/vk.safetensors")
m.load_state_dict(sd, strict=True)
for k, v in m.state_dict().items():
    assert v.dtype == sd[k].dtype, (k, v.dtype, sd[k].dtype)
m.eval()
with torch.no_grad():
    diff = (m(x) - torch.from_numpy(np.load(d + "/vk_out.npy"))).abs().max().item()
print("vkcnn -> torch: max abs diff %.3g" % diff)
assert diff < 1e-5, diff

torch.manual_seed(0)
m = model()
m.train()
with torch.no_grad():
    for _ in range(3):
        m(torch.randn(x.shape) * 2 + 0.5)
m.eval()
save(d + "/torch.safetensors", m.state_dict())
with torch.no_grad():
    np.save(d + "/torch_out.npy", m(x).numpy())
print("ok")
`

// torchTwin moves the weights (and buffers) of the model spec both ways
// between vkcnn and the PyTorch module built by the Python expression
// pyModel, comparing eval-mode outputs on input shape in.
func torchTwin(t *testing.T, spec string, in tensor.Shape, pyModel string) {
	t.Helper()
	torchtest.Require(t)
	b := cpu64(t)
	dir := t.TempDir()
	build := func(seed uint64) *nn.Sequential {
		return buildModel(t, b, tensor.Float32, spec, in, seed)
	}
	m := build(11)
	n := 3
	x := upload(t, b, tensor.Float32, append(tensor.Shape{n}, in...), randn(5, n*in.Len()))
	// A few training forwards so running statistics leave their defaults.
	m.SetTraining(true)
	for i := range 3 {
		xt := upload(t, b, tensor.Float32, append(tensor.Shape{n}, in...), randn(uint64(20+i), n*in.Len()))
		if _, err := m.Forward(xt); err != nil {
			t.Fatal(err)
		}
	}
	m.SetTraining(false)
	xh, _ := nn.ToHost(x)
	y, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	yh, _ := nn.ToHost(y)
	for name, h := range map[string]nn.HostTensor{"x.npy": xh, "vk_out.npy": yh} {
		if err := nn.SaveNpy(filepath.Join(dir, name), h); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.SaveSafetensors(filepath.Join(dir, "vk.safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Logf("python: %s", torchtest.Run(t, strings.Replace(torchTwinScript, "MODEL\n", pyModel+"\n", 1), dir))
	back := build(12)
	if err := back.LoadSafetensors(filepath.Join(dir, "torch.safetensors")); err != nil {
		t.Fatal(err)
	}
	file, _, err := nn.ReadSafetensors(filepath.Join(dir, "torch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := back.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "torch's state dict read back", file, sd)
	for name, h := range file {
		if _, isInt := h.Data.([]int64); isInt != strings.HasSuffix(name, "num_batches_tracked") {
			t.Errorf("torch's %s holds %T", name, h.Data)
		}
	}
	want, err := nn.LoadNpy(filepath.Join(dir, "torch_out.npy"))
	if err != nil {
		t.Fatal(err)
	}
	got := output(t, back, x)
	worst := 0.0
	for i, w := range want.Float64s() {
		worst = max(worst, math.Abs(got[i]-w))
	}
	t.Logf("torch -> vkcnn: max abs diff %.3g", worst)
	if worst > 1e-5 || len(got) != want.Shape.Len() {
		t.Errorf("torch's weights give outputs %v in vkcnn, torch gave %v (max diff %.3g)", got, want.Float64s(), worst)
	}
	// LoadModel rebuilds the model from vkcnn's own file.
	lm, err := nn.LoadModel(filepath.Join(dir, "vk.safetensors"), b)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Free()
	if lm.String() != m.String() {
		t.Errorf("LoadModel gave %q, expected %q", lm, m)
	}
	again := output(t, lm, x)
	for i, v := range yh.Float64s() {
		if again[i] != v {
			t.Fatalf("LoadModel's output %v differs from the saved model's %v", again, yh.Float64s())
		}
	}
}

// TestTorchResidual checks that a module with body and shortcut submodules
// loads vkcnn's residual blocks strictly, and the reverse.
func TestTorchResidual(t *testing.T) {
	torchTwin(t, "conv(1,4,3,p1) relu residual[conv(4,4,3,p1) relu conv(4,4,3,p1)] relu residual[conv(4,6,3,s2,p1) tanh | conv(4,6,1,s2,nobias)] gap dense(6,3)",
		tensor.Shape{1, 6, 6},
		`nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
        Block([nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)]), nn.ReLU(),
        Block([nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.Tanh()], [nn.Conv2d(4, 6, 1, stride=2, bias=False)]),
        GAP(), nn.Linear(6, 3))`)
}

// TestTorchBatchNorm checks BatchNorm2D and BatchNorm1D (running statistics
// and the int64 num_batches_tracked) in a ResNet-style model both ways with
// torch.nn.BatchNorm2d/1d.
func TestTorchBatchNorm(t *testing.T) {
	torchTwin(t, "conv(1,4,3,p1,nobias) batchnorm2d(4) relu residual[conv(4,4,3,p1,nobias) batchnorm2d(4) relu conv(4,4,3,p1,nobias) batchnorm2d(4)] relu residual[conv(4,6,3,s2,p1,nobias) batchnorm2d(6) | conv(4,6,1,s2,nobias) batchnorm2d(6)] relu gap dense(6,5) batchnorm1d(5)",
		tensor.Shape{1, 6, 6},
		`nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        Block([nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)]), nn.ReLU(),
        Block([nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6)], [nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6)]), nn.ReLU(),
        GAP(), nn.Linear(6, 5), nn.BatchNorm1d(5))`)
}

// TestTorchInterop moves weights both ways between vkcnn and PyTorch with
// interopSpec (rectangular kernels, padding, strides, dilation, groups,
// pooling, dropout and softmax) through torchTwin. It skips without PyTorch
// (fails with VKCNN_REQUIRE_TORCH=1, see internal/torchtest);
// TestSafetensorsRoundTrip checks the layout without Python.
func TestTorchInterop(t *testing.T) {
	torchTwin(t, interopSpec, tensor.Shape{1, 8, 8},
		`nn.Sequential(
        nn.Conv2d(1, 4, (3, 5), padding=(1, 2)), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=False), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(24, 5), nn.Dropout(0.5), nn.Softmax(dim=1))`)
}
