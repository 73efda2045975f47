package nn_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/vkcnn/vkcnn/internal/torchtest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// torchScript reads vkcnn's safetensors file with json, struct and
// torch.frombuffer (the safetensors package is not needed), loads it strictly
// into the PyTorch twin of interopSpec, compares outputs, and writes a file of
// its own in the same layout for the reverse check.
const torchScript = `
import json, struct, sys
import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
d = sys.argv[1]
DT = {"F32": torch.float32, "F64": torch.float64}

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
    return sd, header.get("__metadata__", {})

def save(path, sd, meta):
    header, chunks, off = {"__metadata__": meta}, [], 0
    for name in sorted(sd):
        t = sd[name].detach().contiguous()
        raw = t.numpy().astype("<f4" if t.dtype == torch.float32 else "<f8").tobytes()
        header[name] = {"dtype": "F32" if t.dtype == torch.float32 else "F64", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        chunks.append(raw)
    js = json.dumps(header).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(chunks))

def model():
    return nn.Sequential(
        nn.Conv2d(1, 4, (3, 5), padding=(1, 2)), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2, bias=False), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(24, 5), nn.Dropout(0.5), nn.Softmax(dim=1)).eval()

x = torch.from_numpy(np.load(d + "/x.npy"))
sd, meta = load(d + "/vk.safetensors")
assert meta["format"] == "pt", meta
m = model()
m.load_state_dict(sd, strict=True)
with torch.no_grad():
    diff = (m(x) - torch.from_numpy(np.load(d + "/vk_out.npy"))).abs().max().item()
print("vkcnn -> torch: max abs diff %.3g" % diff)
assert diff < 1e-5, diff

torch.manual_seed(0)
m = model()
save(d + "/torch.safetensors", m.state_dict(), {"format": "pt"})
with torch.no_grad():
    np.save(d + "/torch_out.npy", m(x).numpy())
print("ok")
`

// TestTorchInterop moves weights both ways between vkcnn and PyTorch. It
// skips without PyTorch (fails with VKCNN_REQUIRE_TORCH=1, see
// internal/torchtest); TestSafetensorsRoundTrip checks the layout without
// Python.
func TestTorchInterop(t *testing.T) {
	torchtest.Require(t)
	b := cpu64(t)
	dir := t.TempDir()
	m := buildInterop(t, b, tensor.Float32, 11)
	xs := randn(5, 3*64)
	x := upload(t, b, tensor.Float32, tensor.Shape{3, 1, 8, 8}, xs)
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
	t.Logf("python: %s", torchtest.Run(t, torchScript, dir))

	back := buildInterop(t, b, tensor.Float32, 12)
	if err := back.LoadSafetensors(filepath.Join(dir, "torch.safetensors")); err != nil {
		t.Fatal(err)
	}
	want, err := nn.LoadNpy(filepath.Join(dir, "torch_out.npy"))
	if err != nil {
		t.Fatal(err)
	}
	got := output(t, back, x)
	if !want.Shape.Equal(tensor.Shape{3, 5}) {
		t.Fatalf("torch output %v, expected [3 5]", want.Shape)
	}
	worst := 0.0
	for i, w := range want.Float64s() {
		worst = max(worst, math.Abs(got[i]-w))
	}
	t.Logf("torch -> vkcnn: max abs diff %.3g", worst)
	if worst > 1e-5 {
		t.Errorf("torch's weights give outputs %v in vkcnn, torch gave %v (max diff %.3g)", got, want.Float64s(), worst)
	}
}
