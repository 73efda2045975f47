//go:build cgo

package gpu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/internal/bench/shapes"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// benchTensor allocates a float32 tensor filled with values in [−1, 1).
func benchTensor(b *testing.B, be *gpu.Backend, r *rand.Rand, shape tensor.Shape) *tensor.Tensor {
	b.Helper()
	t, err := shapes.RandomTensor(be, r, shape)
	if err != nil {
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
	for _, name := range shapes.Conv {
		g, err := shapes.ParseConv(name)
		if err != nil {
			b.Fatal(err)
		}
		p := g.Params()
		r := rand.New(rand.NewPCG(1, 2))
		ts := []*tensor.Tensor{
			benchTensor(b, be, r, g.XShape()), benchTensor(b, be, r, g.WShape()), benchTensor(b, be, r, tensor.Shape{g.K}),
			benchTensor(b, be, r, g.YShape()), benchTensor(b, be, r, g.YShape()),
			benchTensor(b, be, r, g.XShape()), benchTensor(b, be, r, g.WShape()), benchTensor(b, be, r, tensor.Shape{g.K}),
		}
		x, w, bias, y, dy, dx, dw, db := ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]
		run := func(kind string, passes float64, step func() error) {
			b.Run(name+"/"+kind, func(b *testing.B) {
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
