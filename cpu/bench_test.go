package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// benchConvs are the convolution shapes of BenchmarkConv2D: N batch, C input
// channels, K output channels, H×W input, a square kernel, padding, stride.
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

// randTensor allocates a float32 tensor filled with values in [−1, 1).
func randTensor(b *testing.B, be *Backend, r *rand.Rand, shape tensor.Shape) *tensor.Tensor {
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

// BenchmarkConv2D measures float32 convolutions: /forward is Conv2D with bias,
// /train is forward plus input, kernel and bias gradients, counted as three
// passes of ConvGeom.FLOPs.
func BenchmarkConv2D(b *testing.B) {
	for _, c := range benchConvs {
		p := tensor.Conv2DParams{Stride: [2]int{c.s, c.s}, Pad: [2]int{c.pad, c.pad}, Dilation: [2]int{1, 1}, Groups: 1}
		g, err := tensor.ConvGeometry(tensor.Shape{c.n, c.c, c.h, c.w}, tensor.Shape{c.k, c.c, c.kk, c.kk}, p)
		if err != nil {
			b.Fatal(err)
		}
		be := New()
		r := rand.New(rand.NewPCG(1, 2))
		x, w, bias := randTensor(b, be, r, g.XShape()), randTensor(b, be, r, g.WShape()), randTensor(b, be, r, tensor.Shape{g.K})
		y, dy := randTensor(b, be, r, g.YShape()), randTensor(b, be, r, g.YShape())
		dx, dw, db := randTensor(b, be, r, g.XShape()), randTensor(b, be, r, g.WShape()), randTensor(b, be, r, tensor.Shape{g.K})
		run := func(name string, passes float64, step func() error) {
			b.Run(c.name+"/"+name, func(b *testing.B) {
				for b.Loop() {
					if err := step(); err != nil {
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
	}
}

// BenchmarkPool2D measures float32 max and average pooling, window 2 and
// stride 2, on [32, 64, 56, 56], forward and backward, reporting the input
// bandwidth in GB/s.
func BenchmarkPool2D(b *testing.B) {
	be := New()
	r := rand.New(rand.NewPCG(1, 2))
	p := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
	g, err := tensor.PoolGeometry(tensor.Shape{32, 64, 56, 56}, p)
	if err != nil {
		b.Fatal(err)
	}
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
		b.Run(fmt.Sprintf("N32_C64_56x56_w2s2/%s", c.name), func(b *testing.B) {
			for b.Loop() {
				if err := c.step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
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
			for b.Loop() {
				gemm(s.ta, s.tb, s.m, s.n, s.k, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
