package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// countingBackend counts allocations and downloads.
type countingBackend struct {
	tensor.Backend
	allocs, downloads int
}

func (c *countingBackend) Alloc(dt tensor.DType, s tensor.Shape) (*tensor.Tensor, error) {
	c.allocs++
	return c.Backend.Alloc(dt, s)
}

func (c *countingBackend) Download(dst any, src *tensor.Tensor) error {
	c.downloads++
	return c.Backend.Download(dst, src)
}

func TestBuildErrorsNameTheLayer(t *testing.T) {
	b := cpu64(t)
	for _, c := range []struct {
		model *nn.Sequential
		in    tensor.Shape
		want  []string
		is    error
	}{
		{nn.NewSequential(nn.Conv2D(1, 8, 3, nn.Pad(1)), nn.ReLU(), nn.MaxPool2D(2), nn.Dense(1568, 10)),
			tensor.Shape{1, 28, 28}, []string{"layer 3 (dense)", "[8 14 14]", "expected [1568]", "flatten"}, tensor.ErrShape},
		{nn.NewSequential(nn.Conv2D(3, 8, 3)), tensor.Shape{1, 28, 28}, []string{"layer 0 (conv)", "1 channels, expected 3"}, tensor.ErrShape},
		{nn.NewSequential(nn.ReLU(), nn.Conv2D(1, 8, 3)), tensor.Shape{28, 28}, []string{"layer 1 (conv)", "rank 3"}, tensor.ErrShape},
		{nn.NewSequential(nn.Conv2D(1, 8, 5)), tensor.Shape{1, 3, 3}, []string{"layer 0 (conv)", "kernel spans 5"}, tensor.ErrShape},
		{nn.NewSequential(nn.Conv2D(4, 6, 3, nn.Groups(4))), tensor.Shape{4, 5, 5}, []string{"layer 0 (conv)", "groups 4 does not divide the 6 output"}, tensor.ErrParam},
		{nn.NewSequential(nn.Flatten(), nn.MaxPool2D(2, nn.Groups(2))), tensor.Shape{1, 4, 4}, []string{"layer 1 (maxpool)", "option Groups"}, tensor.ErrParam},
		{nn.NewSequential(nn.Dropout(1)), tensor.Shape{4}, []string{"layer 0 (dropout)", "rate 1"}, tensor.ErrParam},
		{nn.NewSequential(nn.Reshape(3, -1)), tensor.Shape{2, 4}, []string{"layer 0 (reshape)", "8 elements"}, tensor.ErrShape},
		{nn.NewSequential(nn.Reshape(-1, -1)), tensor.Shape{2, 4}, []string{"layer 0 (reshape)", "more than one"}, tensor.ErrParam},
		{nn.NewSequential(), tensor.Shape{2}, []string{"no layers"}, tensor.ErrParam},
		{nn.NewSequential(nn.ReLU()), tensor.Shape{0, 3}, []string{"input", "dimension 0 is 0"}, tensor.ErrShape},
	} {
		err := c.model.Build(b, c.in, 1)
		if err == nil {
			t.Errorf("%v on %v: no error, expected %q", c.model, c.in, c.want)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v on %v: error %q does not contain %q", c.model, c.in, err, w)
			}
		}
		if !errors.Is(err, c.is) {
			t.Errorf("%v on %v: error %q does not wrap %v", c.model, c.in, err, c.is)
		}
		if c.model.Built() {
			t.Errorf("%v: built after an error", c.model)
		}
	}
	l := nn.ReLU()
	if err := nn.NewSequential(l, nn.Tanh(), l).Build(b, tensor.Shape{3}, 1); err == nil || !strings.Contains(err.Error(), "layer 2 (relu) is the same value as layer 0") {
		t.Errorf("repeated layer: error %v", err)
	}
}

func TestUseBeforeBuildAndBadInput(t *testing.T) {
	b := cpu64(t)
	m := nn.NewSequential(nn.Dense(3, 2))
	x := upload(t, b, tensor.Float32, tensor.Shape{4, 3}, make([]float64, 12))
	if _, err := m.Forward(x); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("forward before build: %v, expected ErrNotBuilt", err)
	}
	if err := m.SaveSafetensors(t.TempDir() + "/m.safetensors"); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("save before build: %v, expected ErrNotBuilt", err)
	}
	if err := m.Build(b, tensor.Shape{3}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backward(x); err == nil {
		t.Error("backward before forward: no error")
	}
	bad := upload(t, b, tensor.Float32, tensor.Shape{4, 4}, make([]float64, 16))
	if _, err := m.Forward(bad); !errors.Is(err, tensor.ErrShape) || !strings.Contains(err.Error(), "expected [N 3]") {
		t.Errorf("forward on [4 4]: %v, expected an ErrShape naming [N 3]", err)
	}
	x64 := upload(t, b, tensor.Float64, tensor.Shape{4, 3}, make([]float64, 12))
	if _, err := m.Forward(x64); !errors.Is(err, tensor.ErrDType) || !strings.Contains(err.Error(), "layer 0 (dense)") {
		t.Errorf("forward on float64 input of a float32 model: %v, expected ErrDType naming the layer", err)
	}
	if _, err := m.Forward(x); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backward(x); !errors.Is(err, tensor.ErrShape) || !strings.Contains(err.Error(), "expected [N 2]") {
		t.Errorf("backward with a [4 3] gradient: %v, expected an ErrShape naming [N 2]", err)
	}
	if err := m.Free(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(x); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("forward after free: %v, expected ErrNotBuilt", err)
	}
}

func TestParamsNamesShapesAndSeeds(t *testing.T) {
	b := cpu64(t)
	build := func(seed uint64) *nn.Sequential {
		m := nn.NewSequential(nn.Conv2D(1, 2, 3), nn.ReLU(), nn.MaxPool2D(2), nn.Dropout(0.1), nn.Flatten(),
			nn.Dense(8, 3, nn.WeightInit(nn.XavierNormal)), nn.Dense(3, 2, nn.NoBias()))
		if err := m.Build(b, tensor.Shape{1, 6, 6}, seed); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Free() })
		return m
	}
	m := build(42)
	var got []string
	for _, p := range m.Params() {
		got = append(got, p.Name+p.Value.Shape().String())
	}
	want := "0.weight[2 1 3 3] 0.bias[2] 5.weight[3 8] 5.bias[3] 6.weight[2 3]"
	if strings.Join(got, " ") != want {
		t.Errorf("params %v, expected %s", got, want)
	}
	if m.NumParams() != 18+2+24+3+6 {
		t.Errorf("NumParams %d, expected 53", m.NumParams())
	}
	if p := m.Param("5.bias"); p == nil || p.Value.Len() != 3 {
		t.Errorf("Param(5.bias) = %v", p)
	}
	same, other := build(42), build(43)
	for i, p := range m.Params() {
		a, _ := p.Get()
		s, _ := same.Params()[i].Get()
		o, _ := other.Params()[i].Get()
		if !slices.Equal(a, s) {
			t.Errorf("%s differs between two builds with seed 42", p.Name)
		}
		if strings.HasSuffix(p.Name, "weight") && slices.Equal(a, o) {
			t.Errorf("%s is the same with seeds 42 and 43", p.Name)
		}
		if strings.HasSuffix(p.Name, "bias") && !slices.Equal(a, make([]float64, len(a))) {
			t.Errorf("%s = %v, expected zeros", p.Name, a)
		}
	}
	if s := m.Summary(); !strings.Contains(s, "53 parameters") || !strings.Contains(s, "dense(8,3)") {
		t.Errorf("summary %q", s)
	}
}

func TestInitializers(t *testing.T) {
	const fanIn, fanOut, n = 50, 30, 20000
	for _, c := range []struct {
		name  string
		init  nn.Init
		bound float64 // 0: normal
		std   float64
	}{
		{"XavierUniform", nn.XavierUniform, math.Sqrt(6.0 / 80), math.Sqrt(6.0/80) / math.Sqrt(3)},
		{"XavierNormal", nn.XavierNormal, 0, math.Sqrt(2.0 / 80)},
		{"HeUniform", nn.HeUniform, math.Sqrt(6.0 / 50), math.Sqrt(6.0/50) / math.Sqrt(3)},
		{"HeNormal", nn.HeNormal, 0, math.Sqrt(2.0 / 50)},
	} {
		w := make([]float64, n)
		c.init(w, fanIn, fanOut, rand.New(rand.NewPCG(1, 2)))
		var sum, sq float64
		for _, v := range w {
			if c.bound > 0 && math.Abs(v) > c.bound {
				t.Fatalf("%s: %v outside ±%v", c.name, v, c.bound)
			}
			sum += v
			sq += v * v
		}
		mean, std := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
		if math.Abs(mean) > 0.05*c.std || math.Abs(std-c.std) > 0.03*c.std {
			t.Errorf("%s: mean %.4f std %.4f, expected 0 and %.4f", c.name, mean, std, c.std)
		}
	}
	w := []float64{1, 2}
	nn.Zeros(w, 1, 1, nil)
	nn.Constant(0.5)(w[1:], 1, 1, nil)
	if w[0] != 0 || w[1] != 0.5 {
		t.Errorf("Zeros, Constant: %v", w)
	}
}

func TestDenseForwardMatchesHost(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			m := nn.NewSequential(nn.Dense(3, 2))
			if err := m.BuildDType(b, tb.dt, tensor.Shape{3}, 1); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			if err := m.Param("0.weight").Set([]float64{1, 2, 3, -1, 0, 1}); err != nil {
				t.Fatal(err)
			}
			if err := m.Param("0.bias").Set([]float32{0.5, -0.5}); err != nil {
				t.Fatal(err)
			}
			x := upload(t, b, tb.dt, tensor.Shape{2, 3}, []float64{1, 1, 1, 2, 0, -1})
			y, err := m.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := nn.ToHost(y)
			got, want := h.Float64s(), []float64{6.5, -0.5, -0.5, -3.5}
			if !slices.Equal(got, want) {
				t.Errorf("dense output %v, expected %v", got, want)
			}
			if err := m.Param("0.bias").Set([]float64{1}); !errors.Is(err, tensor.ErrShape) {
				t.Errorf("setting 1 value into a [2] bias: %v, expected ErrShape", err)
			}
		})
	}
}

// TestBuffersReused checks that flatten costs no allocation, that a second
// forward of the same batch size allocates nothing, and that dropout masks
// change per training step, are applied in training mode only, and scale the
// survivors.
func TestBuffersReusedAndDropout(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			cb := &countingBackend{Backend: b}
			m := nn.NewSequential(nn.Flatten(), nn.Dropout(0.25), nn.Reshape(4, -1))
			if err := m.BuildDType(cb, tb.dt, tensor.Shape{2, 4, 50}, 3); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			ones := make([]float64, 3*400)
			for i := range ones {
				ones[i] = 1
			}
			x := upload(t, b, tb.dt, tensor.Shape{3, 2, 4, 50}, ones)
			run := func() []float64 {
				y, err := m.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				if !y.Shape().Equal(tensor.Shape{3, 4, 100}) {
					t.Fatalf("output %v, expected [3 4 100]", y.Shape())
				}
				h, _ := nn.ToHost(y)
				return h.Float64s()
			}
			if got := run(); !slices.Equal(got, ones) {
				t.Error("dropout in evaluation mode changed its input")
			}
			if cb.allocs != 1 {
				t.Errorf("%d allocations for flatten, dropout, reshape, expected 1 (the dropout output)", cb.allocs)
			}
			m.SetTraining(true)
			a, bb := run(), run()
			keep := 1 / 0.75
			if tb.dt == tensor.Float32 {
				keep = float64(float32(keep))
			}
			zeros, diff := 0, 0
			for i := range a {
				switch a[i] {
				case 0:
					zeros++
				case keep:
				default:
					t.Fatalf("dropout output %v, expected 0 or %v", a[i], keep)
				}
				if a[i] != bb[i] {
					diff++
				}
			}
			if zeros < 200 || zeros > 400 {
				t.Errorf("%d of 1200 dropped at rate 0.25, expected about 300", zeros)
			}
			if diff == 0 {
				t.Error("two training steps drew the same dropout mask")
			}
			if cb.allocs != 2 {
				t.Errorf("%d allocations after training passes, expected 2 (output and mask)", cb.allocs)
			}
			dy := upload(t, b, tb.dt, tensor.Shape{3, 4, 100}, ones)
			dx, err := m.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			if !dx.Shape().Equal(x.Shape()) {
				t.Fatalf("input gradient %v, expected %v", dx.Shape(), x.Shape())
			}
			if h, _ := nn.ToHost(dx); !slices.Equal(h.Float64s(), bb) {
				t.Error("dropout backward did not apply the forward's mask")
			}
		})
	}
}

// TestLayersRejectNilTensors calls every layer directly with nil tensors:
// errors, never panics.
func TestLayersRejectNilTensors(t *testing.T) {
	b := cpu64(t)
	m, err := nn.Parse("conv(1,2,3) maxpool(2) avgpool(1) gap reshape(2,1) flatten dense(2,2) relu sigmoid tanh softmax dropout(0.5)")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers() {
		if l.Kind() == "conv" || l.Kind() == "dense" {
			if err := l.Forward(nil, nil, nil); !errors.Is(err, nn.ErrNotBuilt) {
				t.Errorf("%s: forward before build: %v, expected ErrNotBuilt", l, err)
			}
		}
	}
	if err := m.Build(b, tensor.Shape{1, 6, 6}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	x := upload(t, b, tensor.Float32, tensor.Shape{1, 1, 6, 6}, make([]float64, 36))
	for i, l := range m.Layers() {
		p := &nn.Pass{Train: true}
		if err := l.Forward(p, nil, nil); err == nil {
			t.Errorf("layer %d (%s): forward of nil tensors: no error", i, l)
		}
		if err := l.Forward(p, nil, x); err == nil {
			t.Errorf("layer %d (%s): forward into a nil output: no error", i, l)
		}
		if err := l.Backward(p, x, nil, nil, nil); err == nil {
			t.Errorf("layer %d (%s): backward of nil tensors: no error", i, l)
		}
	}
	if _, err := (&nn.Pass{}).Scratch(tensor.Shape{2}); !errors.Is(err, nn.ErrNotBuilt) {
		t.Errorf("Scratch outside a model pass: %v", err)
	}
}
