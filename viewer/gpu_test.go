//go:build cgo

package viewer

import (
	"errors"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// fakeConv stands in for a trained convolution: its weights are given.
type fakeConv struct {
	nn.Layer
	w *nn.Param
}

func (f *fakeConv) Params() []*nn.Param { return []*nn.Param{f.w} }

// upload puts random values (with a NaN and a zero plane) on b.
func upload(t testing.TB, b tensor.Backend, r *rand.Rand, shape tensor.Shape) *tensor.Tensor {
	t.Helper()
	x, err := b.Alloc(tensor.Float32, shape)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, x.Len())
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	plane := shape[2] * shape[3]
	for i := range plane {
		v[plane+i] = 0
	}
	nan := float32(0)
	v[len(v)-1] = nan / nan
	if err := b.Upload(x, v); err != nil {
		t.Fatal(err)
	}
	return x
}

// gpuState returns a state whose watched layer has random tensors on b: a
// batch of n inputs 28×28, k filters 5×5 and their 24×24 feature maps, and
// steps losses.
func gpuState(t testing.TB, b tensor.Backend, n, k, steps int) *state {
	r := rand.New(rand.NewPCG(1, 2))
	x := upload(t, b, r, tensor.Shape{n, 1, 28, 28})
	w := upload(t, b, r, tensor.Shape{k, 1, 5, 5})
	y := upload(t, b, r, tensor.Shape{n, k, 24, 24})
	s := &state{tap: &tap{Layer: &fakeConv{w: &nn.Param{Value: w}}, x: x, y: y}, layer: 0, inputs: 5}
	for i := range steps {
		loss := 2.5 / float64(1+i/10)
		if i == 300 {
			loss = 0 * loss / 0 // a NaN loss leaves a gap
		}
		s.record(nn.StepInfo{Loss: loss, Epoch: 1, Epochs: 2, Step: i + 1, Steps: steps})
	}
	return s
}

// TestComposeMatchesCPU composes the same picture with the view_compose
// shader and with the CPU renderer and compares them pixel by pixel.
func TestComposeMatchesCPU(t *testing.T) {
	b := vktest.Open(t)
	s := gpuState(t, b, 8, 6, 700)
	g := &gpuCanvas{b: b}
	defer func() {
		if err := g.free(); err != nil {
			t.Error(err)
		}
	}()
	for _, size := range [][2]int{{800, 500}, {333, 211}} {
		for _, bgra := range []bool{true, false} {
			width, height := size[0], size[1]
			img, err := s.frameGPU(g, width, height, bgra)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, width*height)
			if err := b.Download(got, img); err != nil {
				t.Fatal(err)
			}
			gpix := unsafe.Slice((*uint32)(unsafe.Pointer(&got[0])), len(got))
			want := make([]uint32, width*height)
			if err := s.frameCPU(want, width, height, bgra); err != nil {
				t.Fatal(err)
			}
			colours := map[uint32]bool{}
			for _, p := range gpix {
				colours[p] = true
			}
			if len(colours) < 100 {
				t.Errorf("%dx%d: the GPU picture has %d colours, want a picture", width, height, len(colours))
			}
			// Channels may differ by one level where the device rounds a
			// division differently; the curve may gain or lose a pixel at
			// a row boundary.
			bad, off := 0, 0
			for i := range want {
				if gpix[i] == want[i] {
					continue
				}
				near := true
				for sh := 0; sh < 32; sh += 8 {
					d := int(gpix[i]>>sh&255) - int(want[i]>>sh&255)
					near = near && d >= -1 && d <= 1
				}
				if near {
					off++
				} else {
					bad++
					if bad <= 5 {
						t.Errorf("%dx%d bgra=%v: pixel (%d, %d) = %#08x on the GPU, %#08x on the CPU", width, height, bgra, i%width, i/width, gpix[i], want[i])
					}
				}
			}
			if bad > len(want)/2000 {
				t.Errorf("%dx%d bgra=%v: %d pixels differ (and %d by one level), want at most %d", width, height, bgra, bad, off, len(want)/2000)
			}
			t.Logf("%dx%d bgra=%v: %d pixels differ by one level, %d more", width, height, bgra, off, bad)
		}
	}
}

func TestComposeErrors(t *testing.T) {
	b := vktest.Open(t)
	img, err := b.Alloc(tensor.Float32, tensor.Shape{16})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Compose(make([]uint32, gpu.ComposeWords+1), [3]uint32{1, 1, 1}, img, img); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("33 push words: %v, want ErrParam", err)
	}
	if err := b.Compose(nil, [3]uint32{1, 1, 1}, img, nil); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("nil source: %v, want ErrShape", err)
	}
	other := vktest.Open(t)
	o, err := other.Alloc(tensor.Float32, tensor.Shape{4})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Compose(nil, [3]uint32{1, 1, 1}, img, o); !errors.Is(err, tensor.ErrBackend) {
		t.Errorf("a source of another backend: %v, want ErrBackend", err)
	}
}

// BenchmarkComposeGPU composes a 960×640 picture with the view_compose
// shader and waits for it.
func BenchmarkComposeGPU(b *testing.B) {
	be := vktest.Open(b)
	s := gpuState(b, be, 32, 8, 500)
	s.inputs = 16
	g := &gpuCanvas{b: be}
	defer g.free()
	for i := range b.N + 1 {
		if i == 1 {
			b.ResetTimer() // the first builds the pipeline
		}
		if _, err := s.frameGPU(g, 960, 640, true); err != nil {
			b.Fatal(err)
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/picture")
}
