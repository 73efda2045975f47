package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/internal/bench/shapes"

	"github.com/vkcnn/vkcnn/tensor"
)

// randTensor allocates a float32 tensor filled with values in [−1, 1).
func randTensor(b *testing.B, be *Backend, r *rand.Rand, shape tensor.Shape) *tensor.Tensor {
	b.Helper()
	t, err := shapes.RandomTensor(be, r, shape)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// loop runs step b.N times and reports work (per step, in unit) per second
// of wall time, and per second of the process's CPU time ("unit/cpu-s"): on
// a machine shared with other jobs the second shows what the code does with
// the cores it gets, the ratio of the two how many cores it got.
func loop(b *testing.B, work float64, unit string, step func() error) {
	cpu := processCPU()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	total := work * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), unit+"/s")
	if cpu := processCPU() - cpu; cpu > 0 {
		b.ReportMetric(total/cpu, unit+"/cpu-s")
	}
}

// BenchmarkConv2D measures float32 convolutions: /forward is Conv2D with bias,
// /train is forward plus input, kernel and bias gradients, counted as three
// passes of ConvGeom.FLOPs; /inputgrad and /kernelgrad are one gradient
// alone, one pass each.
func BenchmarkConv2D(b *testing.B) {
	for _, name := range shapes.Conv {
		g, err := shapes.ParseConv(name)
		if err != nil {
			b.Fatal(err)
		}
		p := g.Params()
		// setup allocates the tensors of the case inside its sub-benchmark,
		// so that filtered-out cases cost nothing.
		setup := func(b *testing.B) (be *Backend, x, w, bias, y, dy, dx, dw, db *tensor.Tensor) {
			be = New()
			r := rand.New(rand.NewPCG(1, 2))
			x, w, bias = randTensor(b, be, r, g.XShape()), randTensor(b, be, r, g.WShape()), randTensor(b, be, r, tensor.Shape{g.K})
			y, dy = randTensor(b, be, r, g.YShape()), randTensor(b, be, r, g.YShape())
			dx, dw, db = randTensor(b, be, r, g.XShape()), randTensor(b, be, r, g.WShape()), randTensor(b, be, r, tensor.Shape{g.K})
			return
		}
		b.Run(name+"/forward", func(b *testing.B) {
			be, x, w, bias, y, _, _, _, _ := setup(b)
			loop(b, g.FLOPs()/1e9, "GFLOP", func() error { return be.Conv2D(y, x, w, bias, p) })
		})
		b.Run(name+"/train", func(b *testing.B) {
			be, x, w, bias, y, dy, dx, dw, db := setup(b)
			loop(b, 3*g.FLOPs()/1e9, "GFLOP", func() error {
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
		})
		for _, op := range []struct {
			name string
			run  func(be *Backend, x, w, dy, dx, dw *tensor.Tensor) error
		}{
			{"inputgrad", func(be *Backend, x, w, dy, dx, dw *tensor.Tensor) error { return be.Conv2DInputGrad(dx, dy, w, p) }},
			{"kernelgrad", func(be *Backend, x, w, dy, dx, dw *tensor.Tensor) error { return be.Conv2DKernelGrad(dw, x, dy, p) }},
			{"inputgrad-col2im", func(be *Backend, x, w, dy, dx, dw *tensor.Tensor) error {
				be.inputGrad = igCol2im
				return be.Conv2DInputGrad(dx, dy, w, p)
			}},
			{"inputgrad-forward", func(be *Backend, x, w, dy, dx, dw *tensor.Tensor) error {
				be.inputGrad = igForward
				return be.Conv2DInputGrad(dx, dy, w, p)
			}},
		} {
			b.Run(name+"/"+op.name, func(b *testing.B) {
				be, x, w, _, _, dy, dx, dw, _ := setup(b)
				loop(b, g.FLOPs()/1e9, "GFLOP", func() error { return op.run(be, x, w, dy, dx, dw) })
			})
		}
	}
}

// BenchmarkPool2D measures float32 max and average pooling, forward and
// backward, on the shapes of shapes.Pool (N32_C64_56x56_w2s2), reporting the
// input bandwidth in GB/s.
func BenchmarkPool2D(b *testing.B) {
	be := New()
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range shapes.Pool {
		g, err := shapes.ParsePool(name)
		if err != nil {
			b.Fatal(err)
		}
		p := g.Params()
		x, dx := randTensor(b, be, r, g.XShape()), randTensor(b, be, r, g.XShape())
		y, dy := randTensor(b, be, r, g.YShape()), randTensor(b, be, r, g.YShape())
		bytes := float64(4 * g.XShape().Len())
		for _, c := range []struct {
			name string
			step func() error
		}{
			{"max/forward", func() error { return be.MaxPool2D(y, x, p) }},
			{"max/backward", func() error { return be.MaxPool2DBackward(dx, dy, x, p) }},
			{"avg/forward", func() error { return be.AvgPool2D(y, x, p) }},
			{"avg/backward", func() error { return be.AvgPool2DBackward(dx, dy, p) }},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				loop(b, bytes/1e9, "GB", c.step)
			})
		}
	}
}

// BenchmarkGEMM measures the GEMM behind the convolutions on the matrix shapes
// of BenchmarkConv2D's largest case (float32, one call at a time).
func BenchmarkGEMM(b *testing.B) {
	for _, s := range []struct {
		ta, tb  bool
		m, n, k int
	}{
		{false, false, 64, 3136, 576},
		{true, false, 576, 3136, 64},
		{false, true, 64, 576, 3136},
		{false, false, 64, 256, 576},
	} {
		b.Run(fmt.Sprintf("%v_%v_%dx%dx%d", s.ta, s.tb, s.m, s.n, s.k), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bb {
				bb[i] = float32(i%5) - 2
			}
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			loop(b, 2*float64(s.m*s.n*s.k)/1e9, "GFLOP", func() error {
				gemm(1, s.ta, s.tb, s.m, s.n, s.k, a, lda, bb, ldb, 0, c, s.n)
				return nil
			})
		})
	}
}

// BenchmarkFillFlat measures fillFlat's copy of one float32 64×28×28 image
// for a 3×3 kernel with stride 2 and padding 1 (N32_C64_K128 28×28's),
// split into phases and padded, from cache (/warm: the same image) and
// from 32 images in turn (/cold).
func BenchmarkFillFlat(b *testing.B) {
	const c, h, w = 64, 28, 28
	for _, padded := range []bool{false, true} {
		f := newFlatIm(c, h, w, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, 14, 14, padded)
		layout := map[bool]string{false: "split", true: "padded"}[padded]
		for _, images := range []int{1, 32} {
			temp := map[int]string{1: "warm", 32: "cold"}[images]
			b.Run(layout+"/"+temp, func(b *testing.B) {
				x := make([]float32, images*c*h*w)
				for i := range x {
					x[i] = float32(i)
				}
				xf := make([]float32, f.size)
				i := 0
				for b.Loop() {
					fillFlat(f, xf, x[i%images*c*h*w:][:c*h*w])
					i++
				}
				b.ReportMetric(float64(4*c*h*w)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
