// Command asm generates the AVX-512 loops of package vec with avo
// (github.com/mmcloughlin/avo). Run it through `go generate ./internal/vec`,
// which writes vec_amd64.s and its Go declarations stubs_amd64.go.
//
// Every routine walks segs runs of float32 elements, run i starting stride
// elements after run i−1, each run nb full blocks and a tail of the lanes
// set in mask (an opmask: masked loads neither read nor fault on the lanes
// left out, masked stores leave them alone). The batch-norm routines
// convert blocks of 8 float32 to 8 float64 and compute in float64, with the
// same operations in the same order as package cpu's scalar loops for what
// they store; sums go to four (or two pairs of) vector accumulators, added
// together at the end. The elementwise routines work on blocks of 16
// float32.
package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/vkcnn/vkcnn/internal/vec"
)

func main() {
	ConstraintExpr("amd64,!purego")
	sum()
	sqDev()
	affine()
	gradSums()
	normGrad()
	relu()
	reluGrad()
	add()
	fill()
	for mode := range 3 {
		sgd(mode)
	}
	adam()
	sigmoid()
	deal(true)
	deal(false)
	weave(true)
	weave(false)
	Generate()
}

// loop is the shape of one routine: its pointer parameters, the elements per
// block (8 or 16) and how many blocks one iteration of the main loop does;
// seg, when not nil, emits work at the start of each run.
type loop struct {
	name  string
	ptrs  []string
	block int
	unrol int
	seg   func()
}

// emit writes the loop over runs and blocks; body emits the work of one
// block, the u-th of an unrolled iteration, reading and writing at byte
// offset off from the pointers p, with tail set for the masked last block
// of a run (whose mask is in K1).
func (l loop) emit(body func(p []GPVirtual, off, u int, tail bool)) {
	bases := make([]GPVirtual, len(l.ptrs))
	for i, name := range l.ptrs {
		bases[i] = GP64()
		Load(Param(name), bases[i])
	}
	segs, stride, nb, mask := GP64(), GP64(), GP64(), GP32()
	Load(Param("segs"), segs)
	Load(Param("stride"), stride)
	SHLQ(U8(2), stride)
	Load(Param("nb"), nb)
	Load(Param("mask"), mask)
	KMOVW(mask, K1)
	bytes := 4 * l.block
	p := make([]GPVirtual, len(l.ptrs))
	for i := range p {
		p[i] = GP64()
	}
	c := GP64()

	Label(l.name + "_seg")
	TESTQ(segs, segs)
	JZ(LabelRef(l.name + "_done"))
	for i := range p {
		MOVQ(bases[i], p[i])
	}
	if l.seg != nil {
		l.seg()
	}
	MOVQ(nb, c)
	Label(l.name + "_unrolled")
	CMPQ(c, U8(l.unrol))
	JL(LabelRef(l.name + "_single"))
	for u := range l.unrol {
		body(p, u*bytes, u, false)
	}
	for i := range p {
		ADDQ(U32(l.unrol*bytes), p[i])
	}
	SUBQ(U8(l.unrol), c)
	JMP(LabelRef(l.name + "_unrolled"))
	Label(l.name + "_single")
	TESTQ(c, c)
	JZ(LabelRef(l.name + "_tail"))
	body(p, 0, 0, false)
	for i := range p {
		ADDQ(U32(bytes), p[i])
	}
	DECQ(c)
	JMP(LabelRef(l.name + "_single"))
	Label(l.name + "_tail")
	body(p, 0, 0, true)
	for i := range bases {
		ADDQ(stride, bases[i])
	}
	DECQ(segs)
	JMP(LabelRef(l.name + "_seg"))
	Label(l.name + "_done")
}

// at is the memory operand off bytes from p.
func at(p GPVirtual, off int) Mem { return Mem{Base: p, Disp: off} }

// widen loads the 8 float32 at m into z as float64, only the tail's lanes
// (zero elsewhere) when tail is set.
func widen(m Mem, z VecVirtual, tail bool) {
	if tail {
		VCVTPS2PD_Z(m, K1, z)
		return
	}
	VCVTPS2PD(m, z)
}

// narrow stores z's 8 float64 at m as float32, rounded to nearest; only the
// tail's lanes when tail is set.
func narrow(z VecVirtual, m Mem, tail bool) {
	y := YMM()
	VCVTPD2PS(z, y)
	if tail {
		VMOVUPS(y, K1, m)
		return
	}
	VMOVUPS(y, m)
}

// broadcast loads the float64 parameter name into every lane of a new
// register.
func broadcast(name string) VecVirtual {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	z := ZMM()
	VBROADCASTSD(b.Addr, z)
	return z
}

// zeros returns n registers set to zero.
func zeros(n int) []VecVirtual {
	z := make([]VecVirtual, n)
	for i := range z {
		z[i] = ZMM()
		VPXORQ(z[i], z[i], z[i])
	}
	return z
}

// reduce adds the lanes of the accumulators acc (float64) and returns the
// sum in the low lane of an X register, adding acc pairwise, then the
// halves of the vector.
func reduce(acc []VecVirtual) VecVirtual {
	for len(acc) > 1 {
		var next []VecVirtual
		for i := 0; i+1 < len(acc); i += 2 {
			VADDPD(acc[i+1], acc[i], acc[i])
			next = append(next, acc[i])
		}
		if len(acc)%2 == 1 {
			next = append(next, acc[len(acc)-1])
		}
		acc = next
	}
	z := acc[0]
	hi := YMM()
	VEXTRACTF64X4(U8(1), z, hi)
	VADDPD(hi, z.AsY(), hi)
	x := XMM()
	VEXTRACTF128(U8(1), hi, x)
	VADDPD(x, hi.AsX(), x)
	h := XMM()
	VPERMILPD(U8(1), x, h)
	VADDSD(h, x, x)
	return x
}

const unroll = 4

func sum() {
	const name = "sum32"
	TEXT(name, NOSPLIT, "func(x *float32, segs, stride, nb int, mask uint16) float64")
	Doc(name + " returns Σ x over the runs, in float64.")
	acc := zeros(unroll)
	loop{name, []string{"x"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, u int, tail bool) {
		v := ZMM()
		widen(at(p[0], off), v, tail)
		VADDPD(v, acc[u], acc[u])
	})
	Store(reduce(acc), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

func sqDev() {
	const name = "sqDev32"
	TEXT(name, NOSPLIT, "func(x *float32, segs, stride, nb int, mask uint16, mu float64) float64")
	Doc(name + " returns Σ (x − mu)² over the runs, in float64.")
	mu := broadcast("mu")
	acc := zeros(unroll)
	loop{name, []string{"x"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, u int, tail bool) {
		v := ZMM()
		widen(at(p[0], off), v, tail)
		if tail {
			VSUBPD_Z(mu, v, K1, v) // lanes past the tail stay 0
		} else {
			VSUBPD(mu, v, v)
		}
		VFMADD231PD(v, v, acc[u])
	})
	Store(reduce(acc), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

func affine() {
	const name = "affine32"
	TEXT(name, NOSPLIT, "func(y, x *float32, segs, stride, nb int, mask uint16, mu, scale, shift float64)")
	Doc(name + " sets y = float32((x − mu)·scale + shift) over the runs.")
	mu, sc, sh := broadcast("mu"), broadcast("scale"), broadcast("shift")
	loop{name, []string{"y", "x"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		v := ZMM()
		widen(at(p[1], off), v, tail)
		VSUBPD(mu, v, v)
		VMULPD(sc, v, v)
		VADDPD(sh, v, v)
		narrow(v, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

func gradSums() {
	const name = "gradSums32"
	TEXT(name, NOSPLIT, "func(dy, x *float32, segs, stride, nb int, mask uint16, mu float64) (sdy, sdyx float64)")
	Doc(name + " returns Σ dy and Σ dy·(x − mu) over the runs, in float64.")
	mu := broadcast("mu")
	a, b := zeros(2), zeros(2)
	loop{name, []string{"dy", "x"}, 8, 2, nil}.emit(func(p []GPVirtual, off, u int, tail bool) {
		d, v := ZMM(), ZMM()
		widen(at(p[0], off), d, tail) // 0 past the tail, so the product is 0 there
		widen(at(p[1], off), v, tail)
		VSUBPD(mu, v, v)
		VADDPD(d, a[u], a[u])
		VFMADD231PD(d, v, b[u])
	})
	Store(reduce(a), ReturnIndex(0))
	Store(reduce(b), ReturnIndex(1))
	VZEROUPPER()
	RET()
}

func normGrad() {
	const name = "normGrad32"
	TEXT(name, NOSPLIT, "func(dx, dy, x *float32, segs, stride, nb int, mask uint16, mu, invStd, mdy, mdyx, k float64)")
	Doc(name + " sets dx = float32(k·((dy − mdy) − ((x − mu)·invStd)·mdyx)) over the runs.")
	mu, is, mdy, mdyx, k := broadcast("mu"), broadcast("invStd"), broadcast("mdy"), broadcast("mdyx"), broadcast("k")
	loop{name, []string{"dx", "dy", "x"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		v, g := ZMM(), ZMM()
		widen(at(p[2], off), v, tail)
		VSUBPD(mu, v, v)
		VMULPD(is, v, v)
		VMULPD(mdyx, v, v)
		widen(at(p[1], off), g, tail)
		VSUBPD(mdy, g, g)
		VSUBPD(v, g, g)
		VMULPD(k, g, g)
		narrow(g, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

// load16 loads the 16 float32 at m into z, only the tail's lanes (zero
// elsewhere) when tail is set.
func load16(m Mem, z VecVirtual, tail bool) {
	if tail {
		VMOVUPS_Z(m, K1, z)
		return
	}
	VMOVUPS(m, z)
}

// store16 stores z's 16 float32 at m, only the tail's lanes when tail is
// set.
func store16(z VecVirtual, m Mem, tail bool) {
	if tail {
		VMOVUPS(z, K1, m)
		return
	}
	VMOVUPS(z, m)
}

func relu() {
	const name = "relu32"
	TEXT(name, NOSPLIT, "func(d, a *float32, segs, stride, nb int, mask uint16)")
	Doc(name + " sets d = max(a, 0) over the runs, as Go's max: NaN stays NaN and −0 becomes +0.")
	zero := zeros(1)[0]
	loop{name, []string{"d", "a"}, 16, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		v := ZMM()
		load16(at(p[1], off), v, tail)
		// MAXPS returns its second source (v) when either is NaN or
		// both are zeros; adding +0 then turns −0 into +0.
		VMAXPS(v, zero, v)
		VADDPS(zero, v, v)
		store16(v, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

func reluGrad() {
	const name = "reluGrad32"
	TEXT(name, NOSPLIT, "func(dx, dy, x *float32, segs, stride, nb int, mask uint16)")
	Doc(name + " sets dx = dy where x > 0, else +0, over the runs.")
	zero := zeros(1)[0]
	loop{name, []string{"dx", "dy", "x"}, 16, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		v, g := ZMM(), ZMM()
		load16(at(p[2], off), v, tail) // 0 past the tail: not > 0
		VCMPPS(U8(0x1e), zero, v, K2)  // _CMP_GT_OQ: v > 0, false for NaN
		VMOVUPS_Z(at(p[1], off), K2, g)
		store16(g, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

func add() {
	const name = "add32"
	TEXT(name, NOSPLIT, "func(d, a, c *float32, segs, stride, nb int, mask uint16)")
	Doc(name + " sets d = a + c over the runs.")
	loop{name, []string{"d", "a", "c"}, 16, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		v, w := ZMM(), ZMM()
		load16(at(p[1], off), v, tail)
		load16(at(p[2], off), w, tail)
		VADDPS(w, v, v)
		store16(v, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

func fill() {
	const name = "fill32"
	TEXT(name, NOSPLIT, "func(d, v *float32, segs, stride, nb int, mask uint16)")
	Doc(name + " sets the elements of run r to v[r].")
	vp := GP64()
	Load(Param("v"), vp)
	z := ZMM()
	l := loop{name: name, ptrs: []string{"d"}, block: 16, unrol: unroll}
	l.seg = func() {
		VBROADCASTSS(Mem{Base: vp}, z)
		ADDQ(U8(4), vp)
	}
	l.emit(func(p []GPVirtual, off, _ int, tail bool) {
		store16(z, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

// sgd generates the SGD step over the runs of param, grad and (mode > 0)
// vel, in float64 with each operation rounded as package cpu's scalar loop
// rounds it (no fused multiply-add): mode 0 plain, 1 with momentum, 2 with
// Nesterov momentum.
func sgd(mode int) {
	name := []string{"sgd32", "sgdMomentum32", "sgdNesterov32"}[mode]
	ptrs, sig := []string{"param", "grad"}, "func(param, grad *float32, segs, stride, nb int, mask uint16, lr, wd float64)"
	doc := " sets g = grad + wd·param, param = float32(param − lr·g) over the runs, in float64."
	if mode > 0 {
		ptrs, sig = append(ptrs, "vel"), "func(param, grad, vel *float32, segs, stride, nb int, mask uint16, lr, wd, mom float64)"
		doc = " sets g = grad + wd·param, v = mom·vel + g, vel = float32(v), g = v, param = float32(param − lr·g) over the runs, in float64."
		if mode == 2 {
			doc = " sets g = grad + wd·param, v = mom·vel + g, vel = float32(v), g += mom·vel, param = float32(param − lr·g) over the runs, in float64."
		}
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + doc)
	lr, wd := broadcast("lr"), broadcast("wd")
	var mom VecVirtual
	if mode > 0 {
		mom = broadcast("mom")
	}
	loop{name, ptrs, 8, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		pv, g, t := ZMM(), ZMM(), ZMM()
		widen(at(p[0], off), pv, tail)
		widen(at(p[1], off), g, tail)
		VMULPD(pv, wd, t)
		VADDPD(t, g, g)
		if mode > 0 {
			v := ZMM()
			widen(at(p[2], off), v, tail)
			VMULPD(mom, v, v)
			VADDPD(g, v, v)
			narrow(v, at(p[2], off), tail)
			if mode == 2 {
				// g += mom·float64(float32(v)): vel as stored.
				y := YMM()
				VCVTPD2PS(v, y)
				VCVTPS2PD(y, v)
				VMULPD(mom, v, v)
				VADDPD(v, g, g)
			} else {
				g = v
			}
		}
		VMULPD(lr, g, g)
		VSUBPD(g, pv, pv)
		narrow(pv, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

// adam generates the Adam step over the runs of param, grad, m and v, in
// float64 rounded as package cpu's scalar loop (no fused multiply-add; the
// square root and the division correctly rounded).
func adam() {
	const name = "adam32"
	TEXT(name, NOSPLIT, "func(param, grad, m, v *float32, segs, stride, nb int, mask uint16, decay, wd, b1, c1, b2, c2, lr, rs, eps float64)")
	Doc(name + " sets p = decay·param, g = grad + wd·p, m' = b1·m + c1·g, v' = b2·v + c2·g·g, m = float32(m'), v = float32(v'), param = float32(p − lr·m'/(√v'·rs + eps)) over the runs, in float64.")
	decay, wd, b1, c1, b2, c2 := broadcast("decay"), broadcast("wd"), broadcast("b1"), broadcast("c1"), broadcast("b2"), broadcast("c2")
	lr, rs, eps := broadcast("lr"), broadcast("rs"), broadcast("eps")
	loop{name, []string{"param", "grad", "m", "v"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		pv, g, mv, vv, t := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
		widen(at(p[0], off), pv, tail)
		VMULPD(pv, decay, pv)
		widen(at(p[1], off), g, tail)
		VMULPD(pv, wd, t)
		VADDPD(t, g, g)
		widen(at(p[2], off), mv, tail)
		VMULPD(mv, b1, mv)
		VMULPD(g, c1, t)
		VADDPD(t, mv, mv)
		widen(at(p[3], off), vv, tail)
		VMULPD(vv, b2, vv)
		VMULPD(g, c2, t)
		VMULPD(g, t, t)
		VADDPD(t, vv, vv)
		narrow(mv, at(p[2], off), tail)
		narrow(vv, at(p[3], off), tail)
		VSQRTPD(vv, t)
		VMULPD(rs, t, t)
		VADDPD(eps, t, t)
		VMULPD(lr, mv, mv)
		VDIVPD(t, mv, mv)
		VSUBPD(mv, pv, pv)
		narrow(pv, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

func sigmoid() {
	const name = "sigmoid32"
	TEXT(name, NOSPLIT, "func(d, a *float32, segs, stride, nb int, mask uint16)")
	Doc(name + " sets d = float32(1/(1+e^−a)) over the runs, computed in float64 as package vec's Sigmoid64.")
	// e^t for t in [ExpFloor, 0] as p(r)·2^n, n = t·log2(e) rounded to the
	// nearest integer (ties to even), r = t − n·Ln2Hi − n·Ln2Lo (two fused
	// steps), p the Taylor polynomial of e^r of degree ExpDegree: package
	// vec's constants, so that Sigmoid64 computes the same.
	coef := GLOBL("expCoef", RODATA|NOPTR)
	for k, c := range vec.ExpCoef {
		DATA(8*k, U64(math.Float64bits(c))) // bits, not F64: the assembler reads $(1) as an integer
	}
	konst := func(v float64) VecVirtual {
		g, z := GP64(), ZMM()
		MOVQ(U64(math.Float64bits(v)), g)
		VPBROADCASTQ(g, z)
		return z
	}
	sign, floor, l2e := konst(math.Copysign(0, -1)), konst(vec.ExpFloor), konst(vec.Log2E)
	hi, lo, one := konst(vec.Ln2Hi), konst(vec.Ln2Lo), konst(1)
	zero := zeros(1)[0]
	loop{name, []string{"d", "a"}, 8, unroll, nil}.emit(func(p []GPVirtual, off, _ int, tail bool) {
		x, t, n, e := ZMM(), ZMM(), ZMM(), ZMM()
		widen(at(p[1], off), x, tail)
		VORPD(sign, x, t)        // t = −|x|
		VMAXPD(t, floor, t)      // max(t, ExpFloor); MAXPD returns its second source, t, when it is NaN
		VMULPD(l2e, t, n)        // n = t·log2(e)
		VRNDSCALEPD(U8(0), n, n) // to the nearest integer, ties to even
		VFNMADD231PD(hi, n, t)   // t −= n·Ln2Hi, rounded once
		VFNMADD231PD(lo, n, t)   // t −= n·Ln2Lo: r
		VBROADCASTSD(coef.Offset(8*vec.ExpDegree), e)
		for k := vec.ExpDegree - 1; k >= 0; k-- {
			VFMADD213PD_BCST(coef.Offset(8*k), t, e) // e = e·r + 1/k!
		}
		VSCALEFPD(n, e, e)            // e·2^n, exact: 2^n is normal above ExpFloor
		VADDPD(one, e, t)             // 1 + e
		VCMPPD(U8(0x1d), zero, x, K2) // _CMP_GE_OQ: x ≥ 0, false for NaN
		VMOVAPD(one, K2, e)           // the numerator: 1 where x ≥ 0, else e
		VDIVPD(t, e, e)
		narrow(e, at(p[0], off), tail)
	})
	VZEROUPPER()
	RET()
}

// indices returns a read-only table of 16 int32 lane indices for the
// two-table permutes (VPERMI2PS: index i < 16 picks lane i of the first
// table, 16 + i lane i of the second).
func indices(name string, idx func(i int) int) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(idx(i)))
	}
	return m
}

// pairLoop emits the loop of deal and weave over rows rows, the pointers
// of the dense side (the phases) rowStride elements apart from row to row
// and that of the interleaved side (src or dst) wideStride apart, each row
// nb blocks of 16 pairs and a tail: body does one block with its three
// masks in K1 (16 bits of pairs, the tail's), K2 and K3 (the two halves of
// its 32 interleaved elements), all set for a full block. p[wide] is the
// interleaved side's pointer.
func pairLoop(name string, ptrs []string, wide int, steps []int, body func(p []GPVirtual, tail bool)) {
	bases := make([]GPVirtual, len(ptrs))
	for i, n := range ptrs {
		bases[i] = GP64()
		Load(Param(n), bases[i])
	}
	rows, ws, ds, nb := GP64(), GP64(), GP64(), GP64()
	Load(Param("rows"), rows)
	Load(Param("wstride"), ws)
	SHLQ(U8(2), ws)
	Load(Param("dstride"), ds)
	SHLQ(U8(2), ds)
	Load(Param("nb"), nb)
	for i, n := range []string{"mp", "m0", "m1"} {
		m := GP32()
		Load(Param(n), m)
		KMOVW(m, []Op{K1, K2, K3}[i])
	}
	p := make([]GPVirtual, len(ptrs))
	for i := range p {
		p[i] = GP64()
	}
	c := GP64()
	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	for i := range p {
		MOVQ(bases[i], p[i])
	}
	MOVQ(nb, c)
	Label(name + "_block")
	TESTQ(c, c)
	JZ(LabelRef(name + "_tail"))
	// Full blocks: the masks are those of the tail, so use unmasked moves.
	body(p, false)
	for i := range p {
		ADDQ(U32(steps[i]), p[i])
	}
	DECQ(c)
	JMP(LabelRef(name + "_block"))
	Label(name + "_tail")
	body(p, true)
	for i := range bases {
		if i == wide {
			ADDQ(ws, bases[i])
		} else {
			ADDQ(ds, bases[i])
		}
	}
	DECQ(rows)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// deal emits deal32 (both phases) or evens32 (the even elements only).
func deal(both bool) {
	name, sig := "deal32", "func(even, odd, src *float32, rows, wstride, dstride, nb int, mp, m0, m1 uint16)"
	ptrs, steps := []string{"even", "odd", "src"}, []int{64, 64, 128}
	doc := name + " sets even[i] = src[2i] and odd[i] = src[2i+1] in each of rows rows (src's wstride elements apart, the others' dstride) for nb blocks of 16 pairs and a tail of the pairs in mp, reading the tail's elements in m0 and m1."
	if !both {
		name, sig = "evens32", "func(even, src *float32, rows, wstride, dstride, nb int, mp, m0, m1 uint16)"
		ptrs, steps = []string{"even", "src"}, []int{64, 128}
		doc = name + " is deal32 without the odd elements."
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	ie := indices(name+"_even", func(i int) int { return 2 * i })
	io := indices(name+"_odd", func(i int) int { return 2*i + 1 })
	pairLoop(name, ptrs, len(ptrs)-1, steps, func(p []GPVirtual, tail bool) {
		src := p[len(p)-1]
		a, b, e := ZMM(), ZMM(), ZMM()
		if tail {
			VMOVUPS_Z(at(src, 0), K2, a)
			VMOVUPS_Z(at(src, 64), K3, b)
		} else {
			VMOVUPS(at(src, 0), a)
			VMOVUPS(at(src, 64), b)
		}
		VMOVDQU32(ie, e)
		VPERMI2PS(b, a, e)
		store16(e, at(p[0], 0), tail)
		if both {
			o := ZMM()
			VMOVDQU32(io, o)
			VPERMI2PS(b, a, o)
			store16(o, at(p[1], 0), tail)
		}
	})
}

// weave emits weave32 (dst from both phases) or weaveZero32 (odd elements
// 0).
func weave(both bool) {
	name, sig := "weave32", "func(dst, even, odd *float32, rows, wstride, dstride, nb int, mp, m0, m1 uint16)"
	ptrs, steps := []string{"dst", "even", "odd"}, []int{128, 64, 64}
	doc := name + " sets dst[2i] = even[i] and dst[2i+1] = odd[i] in each of rows rows (dst's wstride elements apart, the others' dstride) for nb blocks of 16 pairs and a tail of the pairs in mp, writing the tail's elements in m0 and m1."
	if !both {
		name, sig = "weaveZero32", "func(dst, even *float32, rows, wstride, dstride, nb int, mp, m0, m1 uint16)"
		ptrs, steps = []string{"dst", "even"}, []int{128, 64}
		doc = name + " is weave32 with odd elements 0."
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	il := indices(name+"_lo", func(i int) int { return i/2 + 16*(i%2) })
	ih := indices(name+"_hi", func(i int) int { return 8 + i/2 + 16*(i%2) })
	pairLoop(name, ptrs, 0, steps, func(p []GPVirtual, tail bool) {
		e, o, lo, hi := ZMM(), ZMM(), ZMM(), ZMM()
		load16(at(p[1], 0), e, tail)
		if both {
			load16(at(p[2], 0), o, tail)
		} else {
			VXORPS(o, o, o)
		}
		VMOVDQU32(il, lo)
		VPERMI2PS(o, e, lo)
		VMOVDQU32(ih, hi)
		VPERMI2PS(o, e, hi)
		if tail {
			VMOVUPS(lo, K2, at(p[0], 0))
			VMOVUPS(hi, K3, at(p[0], 64))
		} else {
			VMOVUPS(lo, at(p[0], 0))
			VMOVUPS(hi, at(p[0], 64))
		}
	})
}
