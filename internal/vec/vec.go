package vec

import "math"

// block is the elements per vector block of the float64 routines (8
// float32 widened to a 512-bit register) and wide that of the float32
// ones (16).
const (
	block = 8
	wide  = 16
)

// runs checks that x holds segs runs of n elements stride apart and
// returns the full blocks per run and the mask of the tail's lanes for
// blocks of bs elements. It panics, as an out-of-range slice index would,
// when x is too short or a size is negative.
func runs(x []float32, segs, stride, n, bs int) (nb int, mask uint16) {
	if segs < 0 || n < 0 || stride < 0 || (segs > 0 && (segs-1)*stride+n > len(x)) {
		panic("vec: runs out of range")
	}
	return n / bs, uint16(1)<<(n%bs) - 1
}

// first returns a pointer to x's first element, or nil when x is empty (no
// routine then reads it: every run is empty or there are none).
func first(x []float32) *float32 {
	if len(x) == 0 {
		return nil
	}
	return &x[0]
}

// same checks that every slice of s is at least as long as s[0] and panics
// otherwise.
func same(s ...[]float32) {
	for _, v := range s[1:] {
		if len(v) < len(s[0]) {
			panic("vec: operands shorter than the destination")
		}
	}
}

// Sum returns the sum of the runs' elements in float64.
func Sum(x []float32, segs, stride, n int) float64 {
	nb, m := runs(x, segs, stride, n, block)
	if segs == 0 || n == 0 {
		return 0
	}
	return sum32(first(x), segs, stride, nb, m)
}

// SqDev returns Σ (x − mu)² over the runs' elements, in float64.
func SqDev(x []float32, segs, stride, n int, mu float64) float64 {
	nb, m := runs(x, segs, stride, n, block)
	if segs == 0 || n == 0 {
		return 0
	}
	return sqDev32(first(x), segs, stride, nb, m, mu)
}

// Affine sets y = float32((x − mu)·scale + shift) over the runs (computed
// in float64, rounded once); y has x's layout and may be x.
func Affine(y, x []float32, segs, stride, n int, mu, scale, shift float64) {
	nb, m := runs(x, segs, stride, n, block)
	runs(y, segs, stride, n, block)
	if segs == 0 || n == 0 {
		return
	}
	affine32(first(y), first(x), segs, stride, nb, m, mu, scale, shift)
}

// GradSums returns Σ dy and Σ dy·(x − mu) over the runs, in float64; dy has
// x's layout.
func GradSums(dy, x []float32, segs, stride, n int, mu float64) (sdy, sdyx float64) {
	nb, m := runs(x, segs, stride, n, block)
	runs(dy, segs, stride, n, block)
	if segs == 0 || n == 0 {
		return 0, 0
	}
	return gradSums32(first(dy), first(x), segs, stride, nb, m, mu)
}

// NormGrad sets dx = float32(k·((dy − mdy) − ((x − mu)·invStd)·mdyx)) over
// the runs, the input gradient of batch normalization, computed in float64
// in that order and rounded once; dx and dy have x's layout and dx may be
// dy.
func NormGrad(dx, dy, x []float32, segs, stride, n int, mu, invStd, mdy, mdyx, k float64) {
	nb, m := runs(x, segs, stride, n, block)
	runs(dy, segs, stride, n, block)
	runs(dx, segs, stride, n, block)
	if segs == 0 || n == 0 {
		return
	}
	normGrad32(first(dx), first(dy), first(x), segs, stride, nb, m, mu, invStd, mdy, mdyx, k)
}

// ReLU sets d[i] = max(a[i], 0) as Go's max does (NaN stays NaN, −0 becomes
// +0); a is at least as long as d and may be d.
func ReLU(d, a []float32) {
	same(d, a)
	if len(d) > 0 {
		relu32(&d[0], &a[0], 1, 0, len(d)/wide, uint16(1)<<(len(d)%wide)-1)
	}
}

// ReLUGrad sets dx[i] = dy[i] where x[i] > 0, else +0; dy and x are at
// least as long as dx, which may be dy.
func ReLUGrad(dx, dy, x []float32) {
	same(dx, dy, x)
	if len(dx) > 0 {
		reluGrad32(&dx[0], &dy[0], &x[0], 1, 0, len(dx)/wide, uint16(1)<<(len(dx)%wide)-1)
	}
}

// Add sets d[i] = a[i] + c[i]; a and c are at least as long as d, which
// may be either.
func Add(d, a, c []float32) {
	same(d, a, c)
	if len(d) > 0 {
		add32(&d[0], &a[0], &c[0], 1, 0, len(d)/wide, uint16(1)<<(len(d)%wide)-1)
	}
}

// Fill sets the elements of run r, d[r·stride : r·stride+n], to v[r], for
// the len(v) runs. It panics when d is too short.
func Fill(d []float32, stride, n int, v []float32) {
	nb, mask := runs(d, len(v), stride, n, wide)
	if len(v) > 0 {
		fill32(first(d), &v[0], len(v), stride, nb, mask)
	}
}

// SGD applies one SGD step to param in place, in float64 rounded as the
// scalar loop g = grad + wd·param; with vel (momentum mom): v = mom·vel +
// g, vel = float32(v), then g = v, or with nesterov g += mom·vel (vel as
// stored); param = float32(param − lr·g). grad and vel (when not nil) are
// at least as long as param.
func SGD(param, grad, vel []float32, lr, wd, mom float64, nesterov bool) {
	n := len(param)
	if vel != nil {
		same(param, grad, vel)
	} else {
		same(param, grad)
	}
	if n == 0 {
		return
	}
	nb, m := runs(param, 1, n, n, block)
	switch {
	case vel == nil:
		sgd32(&param[0], &grad[0], 1, n, nb, m, lr, wd)
	case nesterov:
		sgdNesterov32(&param[0], &grad[0], &vel[0], 1, n, nb, m, lr, wd, mom)
	default:
		sgdMomentum32(&param[0], &grad[0], &vel[0], 1, n, nb, m, lr, wd, mom)
	}
}

// Adam applies one Adam step to param, m and v in place, in float64 rounded
// as the scalar loop: p = decay·param, g = grad + wd·p, m' = b1·m + c1·g,
// v' = b2·v + c2·g·g, m = float32(m'), v = float32(v'), param = float32(p −
// lr·m'/(√v'·rs + eps)). grad, m and v are at least as long as param.
func Adam(param, grad, m, v []float32, decay, wd, b1, c1, b2, c2, lr, rs, eps float64) {
	same(param, grad, m, v)
	if n := len(param); n > 0 {
		nb, mask := runs(param, 1, n, n, block)
		adam32(&param[0], &grad[0], &m[0], &v[0], 1, n, nb, mask, decay, wd, b1, c1, b2, c2, lr, rs, eps)
	}
}

// pairMasks returns the full blocks of n pairs and the masks of the tail:
// its pairs, and the first and second 16 of its 2·(n mod 16) elements.
func pairMasks(n int) (nb int, mp, m0, m1 uint16) {
	r := n % wide
	return n / wide, uint16(1)<<r - 1, uint16(1)<<min(2*r, wide) - 1, uint16(1)<<max(0, 2*r-wide) - 1
}

// pairRows panics unless rows rows of n pairs fit: the dense operands
// (rows dstride apart) hold n elements a row, the interleaved one (rows
// wstride apart) 2n.
func pairRows(op string, wideLen int, dense [][]float32, rows, n, wstride, dstride int) {
	if rows < 0 || n < 0 || wstride < 0 || dstride < 0 {
		panic("vec: " + op + " with a negative size")
	}
	if rows == 0 || n == 0 {
		return
	}
	if (rows-1)*wstride+2*n > wideLen {
		panic("vec: " + op + ": interleaved operand too short")
	}
	for _, d := range dense {
		if d != nil && (rows-1)*dstride+n > len(d) {
			panic("vec: " + op + ": phase operand too short")
		}
	}
}

// Deal splits rows rows of 2n elements into their two stride-2 phases: for
// row r and i < n it sets even[r·dstride+i] = src[r·wstride+2i] and, when
// odd is not nil, odd[r·dstride+i] = src[r·wstride+2i+1]. It panics when a
// slice is too short or a size negative.
func Deal(even, odd, src []float32, rows, n, wstride, dstride int) {
	pairRows("Deal", len(src), [][]float32{even, odd}, rows, n, wstride, dstride)
	if rows == 0 || n == 0 {
		return
	}
	nb, mp, m0, m1 := pairMasks(n)
	if odd == nil {
		evens32(&even[0], &src[0], rows, wstride, dstride, nb, mp, m0, m1)
		return
	}
	deal32(&even[0], &odd[0], &src[0], rows, wstride, dstride, nb, mp, m0, m1)
}

// Weave is the inverse of Deal: for row r and i < n it sets
// dst[r·wstride+2i] = even[r·dstride+i] and dst[r·wstride+2i+1] =
// odd[r·dstride+i], or 0 when odd is nil. It panics like Deal.
func Weave(dst, even, odd []float32, rows, n, wstride, dstride int) {
	pairRows("Weave", len(dst), [][]float32{even, odd}, rows, n, wstride, dstride)
	if rows == 0 || n == 0 {
		return
	}
	nb, mp, m0, m1 := pairMasks(n)
	if odd == nil {
		weaveZero32(&dst[0], &even[0], rows, wstride, dstride, nb, mp, m0, m1)
		return
	}
	weave32(&dst[0], &even[0], &odd[0], rows, wstride, dstride, nb, mp, m0, m1)
}

// The constants of Sigmoid64's e^t (t ≤ 0), which the generator in ./asm
// also writes into sigmoid32's assembly.
const (
	ExpFloor  = -700 // t is raised to this: e^−700 ≈ 1e−304 is 0 in float32, and 2^n stays normal
	ExpDegree = 13   // of the Taylor polynomial of e^r, |r| ≤ ln(2)/2: its truncation error is below 5e−18
	Log2E     = 1.4426950408889634
	Ln2Hi     = 6.93147180369123816490e-01 // ln 2 to 32 significant bits, so n·Ln2Hi is exact
	Ln2Lo     = 1.90821492927058770002e-10 // ln 2 − Ln2Hi
)

// ExpCoef holds the Taylor coefficients 1/k! for k = 0…ExpDegree, each
// rounded once.
var ExpCoef = func() (c [ExpDegree + 1]float64) {
	f := 1.0
	for k := range c {
		if k > 0 {
			f *= float64(k)
		}
		c[k] = 1 / f
	}
	return c
}()

// Sigmoid64 returns 1/(1+e^−x) in float64, computed as Sigmoid computes each
// lane (and with bit-identical results on every machine: its steps are
// correctly rounded operations and fused multiply-adds): e = e^−|x| as
// p(r)·2^n with n = round(−|x|·log2 e), r = −|x| − n·ln 2 in two fused
// steps and p the degree-13 Taylor polynomial of e^r by Horner's rule; then
// 1/(1+e) for x ≥ 0 and e/(1+e) otherwise. Its error is a few float64 ulps,
// far below float32's, for which it is meant: Sigmoid rounds it once to
// float32. NaN gives NaN, and −|x| is raised to −700 first (the result is
// then below float32's smallest subnormal either way).
func Sigmoid64(x float64) float64 {
	if x != x {
		return x
	}
	t := max(-math.Abs(x), ExpFloor)
	n := math.RoundToEven(t * Log2E)
	r := math.FMA(-n, Ln2Hi, t)
	r = math.FMA(-n, Ln2Lo, r)
	e := ExpCoef[ExpDegree]
	for k := ExpDegree - 1; k >= 0; k-- {
		e = math.FMA(e, r, ExpCoef[k])
	}
	e *= math.Float64frombits(uint64(int64(n)+1023) << 52)
	num := e
	if x >= 0 {
		num = 1
	}
	return num / (1 + e)
}

// Sigmoid sets d[i] = float32(Sigmoid64(float64(a[i]))); a is at least as
// long as d, which may be a.
func Sigmoid(d, a []float32) {
	same(d, a)
	if len(d) > 0 {
		sigmoid32(&d[0], &a[0], 1, 0, len(d)/block, uint16(1)<<(len(d)%block)-1)
	}
}
