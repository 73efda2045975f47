//go:build cgo

package gpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// benchConvs are the convolution shapes of BenchmarkConv2D, the same as the
// CPU backend's: N batch, C input channels, K output channels, H×W input, a
// square kernel, padding, stride.
var benchConvs = []struct {
	name                      string
	n, c, k, h, w, kk, pad, s int
}{
	{"N64_C1_K8_28x28_k3p1", 64, 1, 8, 28, 28, 3, 1, 1},
	{"N32_C16_K32_14x14_k3p1", 32, 16, 32, 14, 14, 3, 1, 1},
	{"N32_C64_K64_56x56_k3p1", 32, 64, 64, 56, 56, 3, 1, 1},
	{"N64_C32_K64_14x14_k3p1", 64, 32, 64, 14, 14, 3, 1, 1},
	{"N32_C64_K128_28x28_k3s2p1", 32, 64, 128, 28, 28, 3, 1, 2},
	{"N32_C256_K64_14x14_k1", 32, 256, 64, 14, 14, 1, 0, 1},
}

// benchTensor allocates a float32 tensor filled with values in [−1, 1).
func benchTensor(b *testing.B, be *gpu.Backend, r *rand.Rand, shape tensor.Shape) *tensor.Tensor {
	b.Helper()
	t, err := be.Alloc(tensor.Float32, shape)
	if err != nil {
		b.Fatal(err)
	}
	v := make([]float32, t.Len())
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	if err := be.Upload(t, v); err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkConv2D measures float32 convolutions on the Vulkan device:
// /forward is Conv2D with bias, /train is forward plus input, kernel and bias
// gradients, counted as three passes of ConvGeom.FLOPs. Each iteration ends
// with a Sync, so the time is the device's. On a software device (lavapipe)
// the figures only show that the shaders run; try them with -benchtime 1x.
func BenchmarkConv2D(b *testing.B) {
	be := vktest.Open(b)
	for _, c := range benchConvs {
		p := tensor.Conv2DParams{Stride: [2]int{c.s, c.s}, Pad: [2]int{c.pad, c.pad}, Dilation: [2]int{1, 1}, Groups: 1}
		g, err := tensor.ConvGeometry(tensor.Shape{c.n, c.c, c.h, c.w}, tensor.Shape{c.k, c.c, c.kk, c.kk}, p)
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		ts := []*tensor.Tensor{
			benchTensor(b, be, r, g.XShape()), benchTensor(b, be, r, g.WShape()), benchTensor(b, be, r, tensor.Shape{g.K}),
			benchTensor(b, be, r, g.YShape()), benchTensor(b, be, r, g.YShape()),
			benchTensor(b, be, r, g.XShape()), benchTensor(b, be, r, g.WShape()), benchTensor(b, be, r, tensor.Shape{g.K}),
		}
		x, w, bias, y, dy, dx, dw, db := ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]
		run := func(name string, passes float64, step func() error) {
			b.Run(c.name+"/"+name, func(b *testing.B) {
				// One untimed pass builds the pipelines.
				if err := step(); err != nil {
					b.Fatal(err)
				}
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if err := step(); err != nil {
						b.Fatal(err)
					}
					if err := be.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(passes*g.FLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("forward", 1, func() error { return be.Conv2D(y, x, w, bias, p) })
		run("train", 3, func() error {
			if err := be.Conv2D(y, x, w, bias, p); err != nil {
				return err
			}
			if err := be.Conv2DInputGrad(dx, dy, w, p); err != nil {
				return err
			}
			if err := be.Conv2DKernelGrad(dw, x, dy, p); err != nil {
				return err
			}
			return be.BiasGrad(db, dy)
		})
		for _, t := range ts {
			if err := t.Free(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
