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

// BenchmarkAddressed compares each path of a dispatch: /bound binds the
// tensors as storage buffers, /addressed forces the binding range down to
// 256 bytes so that the same op runs its shader's _addr variant through
// device addresses, as ops on tensors past maxStorageBufferRange do. The
// cases: an elementwise add of 4M elements (GB/s moved), a 256³ MatMul and a
// 3×3 convolution of 32 to 32 channels on 64×64 images, batch 8 (GFLOP/s).
func BenchmarkAddressed(b *testing.B) {
	be := vktest.Open(b)
	if !be.HasAddresses() {
		b.Skipf("device %q has no device addresses", be.Info().Name)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const n, m = 4 << 20, 256
	p := tensor.DefaultConv2D()
	p.Pad = [2]int{1, 1}
	x, y := benchTensor(b, be, r, tensor.Shape{n}), benchTensor(b, be, r, tensor.Shape{n})
	ma, mc := benchTensor(b, be, r, tensor.Shape{m, m}), benchTensor(b, be, r, tensor.Shape{m, m})
	cx, cw := benchTensor(b, be, r, tensor.Shape{8, 32, 64, 64}), benchTensor(b, be, r, tensor.Shape{32, 32, 3, 3})
	cy := benchTensor(b, be, r, tensor.Shape{8, 32, 64, 64})
	defer func() {
		for _, t := range []*tensor.Tensor{x, y, ma, mc, cx, cw, cy} {
			t.Free()
		}
	}()
	cases := []struct {
		name string
		work float64 // bytes (add) or FLOPs per call
		unit string
		step func() error
	}{
		{"add", 12 * n, "GB/s", func() error { return be.Add(y, x, y) }},
		{"matmul", 2 * m * m * m, "GFLOP/s", func() error { return be.MatMul(mc, ma, ma, false, false) }},
		{"conv", 2 * 8 * 32 * 64 * 64 * 32 * 9, "GFLOP/s", func() error { return be.Conv2D(cy, cx, cw, nil, p) }},
	}
	full := be.BindLimit()
	defer be.SetBindLimit(full)
	for _, c := range cases {
		for _, path := range []string{"bound", "addressed"} {
			b.Run(c.name+"/"+path, func(b *testing.B) {
				if path == "bound" {
					be.SetBindLimit(full)
				} else {
					be.SetBindLimit(256)
				}
				if err := c.step(); err != nil { // builds the pipeline
					b.Fatal(err)
				}
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if err := c.step(); err != nil {
						b.Fatal(err)
					}
					if err := be.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(c.work*float64(b.N)/b.Elapsed().Seconds()/1e9, c.unit)
			})
		}
	}
}
