package nn_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// biasLayer is a user-defined layer y = x + b with a learnable bias b [F] on
// features [F] (spec "testbias(F)"), written only against the exported API.
type biasLayer struct {
	f    int
	bias *nn.Param
}

func (l *biasLayer) Kind() string   { return "testbias" }
func (l *biasLayer) String() string { return fmt.Sprintf("testbias(%d)", l.f) }
func (l *biasLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 || in[0] != l.f {
		return nil, fmt.Errorf("testbias(%d): input %v, expected [%d]: %w", l.f, in, l.f, tensor.ErrShape)
	}
	return in.Clone(), nil
}
func (l *biasLayer) Build(b tensor.Backend, dt tensor.DType, _ tensor.Shape, rng *rand.Rand) error {
	v := make([]float64, l.f)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	val, err := nn.FromHost(b, dt, nn.HostTensor{Shape: tensor.Shape{l.f}, Data: v})
	if err != nil {
		return err
	}
	g, err := b.Alloc(dt, tensor.Shape{l.f})
	if err != nil {
		val.Free()
		return err
	}
	l.bias = &nn.Param{Name: "bias", Value: val, Grad: g}
	return nil
}
func (l *biasLayer) Params() []*nn.Param {
	if l.bias == nil {
		return nil
	}
	return []*nn.Param{l.bias}
}
func (l *biasLayer) Forward(_ *nn.Pass, y, x *tensor.Tensor) error {
	return x.Backend().AddBias(y, x, l.bias.Value)
}
func (l *biasLayer) Backward(_ *nn.Pass, dx, dy, _, _ *tensor.Tensor) error {
	b := dy.Backend()
	if err := b.BiasGrad(l.bias.Grad, dy); err != nil {
		return err
	}
	if dx == nil {
		return nil
	}
	return b.Copy(dx, dy)
}

func init() {
	err := nn.Register("testbias", func(args []string) (nn.Layer, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("testbias needs the feature count")
		}
		f, err := strconv.Atoi(args[0])
		if err != nil || f < 1 {
			return nil, fmt.Errorf("testbias feature count %q, expected a positive integer", args[0])
		}
		return &biasLayer{f: f}, nil
	})
	if err != nil {
		panic(err)
	}
}

// TestRegisteredLayerRoundTrip saves a model with a registered custom layer
// (also inside a residual block) and reloads it with LoadModel: same spec,
// same parameters, same outputs; the custom layer trains and passes a
// gradient check.
func TestRegisteredLayerRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	const spec = "conv(1,2,3,p1) relu flatten dense(32,6) testbias(6) residual[testbias(6) relu] dense(6,3) testbias(3)"
	m, err := nn.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != spec {
		t.Fatalf("spec %q prints as %q", spec, m.String())
	}
	if err := m.BuildDType(b, tensor.Float64, tensor.Shape{1, 4, 4}, 3); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	x := upload(t, b, tensor.Float64, tensor.Shape{5, 1, 4, 4}, randn(1, 80))
	target := upload(t, b, tensor.Float64, tensor.Shape{5, 3}, probRows(2, 5, 3))
	res, err := nn.GradCheck(m, nn.CrossEntropyLoss(), x, target)
	if err != nil || res.MaxRelErr > 1e-5 {
		t.Errorf("gradient check through the custom layer: %+v, %v", res, err)
	}
	// Train a few steps so the saved biases differ from their initial values.
	xs := randn(4, 8*16)
	xf := make([]float32, len(xs))
	for i, v := range xs {
		xf[i] = float32(v)
	}
	if _, err := m.Fit(&data.Dataset{Images: xf, Labels: []int{0, 1, 2, 0, 1, 2, 0, 1}}, nn.FitConfig{Epochs: 2, BatchSize: 4,
		Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1})}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "custom.safetensors")
	if err := m.SaveSafetensors(path); err != nil {
		t.Fatal(err)
	}
	m2, err := nn.LoadModel(path, b)
	if err != nil {
		t.Fatalf("LoadModel of a model with a registered layer: %v", err)
	}
	defer m2.Free()
	if m2.String() != spec || m2.DType() != tensor.Float64 {
		t.Errorf("reloaded %q (%v), want %q (float64)", m2, m2.DType(), spec)
	}
	p1, err := m.Predict(xf, 8)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := m2.Predict(xf, 8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p1 {
		for j := range p1[i].Probs {
			if p1[i].Probs[j] != p2[i].Probs[j] {
				t.Fatalf("sample %d: reloaded model gives %v, saved one %v", i, p2[i].Probs, p1[i].Probs)
			}
		}
	}
	sd, _, err := nn.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"4.bias", "5.body.0.bias", "7.bias"} {
		if _, ok := sd[k]; !ok {
			t.Errorf("file lacks the custom layer's %q", k)
		}
	}
}

func TestRegisterErrors(t *testing.T) {
	ctor := func([]string) (nn.Layer, error) { return &biasLayer{f: 1}, nil }
	for _, kind := range []string{"", "Upper", "1abc", "has space", "conv", "residual", "testbias"} {
		if err := nn.Register(kind, ctor); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("Register(%q): %v, want ErrParam", kind, err)
		}
	}
	if err := nn.Register("testnil", nil); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Register with a nil constructor: %v", err)
	}
	if err := nn.Register("testwrongkind", ctor); err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string]string{
		"testbias":         "testbias needs the feature count",
		"testbias(x)":      "expected a positive integer",
		"testwrongkind":    `made a layer of kind "testbias"`,
		"nosuchlayer(0.1)": "registered kind: testbias, testwrongkind",
	} {
		_, err := nn.Parse(spec)
		if !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want ErrFormat saying %q", spec, err, want)
		}
	}
}
