package viewer

import (
	"errors"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

const testSpec = "conv(1,4,3,p1) relu maxpool(2) flatten dense(256,2)"

// lines returns a small lines dataset.
func lines(t testing.TB, n int) *data.Dataset {
	t.Helper()
	d, err := data.Lines(n, 7)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fit trains m on b for one epoch of batches of 8 and returns the losses.
func fit(t testing.TB, m *nn.Sequential, b tensor.Backend, d *data.Dataset, onStep func(nn.StepInfo) error) []float64 {
	t.Helper()
	if err := m.Build(b, tensor.Shape{1, data.LinesSize, data.LinesSize}, 3); err != nil {
		t.Fatal(err)
	}
	var losses []float64
	_, err := m.Fit(d, nn.FitConfig{Epochs: 1, BatchSize: 8, Loss: nn.CrossEntropyLoss(),
		Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1}), OnStep: func(i nn.StepInfo) error {
			losses = append(losses, i.Loss)
			if onStep != nil {
				return onStep(i)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return losses
}

func TestWatch(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	d := lines(t, 32)
	plain, err := nn.Parse(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := nn.Parse(testSpec)
	watched, tp, layer, err := watch(orig)
	if err != nil || tp == nil || layer != 0 {
		t.Fatalf("watch = %v, %v, %d, want the tap on layer 0", tp, err, layer)
	}
	if watched.String() != testSpec {
		t.Errorf("watched model %q, want %q", watched.String(), testSpec)
	}
	var seen [][]float32
	want := fit(t, plain, b, d, nil)
	got := fit(t, watched, b, d, func(nn.StepInfo) error {
		h, err := nn.ToHost(tp.x)
		if err != nil {
			return err
		}
		seen = append(seen, h.Data.([]float32))
		if s := tp.y.Shape(); !s.Equal(tensor.Shape{8, 4, 16, 16}) {
			t.Errorf("tapped output %v, want [8 4 16 16]", s)
		}
		return nil
	})
	defer plain.Free()
	defer watched.Free()
	if len(got) != len(want) {
		t.Fatalf("%d steps watched, %d plain", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("step %d: loss %v watched, %v plain: the tap changed training", i, got[i], want[i])
		}
	}
	// Without shuffling, step s trains on samples 8s…8s+7.
	for s, x := range seen {
		for j, v := range x {
			if v != d.Images[s*8*256+j] {
				t.Fatalf("step %d: tapped input element %d = %v, want the batch's %v", s, j, v, d.Images[s*8*256+j])
			}
		}
	}
	if names := watched.Params(); names[0].Name != "0.weight" {
		t.Errorf("first parameter %q, want 0.weight", names[0].Name)
	}
}

func TestWatchErrors(t *testing.T) {
	if _, _, _, err := watch(nil); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("watch(nil) = %v, want ErrParam", err)
	}
	b := cpu.New()
	defer b.Close()
	m, _ := nn.Parse(testSpec)
	if err := m.Build(b, tensor.Shape{1, 16, 16}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if _, _, _, err := watch(m); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("watch(built model) = %v, want ErrParam", err)
	}
	dense, _ := nn.Parse("flatten dense(256,2)")
	if w, tp, layer, err := watch(dense); err != nil || tp != nil || layer != -1 || w.String() != dense.String() {
		t.Errorf("watch(no conv) = %v, %v, %d, %v, want the model unchanged without a tap", w, tp, layer, err)
	}
}

func TestSeries(t *testing.T) {
	s := &state{}
	for i := range 5000 {
		s.record(nn.StepInfo{Loss: float64(i)})
	}
	series := s.series()
	if len(series) > maxSeries || len(series) < maxSeries/2 {
		t.Fatalf("%d points for 5000 losses, want at most %d and not much fewer", len(series), maxSeries)
	}
	if series[0] != 1 || series[len(series)-1] < 4990 {
		t.Errorf("series runs %v … %v, want the means of groups of 3 from 1 to about 4998", series[0], series[len(series)-1])
	}
	s = &state{}
	s.record(nn.StepInfo{Loss: math.NaN()})
	if c := s.content(s.series()); c.loss.n != 0 {
		t.Errorf("an all-NaN series plots %d points, want none", c.loss.n)
	}
}

// TestFrameCPU trains a watched model on the CPU and checks the picture.
func TestFrameCPU(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, _ := nn.Parse(testSpec)
	wm, tp, layer, err := watch(m)
	if err != nil {
		t.Fatal(err)
	}
	s := &state{model: wm, tap: tp, layer: layer, inputs: 4}
	fit(t, wm, b, lines(t, 16), func(i nn.StepInfo) error { s.record(i); return nil })
	defer wm.Free()
	const w, h = 640, 400
	pix := make([]uint32, w*h)
	if err := s.frameCPU(pix, w, h, true); err != nil {
		t.Fatal(err)
	}
	c := s.content(s.series())
	if c.inputs.count != 4 || c.filters.count != 4 || c.maps.count != 4 || c.loss.n != 2 {
		t.Fatalf("content shows %d inputs, %d filters, %d maps, %d losses; want 4, 4, 4, 2", c.inputs.count, c.filters.count, c.maps.count, c.loss.n)
	}
	if c.captions[1] != "layer 0 filters 4×1×3×3" || c.captions[2] != "feature maps of input 1: 4×16×16" {
		t.Errorf("captions %q", c.captions)
	}
	// Every grid shows more than one colour.
	for _, o := range layout(w, h, &c) {
		if o.kind != opGrid {
			continue
		}
		colours := map[uint32]bool{}
		for y := o.at.Y; y < o.at.Y+o.h*o.scale; y++ {
			for x := o.at.X; x < o.at.X+o.w*o.scale; x++ {
				colours[pix[y*w+x]] = true
			}
		}
		if len(colours) < 2 {
			t.Errorf("grid of source %d: the first cell has %d colours, want a picture", o.src, len(colours))
		}
	}
}

// TestNilWindow checks that a nil *Window passes everything through, with
// and without the build tag view.
func TestNilWindow(t *testing.T) {
	var none *Window
	m := nn.NewSequential()
	called := 0
	step := none.OnStep(func(nn.StepInfo) error { called++; return nil })
	if got, err := none.Watch(m); got != m || err != nil || none.VulkanOptions() != nil {
		t.Errorf("Watch = %v, %v; VulkanOptions = %v; want m, nil, nil", got, err, none.VulkanOptions())
	}
	if err := none.Run(func() error { return step(nn.StepInfo{}) }); err != nil || called != 1 {
		t.Errorf("Run = %v after %d steps, want nil after 1", err, called)
	}
	none.Close()
}
