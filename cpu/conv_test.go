package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

func TestConv2DHand(t *testing.T) { both(t, testConv2DHand[float32], testConv2DHand[float64]) }

// A 3×3 image and a 2×2 kernel worked out by hand.
func testConv2DHand[T scalar](t *testing.T) {
	b := New()
	p := tensor.DefaultConv2D()
	x := put[T](t, b, tensor.Shape{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	w := put[T](t, b, tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	bias := put[T](t, b, tensor.Shape{1}, 0.5)
	y := put[T](t, b, tensor.Shape{1, 1, 2, 2})
	must(t, b.Conv2D(y, x, w, bias, p))
	// y00 = 1·1 + 2·2 + 4·3 + 5·4 = 37, then 47, 67, 77; plus the bias.
	near(t, "forward", get[T](t, b, y), []float64{37.5, 47.5, 67.5, 77.5}, 0)

	dy := put[T](t, b, tensor.Shape{1, 1, 2, 2}, 1, 1, 1, 1)
	dx := put[T](t, b, tensor.Shape{1, 1, 3, 3})
	must(t, b.Conv2DInputGrad(dx, dy, w, p))
	// Each input gets the sum of the kernel taps of the windows covering it.
	near(t, "input gradient", get[T](t, b, dx), []float64{1, 3, 2, 4, 10, 6, 3, 7, 4}, 0)

	dw := put[T](t, b, tensor.Shape{1, 1, 2, 2})
	must(t, b.Conv2DKernelGrad(dw, x, dy, p))
	// Each tap gets the sum of the inputs it touches: 1+2+4+5, 2+3+5+6, ...
	near(t, "kernel gradient", get[T](t, b, dw), []float64{12, 16, 24, 28}, 0)

	db := put[T](t, b, tensor.Shape{1})
	must(t, b.BiasGrad(db, dy))
	near(t, "bias gradient", get[T](t, b, db), []float64{4}, 0)
}

// Stride 2 with padding 1 on a 3×3 image, worked out by hand; then a 1×1
// kernel with stride 3 on a 5×5 image, where only the four inputs at rows and
// columns 0 and 3 are reached and every other input gradient must be 0.
func TestConv2DStridePad(t *testing.T) {
	b := New()
	p := tensor.Conv2DParams{Stride: [2]int{2, 2}, Pad: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}
	x := put[float64](t, b, tensor.Shape{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	w := put[float64](t, b, tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	y := put[float64](t, b, tensor.Shape{1, 1, 2, 2})
	must(t, b.Conv2D(y, x, w, nil, p))
	// Window (0,0) covers padded rows -1..0, cols -1..0: only x00 under w11.
	near(t, "forward", get[float64](t, b, y), []float64{1 * 4, 2*3 + 3*4, 4*2 + 7*4, 5*1 + 6*2 + 8*3 + 9*4}, 0)

	p = tensor.Conv2DParams{Stride: [2]int{3, 3}, Dilation: [2]int{1, 1}, Groups: 1}
	w = put[float64](t, b, tensor.Shape{1, 1, 1, 1}, 2)
	dy := put[float64](t, b, tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	dx := put[float64](t, b, tensor.Shape{1, 1, 5, 5})
	must(t, b.Fill(dx, 99))
	must(t, b.Conv2DInputGrad(dx, dy, w, p))
	want := make([]float64, 25)
	want[0], want[3], want[15], want[18] = 2, 4, 6, 8
	near(t, "strided 1x1 input gradient", get[float64](t, b, dx), want, 0)
}

// naiveConv computes forward, input gradient and kernel gradient straight from
// the definitions, in float64.
func naiveConv(g tensor.ConvGeom, x, w, bias, dy []float64) (y, dx, dw []float64) {
	cg, kg := g.C/g.Groups, g.K/g.Groups
	y = make([]float64, g.N*g.K*g.OH*g.OW)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < g.N; n++ {
		for k := 0; k < g.K; k++ {
			gr := k / kg
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					yi := ((n*g.K+k)*g.OH+oh)*g.OW + ow
					s := 0.0
					if bias != nil {
						s = bias[k]
					}
					for c := 0; c < cg; c++ {
						for i := 0; i < g.KH; i++ {
							for j := 0; j < g.KW; j++ {
								ih := oh*g.Stride[0] - g.Pad[0] + i*g.Dilation[0]
								iw := ow*g.Stride[1] - g.Pad[1] + j*g.Dilation[1]
								if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
									continue
								}
								xi := ((n*g.C+gr*cg+c)*g.H+ih)*g.W + iw
								wi := ((k*cg+c)*g.KH+i)*g.KW + j
								s += x[xi] * w[wi]
								dx[xi] += dy[yi] * w[wi]
								dw[wi] += dy[yi] * x[xi]
							}
						}
					}
					y[yi] = s
				}
			}
		}
	}
	return y, dx, dw
}

func randVals(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return v
}

func TestConv2DReference(t *testing.T) {
	both(t, testConv2DReference[float32], testConv2DReference[float64])
}

// The three conv ops against naiveConv on geometries that exercise every path:
// pointwise, padding wider than the kernel reach, stride above the kernel,
// dilation, rectangular kernels, groups and depthwise, batch 1 and odd sizes,
// output rows wider than the micro-kernels' tiles and narrow rows with many
// channels, each with 1 thread, one band and the input gradient as a forward
// convolution (where the stride is 1), and with 3 threads, bands of two rows
// and the input gradient by col2im.
func testConv2DReference[T scalar](t *testing.T) {
	type cs struct {
		n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g int
	}
	cases := []cs{
		{2, 3, 5, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1},
		{3, 4, 7, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},
		{1, 2, 6, 7, 3, 3, 2, 2, 3, 2, 1, 1, 1, 1},
		{2, 4, 9, 8, 4, 3, 3, 1, 2, 2, 2, 2, 3, 4},
		{5, 1, 4, 4, 2, 2, 2, 3, 3, 0, 0, 1, 1, 1},
		{2, 6, 5, 5, 6, 1, 1, 2, 2, 0, 0, 1, 1, 3},
		{1, 3, 3, 3, 3, 3, 3, 1, 1, 3, 3, 1, 1, 3},
		// Output rows wider than a tile (igemm.GemmPackedARowsGap).
		{2, 3, 4, 40, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
		{1, 2, 5, 45, 9, 3, 5, 1, 1, 0, 2, 1, 2, 1},
		{1, 2, 3, 20, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},
		// Narrow rows and 32 channels: output positions as rows
		// (igemm.GemmRowsA), forward, input gradient and groups.
		{1, 29, 4, 5, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},
		{1, 32, 5, 6, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1},
		{1, 64, 4, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 2},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for ci, c := range cases {
		p := tensor.Conv2DParams{Stride: [2]int{c.sh, c.sw}, Pad: [2]int{c.ph, c.pw}, Dilation: [2]int{c.dh, c.dw}, Groups: c.g}
		g, err := tensor.ConvGeometry(tensor.Shape{c.n, c.c, c.h, c.w}, tensor.Shape{c.k, c.c / c.g, c.kh, c.kw}, p)
		must(t, err)
		xv, wv, bv := randVals(r, g.XShape().Len()), randVals(r, g.WShape().Len()), randVals(r, g.K)
		dyv := randVals(r, g.YShape().Len())
		wantY, wantDX, wantDW := naiveConv(g, xv, wv, bv, dyv)
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("case%d/threads%d", ci, threads), func(t *testing.T) {
				b := New(Threads(threads))
				if threads == 3 {
					// Bands of one or two output rows, and the input
					// gradient by col2im (the other run forces the forward
					// convolution where the stride allows it).
					b.colBudget = 2 * g.C / g.Groups * g.KH * g.KW * g.OW
					b.inputGrad = igCol2im
				} else {
					b.inputGrad = igForward
				}
				x, w := put[T](t, b, g.XShape(), xv...), put[T](t, b, g.WShape(), wv...)
				bias, dy := put[T](t, b, tensor.Shape{g.K}, bv...), put[T](t, b, g.YShape(), dyv...)
				y, dx, dw := put[T](t, b, g.YShape()), put[T](t, b, g.XShape()), put[T](t, b, g.WShape())
				// Garbage in the outputs must be overwritten.
				for _, o := range []*tensor.Tensor{y, dx, dw} {
					must(t, b.Fill(o, 7))
				}
				must(t, b.Conv2D(y, x, w, bias, p))
				must(t, b.Conv2DInputGrad(dx, dy, w, p))
				must(t, b.Conv2DKernelGrad(dw, x, dy, p))
				rel := 10 * tol[T]()
				near(t, "forward", get[T](t, b, y), wantY, rel)
				near(t, "input gradient", get[T](t, b, dx), wantDX, rel)
				near(t, "kernel gradient", get[T](t, b, dw), wantDW, rel)
			})
		}
	}
}

// TestConv2DInputGradMethods runs the conformance suite's input-gradient
// test with each method forced (inputGradForward picks one by shape, and
// the suite's small shapes would mostly get col2im), in both dtypes; the
// forward method applies to stride 1 only, the rest of the cases use col2im
// either way.
func TestConv2DInputGradMethods(t *testing.T) {
	for _, m := range []struct {
		name   string
		method int
	}{{"forward", igForward}, {"col2im", igCol2im}} {
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
			t.Run(m.name+"/"+dt.String(), func(t *testing.T) {
				b := New()
				b.inputGrad = m.method
				tensortest.Conv2DInputGrad(t, b, dt)
			})
		}
	}
}

// TestFillFlatVec checks that fillFlat and unfill give the same copies and
// inputs, bit for bit and every element written, with internal/vec's
// AVX-512 pair routines as with the scalar loops, on strided geometries
// around their special cases: both stride-2 column phases with even and
// odd padding, one phase (1×1 kernels), stride 1 with and without padding,
// cropping, dilation and rows shorter and longer than a block of 16 pairs.
func TestFillFlatVec(t *testing.T) {
	if !vec.Enabled {
		t.Skip("no AVX-512 routines on this CPU or build")
	}
	defer func() { vec.Enabled = true }()
	r := rand.New(rand.NewPCG(7, 8))
	type geom struct{ h, w, k, s0, s1, p0, p1, d int }
	var gs []geom
	for _, hw := range [][2]int{{7, 7}, {14, 14}, {28, 28}, {5, 37}, {9, 66}} {
		for _, k := range []int{1, 2, 3} {
			for _, s := range [][2]int{{2, 2}, {1, 2}, {2, 1}, {1, 1}, {3, 2}} {
				for _, p := range [][2]int{{0, 0}, {1, 1}, {2, 1}, {1, 2}, {-1, 0}, {0, -1}} {
					if 2*p[0] >= k || 2*p[1] >= k {
						if p[0] > 0 || p[1] > 0 {
							continue
						}
					}
					for _, d := range []int{1, 2} {
						gs = append(gs, geom{hw[0], hw[1], k, s[0], s[1], p[0], p[1], d})
					}
				}
			}
		}
	}
	for _, g := range gs {
		oh := (g.h+2*g.p0-g.d*(g.k-1)-1)/g.s0 + 1
		ow := (g.w+2*g.p1-g.d*(g.k-1)-1)/g.s1 + 1
		if oh < 1 || ow < 1 {
			continue
		}
		const cin = 3
		x := make([]float32, cin*g.h*g.w)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		// The padded layout: every tap of every output position reads
		// its input element, or 0 in the padding.
		fp := newFlatIm(cin, g.h, g.w, g.k, g.k, [2]int{g.s0, g.s1}, [2]int{g.p0, g.p1}, [2]int{g.d, g.d}, oh, ow, true)
		xp := make([]float32, fp.size)
		for j := range xp {
			xp[j] = float32(math.NaN())
		}
		fillFlat(fp, xp, x)
		for tap, off := range fp.offs {
			c, i, j := tap/(g.k*g.k), tap/g.k%g.k, tap%g.k
			for q, pix := range fp.pixels {
				iy, ix := q/ow*g.s0-g.p0+i*g.d, q%ow*g.s1-g.p1+j*g.d
				want := float32(0)
				if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
					want = x[(c*g.h+iy)*g.w+ix]
				}
				if got := xp[off+pix]; math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%+v padded: tap %d of output %d reads %v, want %v", g, tap, q, got, want)
				}
			}
		}
		f := newFlatIm(cin, g.h, g.w, g.k, g.k, [2]int{g.s0, g.s1}, [2]int{g.p0, g.p1}, [2]int{g.d, g.d}, oh, ow, false)
		var copies, backs [2][]float32
		for i, on := range []bool{false, true} {
			vec.Enabled = on
			xf := make([]float32, f.size)
			for j := range xf {
				xf[j] = float32(math.NaN())
			}
			fillFlat(f, xf, x)
			back := make([]float32, len(x))
			for j := range back {
				back[j] = float32(math.NaN())
			}
			unfill(f, back, xf)
			copies[i], backs[i] = xf, back
		}
		for j := range copies[0] {
			if math.IsNaN(float64(copies[0][j])) {
				t.Fatalf("%+v: copy element %d not written", g, j)
			}
			if math.Float32bits(copies[0][j]) != math.Float32bits(copies[1][j]) {
				t.Fatalf("%+v: copy element %d is %v with AVX-512, %v without", g, j, copies[1][j], copies[0][j])
			}
		}
		for j := range backs[0] {
			if math.IsNaN(float64(backs[0][j])) {
				t.Fatalf("%+v: unfilled element %d not written", g, j)
			}
			if math.Float32bits(backs[0][j]) != math.Float32bits(backs[1][j]) {
				t.Fatalf("%+v: unfilled element %d is %v with AVX-512, %v without", g, j, backs[1][j], backs[0][j])
			}
		}
	}
}
