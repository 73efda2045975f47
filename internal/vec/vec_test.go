package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The references below are the scalar loops of package cpu, element by
// element in float64.

func refRuns(x []float32, segs, stride, n int, f func(i int)) {
	for s := range segs {
		for j := range n {
			f(s*stride + j)
		}
	}
}

// shapes are (segs, stride, n) triples around the block sizes and the
// shapes of a small ResNet (49, 196, 784 elements per plane).
var shapes = [][3]int{
	{0, 0, 0}, {1, 0, 0}, {3, 5, 0}, {1, 1, 1}, {1, 7, 7}, {1, 8, 8}, {1, 9, 9}, {2, 40, 15}, {3, 17, 16},
	{4, 33, 33}, {5, 64, 49}, {7, 196, 196}, {3, 800, 784}, {2, 1000, 100},
}

// runsLen returns the elements that segs runs of n, stride apart, span.
func runsLen(segs, stride, n int) int {
	if segs == 0 {
		return 0
	}
	return (segs-1)*stride + n
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64()*3 + 1)
	}
	return s
}

func need(t *testing.T) {
	t.Helper()
	if !Enabled {
		t.Skip("no AVX-512 routines on this CPU or build")
	}
}

func closeTo(t *testing.T, what string, got, want, scale float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12*max(scale, 1) {
		t.Errorf("%s = %.17g, want %.17g", what, got, want)
	}
}

func TestReductions(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		segs, stride, n := s[0], s[1], s[2]
		size := runsLen(segs, stride, n)
		x, dy := randSlice(r, size+3), randSlice(r, size+3)
		x, dy = x[:size], dy[:size]
		var sum, abs float64
		refRuns(x, segs, stride, n, func(i int) { sum += float64(x[i]); abs += math.Abs(float64(x[i])) })
		closeTo(t, "Sum", Sum(x, segs, stride, n), sum, abs)
		mu := 0.75
		var q, sdy, sdyx, sa float64
		refRuns(x, segs, stride, n, func(i int) {
			d := float64(x[i]) - mu
			q += d * d
			sdy += float64(dy[i])
			sdyx += float64(dy[i]) * d
			sa += math.Abs(float64(dy[i]) * d)
		})
		closeTo(t, "SqDev", SqDev(x, segs, stride, n, mu), q, q)
		gdy, gdyx := GradSums(dy, x, segs, stride, n, mu)
		closeTo(t, "GradSums dy", gdy, sdy, sa)
		closeTo(t, "GradSums dy·x", gdyx, sdyx, sa)
	}
}

func TestAffineAndNormGrad(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range shapes {
		segs, stride, n := s[0], s[1], s[2]
		size := runsLen(segs, stride, n)
		// One guard element after the end, which nothing may write.
		x, dy := randSlice(r, size), randSlice(r, size)
		y, dx := randSlice(r, size+1), randSlice(r, size+1)
		want, wantDx := append([]float32(nil), y...), append([]float32(nil), dx...)
		mu, sc, sh := 0.3, 1.7, -0.2
		is, mdy, mdyx, k := 0.9, 0.05, -0.3, 1.3
		refRuns(x, segs, stride, n, func(i int) {
			want[i] = float32((float64(x[i])-mu)*sc + sh)
			xh := (float64(x[i]) - mu) * is
			wantDx[i] = float32(k * (float64(dy[i]) - mdy - xh*mdyx))
		})
		Affine(y[:size], x, segs, stride, n, mu, sc, sh)
		NormGrad(dx[:size], dy, x, segs, stride, n, mu, is, mdy, mdyx, k)
		for i := range want {
			if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: Affine y[%d] = %g, want %g", s, i, y[i], want[i])
			}
			if math.Float32bits(dx[i]) != math.Float32bits(wantDx[i]) {
				t.Fatalf("%v: NormGrad dx[%d] = %g, want %g", s, i, dx[i], wantDx[i])
			}
		}
		// In place: the runs change, the elements between them do not.
		copy(dx, dy)
		inPlace := append([]float32(nil), dy...)
		refRuns(x, segs, stride, n, func(i int) { inPlace[i] = wantDx[i] })
		NormGrad(dx[:size], dx[:size], x, segs, stride, n, mu, is, mdy, mdyx, k)
		for i := range size {
			if math.Float32bits(dx[i]) != math.Float32bits(inPlace[i]) {
				t.Fatalf("%v: NormGrad in place dx[%d] = %g, want %g", s, i, dx[i], wantDx[i])
			}
		}
	}
}

func TestElementwise(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(5, 6))
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{0, 1, 5, 15, 16, 17, 63, 64, 65, 100, 1000} {
		a, c := randSlice(r, n), randSlice(r, n)
		if n > 3 {
			a[0], a[1], a[2], a[3] = nan, negZero, 0, float32(math.Inf(-1))
		}
		d := randSlice(r, n+1)
		guard := d[n]
		ReLU(d[:n], a)
		for i := range n {
			if want := max(a[i], 0); math.Float32bits(d[i]) != math.Float32bits(want) && !(want != want && d[i] != d[i]) {
				t.Fatalf("n=%d: ReLU(%g) = %g, want %g", n, a[i], d[i], want)
			}
		}
		ReLUGrad(d[:n], c, a)
		for i := range n {
			want := float32(0)
			if a[i] > 0 {
				want = c[i]
			}
			if math.Float32bits(d[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d: ReLUGrad(%g, x=%g) = %g, want %g", n, c[i], a[i], d[i], want)
			}
		}
		Add(d[:n], a, c)
		for i := range n {
			if want := a[i] + c[i]; math.Float32bits(d[i]) != math.Float32bits(want) && !(want != want && d[i] != d[i]) {
				t.Fatalf("n=%d: Add = %g, want %g", n, d[i], want)
			}
		}
		if d[n] != guard {
			t.Fatalf("n=%d: the element after the destination was written", n)
		}
		// In place.
		copy(d, a)
		ReLU(d[:n], d[:n])
		for i := range n {
			if want := max(a[i], 0); math.Float32bits(d[i]) != math.Float32bits(want) && !(want != want && d[i] != d[i]) {
				t.Fatalf("n=%d: ReLU in place (%g) = %g, want %g", n, a[i], d[i], want)
			}
		}
	}
}

// TestFill checks Fill on the runs of shapes: each run gets its value bit
// for bit (NaN and −0 included), every other element stays as it was.
func TestFill(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(9, 10))
	for _, sh := range shapes {
		segs, stride, n := sh[0], sh[1], sh[2]
		size := runsLen(segs, stride, n)
		d, v := randSlice(r, size+1), randSlice(r, segs)
		if segs > 1 {
			v[0], v[1] = float32(math.NaN()), float32(math.Copysign(0, -1))
		}
		want := append([]float32(nil), d...)
		refRuns(d, segs, stride, n, func(i int) { want[i] = v[i/max(stride, 1)] })
		Fill(d[:size], stride, n, v)
		for i := range d {
			if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
				t.Fatalf("segs=%d stride=%d n=%d: element %d is %g, want %g", segs, stride, n, i, d[i], want[i])
			}
		}
	}
}

// TestOptimizers checks SGD (plain, momentum, Nesterov) and Adam against
// the scalar loops of package cpu, bit for bit: every product is rounded
// on its own (float64(x·y)), as the routines and an unfused build round it.
func TestOptimizers(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 100, 1001} {
		param, grad, vel := randSlice(r, n), randSlice(r, n), randSlice(r, n)
		mom, vv := randSlice(r, n), randSlice(r, n)
		for i := range vv {
			vv[i] = float32(math.Abs(float64(vv[i])))
		}
		const lr, wd, mu = 0.05, 1e-3, 0.9
		for mode := range 3 {
			p, v := append([]float32(nil), param...), append([]float32(nil), vel...)
			wp, wv := append([]float32(nil), param...), append([]float32(nil), vel...)
			var vs []float32
			if mode > 0 {
				vs = v
			}
			SGD(p, grad, vs, lr, wd, mu, mode == 2)
			for i := range wp {
				x := float64(wp[i])
				g := float64(grad[i]) + float64(wd*x)
				if mode > 0 {
					u := float64(mu*float64(wv[i])) + g
					wv[i] = float32(u)
					if mode == 2 {
						g += float64(mu * float64(wv[i]))
					} else {
						g = u
					}
				}
				wp[i] = float32(x - float64(lr*g))
			}
			for i := range wp {
				if math.Float32bits(p[i]) != math.Float32bits(wp[i]) || mode > 0 && math.Float32bits(v[i]) != math.Float32bits(wv[i]) {
					t.Fatalf("n=%d mode %d: element %d is param %g vel %g, want %g and %g", n, mode, i, p[i], v[i], wp[i], wv[i])
				}
			}
		}
		const decay, b1, b2, rs, eps = 0.999, 0.9, 0.999, 1.7, 1e-8
		p, m, v := append([]float32(nil), param...), append([]float32(nil), mom...), append([]float32(nil), vv...)
		Adam(p, grad, m, v, decay, wd, b1, 1-b1, b2, 1-b2, lr, rs, eps)
		for i := range p {
			x := float64(decay * float64(param[i]))
			g := float64(grad[i]) + float64(wd*x)
			mi := float64(b1*float64(mom[i])) + float64((1-b1)*g)
			vi := float64(b2*float64(vv[i])) + float64(float64((1-b2)*g)*g)
			den := float64(math.Sqrt(vi)*rs) + eps
			want := float32(x - float64(lr*mi)/den)
			if math.Float32bits(p[i]) != math.Float32bits(want) || m[i] != float32(mi) || v[i] != float32(vi) {
				t.Fatalf("n=%d Adam: element %d is %g (m %g, v %g), want %g (%g, %g)", n, i, p[i], m[i], v[i], want, float32(mi), float32(vi))
			}
		}
	}
}

func TestRunsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Sum over runs past the slice did not panic")
		}
	}()
	Sum(make([]float32, 10), 2, 8, 3)
}

// TestDealWeave checks Deal and Weave, with and without the odd phase, on
// row lengths around the block of 16 pairs and 1 to 3 rows with gaps
// between them, that they touch no element outside the rows (sentinels
// everywhere else), and that they panic on short operands.
func TestDealWeave(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(5, 6))
	sentinel := float32(math.Inf(-1))
	filled := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = sentinel
		}
		return s
	}
	for _, n := range []int{0, 1, 2, 7, 8, 9, 14, 15, 16, 17, 24, 31, 32, 33, 49, 64, 100} {
		for _, rows := range []int{1, 2, 3} {
			for _, both := range []bool{true, false} {
				ws, ds := 2*n+5, n+3 // gaps between the rows
				src := randSlice(r, (rows-1)*ws+2*n)
				ev, od := filled((rows-1)*ds+n+7), filled((rows-1)*ds+n+7)
				var odd []float32
				if both {
					odd = od
				}
				Deal(ev, odd, src, rows, n, ws, ds)
				for i := range ev {
					row, k := i/ds, i%ds
					if row >= rows || k >= n {
						if ev[i] != sentinel || od[i] != sentinel {
							t.Fatalf("Deal n %d rows %d odd %v wrote outside the rows, at %d", n, rows, both, i)
						}
						continue
					}
					e, o := src[row*ws+2*k], src[row*ws+2*k+1]
					if ev[i] != e || both && od[i] != o {
						t.Fatalf("Deal n %d rows %d odd %v: row %d pair %d: %v %v, expected %v %v", n, rows, both, row, k, ev[i], od[i], e, o)
					}
				}
				dst := filled((rows-1)*ws + 2*n + 9)
				Weave(dst, ev, odd, rows, n, ws, ds)
				for i := range dst {
					row, k := i/ws, i%ws
					if row >= rows || k >= 2*n {
						if dst[i] != sentinel {
							t.Fatalf("Weave n %d rows %d odd %v wrote outside the rows, at %d", n, rows, both, i)
						}
						continue
					}
					want := src[i]
					if k%2 == 1 && !both {
						want = 0
					}
					if dst[i] != want {
						t.Fatalf("Weave n %d rows %d odd %v: row %d element %d: %v, expected %v", n, rows, both, row, k, dst[i], want)
					}
				}
			}
		}
	}
	for _, f := range []func(){
		func() { Deal(make([]float32, 3), nil, make([]float32, 5), 1, 3, 6, 3) },
		func() { Deal(make([]float32, 3), make([]float32, 2), make([]float32, 6), 1, 3, 6, 3) },
		func() { Deal(make([]float32, 6), nil, make([]float32, 12), 2, 3, 7, 3) },
		func() { Weave(make([]float32, 5), make([]float32, 3), nil, 1, 3, 6, 3) },
		func() { Weave(make([]float32, 6), make([]float32, 3), make([]float32, 2), 1, 3, 6, 3) },
		func() { Weave(make([]float32, 6), make([]float32, 3), nil, 1, -3, 6, 3) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("short operands did not panic")
				}
			}()
			f()
		}()
	}
}

// sigmoidExp is package cpu's float64 sigmoid, through math.Exp: the
// reference for Sigmoid64's accuracy.
func sigmoidExp(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// TestSigmoid64 sweeps every 193rd float32 in [−120, 120] (past which both
// sides are 0 or 1 in float32) and checks Sigmoid64 against the sigmoid
// through math.Exp: within 4 float64 ulps, and once rounded to float32,
// equal or (where the two straddle a float32 rounding boundary) one float32
// ulp apart. It logs how many float32 results differ.
func TestSigmoid64(t *testing.T) {
	var n, diff int
	worst := 0.0
	for b := math.Float32bits(-120); b > 0x80000000; b -= 193 {
		for _, x := range []float32{math.Float32frombits(b), math.Float32frombits(b &^ 0x80000000)} {
			got, want := Sigmoid64(float64(x)), sigmoidExp(float64(x))
			ulp := math.Abs(got-want) / (math.Nextafter(want, 2) - want)
			worst = max(worst, ulp)
			if ulp > 4 {
				t.Fatalf("Sigmoid64(%g) = %.17g, want %.17g (%.1f ulps)", x, got, want, ulp)
			}
			g32, w32 := float32(got), float32(want)
			n++
			if g32 != w32 {
				diff++
				if d := int64(math.Float32bits(g32)) - int64(math.Float32bits(w32)); d != 1 && d != -1 {
					t.Fatalf("float32(Sigmoid64(%g)) = %g, want %g", x, g32, w32)
				}
			}
		}
	}
	t.Logf("%d inputs: at most %.2f float64 ulps from math.Exp's; %d float32 results differ by one ulp", n, worst, diff)
	for _, c := range [][2]float64{{math.NaN(), math.NaN()}, {math.Inf(1), 1}, {math.Inf(-1), 0}, {0, 0.5}, {math.Copysign(0, -1), 0.5}, {-1e6, 0}, {40, 1}} {
		if got := float32(Sigmoid64(c[0])); float64(got) != c[1] && !(got != got && c[1] != c[1]) {
			t.Errorf("float32(Sigmoid64(%g)) = %g, want %g", c[0], got, c[1])
		}
	}
}

// TestSigmoid checks that the assembly gives Sigmoid64's bits, rounded to
// float32, on random and special inputs, for lengths around the block of 8,
// in place and not, without touching the element after the destination.
func TestSigmoid(t *testing.T) {
	need(t)
	r := rand.New(rand.NewPCG(7, 8))
	special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, float32(math.Inf(-1)), float32(math.Inf(1)),
		math.MaxFloat32, -math.MaxFloat32, 1e-45, -1e-45, 88.7, -103.9, -104, 700, -700, -701, 36.7, -36.7}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000} {
		a := randSlice(r, n)
		for i := range a {
			a[i] *= float32(r.ExpFloat64() * 4)
		}
		copy(a, special)
		d := randSlice(r, n+1)
		guard := d[n]
		check := func(how string) {
			t.Helper()
			for i := range n {
				want := float32(Sigmoid64(float64(a[i])))
				if math.Float32bits(d[i]) != math.Float32bits(want) && !(want != want && d[i] != d[i]) {
					t.Fatalf("n=%d %s: Sigmoid(%g) = %g, want %g", n, how, a[i], d[i], want)
				}
			}
		}
		Sigmoid(d[:n], a)
		check("")
		if d[n] != guard {
			t.Fatalf("n=%d: the element after the destination was written", n)
		}
		copy(d, a)
		Sigmoid(d[:n], d[:n])
		check("in place")
	}
}
