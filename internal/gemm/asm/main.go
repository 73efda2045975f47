// Command asm generates the amd64 GEMM micro-kernels of package gemm with avo
// (github.com/mmcloughlin/avo). Run it through `go generate ./internal/gemm`,
// which writes kernels_amd64.s and its Go declarations kernels_amd64.go.
//
// Every kernel computes one MR×NR tile of C from packed panels:
//
//	acc[i][j] = Σ_{p<k} a[p·MR+i] · b[p·NR+j]
//	c[i·ldc+j] = alpha·acc[i][j]                    when beta == 0 (C not read)
//	c[i·ldc+j] = alpha·acc[i][j] + beta·c[i·ldc+j]  otherwise
//
// The NR columns of a row are held in NV vector registers (NR = NV·lanes) and
// updated with FMAs against a broadcast element of the packed A panel, so
// each step of the k loop loads NV vectors of B and MR scalars of A and
// issues MR·NV independent FMAs. Each kernel comes in three variants (see
// variant): plain, fused (reads B in place and packs it) and half (the left
// half of the tile). The file also holds the AVX routines that pack panels:
// row copies and 8×8 / 4×4 block transposes, and the segment copies and
// sums behind GatherSegments and AddSegments.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// spec describes one micro-kernel.
type spec struct {
	name   string
	double bool // float64 elements, else float32
	zmm    bool // AVX-512 (32 zmm registers), else AVX2 (16 ymm registers)
	mr     int  // rows of the tile: broadcast elements of A per k step
	nv     int  // vector registers per row of the tile
	unroll int  // k steps per iteration of the main loop
}

func (s spec) elem() int {
	if s.double {
		return 8
	}
	return 4
}

func (s spec) vecBytes() int {
	if s.zmm {
		return 64
	}
	return 32
}

func (s spec) nr() int { return s.nv * s.vecBytes() / s.elem() }

func (s spec) vec() VecVirtual {
	if s.zmm {
		return ZMM()
	}
	return YMM()
}

func (s spec) typ() string {
	if s.double {
		return "float64"
	}
	return "float32"
}

var specs = []spec{
	{name: "sgemmAVX512", zmm: true, mr: 8, nv: 2, unroll: 4},
	{name: "dgemmAVX512", double: true, zmm: true, mr: 8, nv: 2, unroll: 4},
	{name: "sgemmAVX2", mr: 6, nv: 2, unroll: 4},
	{name: "dgemmAVX2", double: true, mr: 6, nv: 2, unroll: 4},
}

func main() {
	ConstraintExpr("amd64,!purego")
	for _, s := range specs {
		kernel(s, plain)
		kernel(s, fused)
		kernel(s, half)
		kernel(s, rows)
		if s.zmm {
			for h := range s.nv {
				kernel(s, gap+variant(h))
			}
			rowsA(s, false)
			rowsA(s, true)
		}
	}
	for _, w := range []int{32, 64, 128} {
		copyPanels(w)
	}
	for _, es := range []int{4, 8} {
		gatherSegments(es)
		addSegments(es)
		transposeSegments(es)
	}
	transpose8x8()
	transpose4x4()
	peak(true)
	peak(false)
	Generate()
}

// variant selects what kernel generates.
type variant int

const (
	// plain reads packed panels of A and B.
	plain variant = iota
	// fused (named s.name+"Pack") reads B unpacked, row p of the panel at
	// b+p·ldb, and also stores each row into the packed panel bp, so that
	// the first A micro-panel of a block packs B while it computes: the
	// loads from memory then overlap the FMAs instead of stalling a
	// separate copy.
	fused
	// half (named s.name+"Half") computes only the left half of the tile,
	// the first nv/2 vectors of each row, from the same full-width packed B
	// panel: for the last panel of C when it is at most half full.
	half
	// rows (named s.name+"Rows") reads B in place with no packed copy, row
	// p of the panel at b+offs[p]·es: B is a set of runs of one slice,
	// such as a convolution's implicit im2col matrix over a padded image,
	// whose taps are shifted views of the image.
	rows
	// gap+h (named s.name+"Gap"+h, AVX-512 only) is rows where the
	// columns from a break inside vector h on lie gap elements further
	// on: vector h is loaded from b+offs[p] and then, in the lanes of
	// mask, from gap elements further on; later vectors from there.
	// Across the break the columns of B step from one image row to the
	// next, over the columns of padding between (which rows computes and
	// the caller drops).
	gap
)

// kernel generates variant v of the micro-kernel of s.
func kernel(s spec, v variant) {
	es, mr, nr := s.elem(), s.mr, s.nr()
	nv := s.nv // vectors computed per row
	lanes := nr / nv
	t := s.typ()
	name := s.name
	switch v {
	case fused:
		name += "Pack"
		TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a, b *%s, ldb int, bp, c *%s, ldc int, alpha, beta %s)", t, t, t))
		Doc(fmt.Sprintf("%s is %s reading row p of B at b+p·ldb (ldb in elements) and also copying it to the packed panel bp+p·%d.", name, s.name, nr))
	case rows:
		name += "Rows"
		TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a, b *%s, offs *int, c *%s, ldc int, alpha, beta %s)", t, t, t))
		Doc(fmt.Sprintf("%s is %s reading row p of B at b+offs[p] (in elements) instead of a packed panel.", name, s.name))
	case gap, gap + 1, gap + 2, gap + 3:
		name += fmt.Sprintf("Gap%d", v-gap)
		TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a, b *%s, offs *int, gap, mask int, c *%s, ldc int, alpha, beta %s)", t, t, t))
		Doc(fmt.Sprintf("%s is %sRows reading columns %d·%d+l of B, for the lanes l set in mask, and all later columns gap elements further on.", name, s.name, v-gap, lanes))
	case half:
		name += "Half"
		nv /= 2
		TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a, b, c *%s, ldc int, alpha, beta %s)", t, t))
		Doc(fmt.Sprintf("%s is %s computing only the first %d columns of the tile (b still has %d per step).", name, s.name, nv*lanes, nr))
	default:
		TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a, b, c *%s, ldc int, alpha, beta %s)", t, t))
		Doc(fmt.Sprintf("%s computes a %d×%d tile of C = alpha·A·B + beta·C from k steps of packed panels (a: %d per step, b: %d per step); beta 0 does not read C. ldc is in elements.", name, mr, nr, mr, nr))
	}

	bcast, fma, movu := VBROADCASTSS, VFMADD231PS, VMOVUPS
	if s.double {
		bcast, fma, movu = VBROADCASTSD, VFMADD231PD, VMOVUPD
	}
	zero := func(v VecVirtual) {
		if s.zmm {
			VPXORD(v, v, v)
		} else {
			VXORPS(v, v, v)
		}
	}

	shift := U8(2)
	if s.double {
		shift = U8(3)
	}
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(shift, ldc)
	var ldb, ldb3, bp, pf, offs, bg Register
	inPlace := v >= rows // reads B at b+offs[p]
	brk := -1            // vector holding the break (gap variants)
	if inPlace {
		offs = Load(Param("offs"), GP64())
	}
	if v >= gap {
		brk = int(v - gap)
		Comment("bg is b moved on by gap elements; K1 holds the lanes past the break.")
		bg = Load(Param("gap"), GP64())
		SHLQ(shift, bg)
		ADDQ(b, bg)
		mask := GP64()
		Load(Param("mask"), mask)
		KMOVW(mask.As32(), K1)
	}
	if v == fused {
		ldb = Load(Param("ldb"), GP64())
		SHLQ(shift, ldb)
		ldb3 = GP64()
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
		bp = Load(Param("bp"), GP64())
		Comment(fmt.Sprintf("pf runs %d rows of B ahead of b: rows of B are on different pages, where hardware prefetchers stop.", fusedAhead))
		pf = GP64()
		MOVQ(ldb, pf)
		SHLQ(U8(log2(fusedAhead)), pf)
		ADDQ(b, pf)
	}

	Comment("Prefetch the C tile while the products accumulate.")
	row := GP64()
	MOVQ(c, row)
	for i := 0; i < mr; i++ {
		PREFETCHT0(Mem{Base: row})
		PREFETCHT0(Mem{Base: row, Disp: nv*lanes*es - 1})
		if i < mr-1 {
			ADDQ(ldc, row)
		}
	}

	acc := make([][]VecVirtual, mr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nv)
		for j := range acc[i] {
			acc[i][j] = s.vec()
			zero(acc[i][j])
		}
	}
	bv := make([]VecVirtual, nv)
	for j := range bv {
		bv[j] = s.vec()
	}
	// av is the broadcast element of A: one register for AVX2, a new one
	// per row of the tile for AVX-512 (see step).
	av := s.vec()

	// rowAt returns the address of byte off of row p (< 4) of B from base.
	// The rows variant loads the row's offset into a register first.
	rowAt := func(base Register, p, off int) Mem {
		if inPlace {
			o := GP64()
			MOVQ(Mem{Base: offs, Disp: 8 * p}, o)
			return Mem{Base: base, Index: o, Scale: uint8(es), Disp: off}
		}
		if v != fused {
			return Mem{Base: base, Disp: p*nr*es + off}
		}
		switch p {
		case 0:
			return Mem{Base: base, Disp: off}
		case 3:
			return Mem{Base: base, Index: ldb3, Scale: 1, Disp: off}
		}
		return Mem{Base: base, Index: ldb, Scale: uint8(p), Disp: off}
	}
	step := func(p int) {
		if v == fused {
			PREFETCHT0(rowAt(pf, p, 0))
			PREFETCHT0(rowAt(pf, p, nr*es-1))
		}
		row := rowAt(b, p, 0)
		for j := 0; j < nv; j++ {
			switch {
			case brk < 0 || j < brk:
				movu(row.Offset(j*lanes*es), bv[j])
			case j == brk:
				// The whole vector, then the lanes past the break again
				// from gap elements on (merge masking).
				movu(row.Offset(j*lanes*es), bv[j])
				g := row
				g.Base = bg
				movu(g.Offset(j*lanes*es), K1, bv[j])
			default:
				g := row
				g.Base = bg
				movu(g.Offset(j*lanes*es), bv[j])
			}
		}
		if v == fused {
			for j := 0; j < nv; j++ {
				movu(bv[j], Mem{Base: bp, Disp: (p*nr + j*lanes) * es})
			}
		}
		for i := 0; i < mr; i++ {
			am := Mem{Base: a, Disp: (p*mr + i) * es}
			if s.zmm {
				// A broadcast load into a register of its own per row,
				// not the FMA's embedded broadcast: on AMD Zen 5 the
				// float32 tile ran at about 80% of the register-FMA peak
				// with the embedded form and at 90–95% with this one (and
				// the half-width kernel 6–10% faster), in cache.
				av = s.vec()
			}
			bcast(am, av)
			for j := 0; j < nv; j++ {
				fma(bv[j], av, acc[i][j])
			}
		}
	}
	// advance moves a and b (and bp, pf) on by steps k steps.
	advance := func(steps int) {
		ADDQ(U32(steps*mr*es), a)
		if inPlace {
			ADDQ(U32(steps*8), offs)
			return
		}
		if v != fused {
			ADDQ(U32(steps*nr*es), b)
			return
		}
		ADDQ(U32(steps*nr*es), bp)
		if steps == 1 {
			ADDQ(ldb, b)
			ADDQ(ldb, pf)
			return
		}
		LEAQ(Mem{Base: b, Index: ldb, Scale: uint8(steps)}, b)
		LEAQ(Mem{Base: pf, Index: ldb, Scale: uint8(steps)}, pf)
	}

	kLoop(name, s.unroll, k, step, advance)

	Label(name + "_store")
	storeTile(s, name, acc, c, ldc)
}

// kLoop generates a kernel's loop over its k steps (counted down in k):
// unroll steps an iteration while that many are left, then one at a time,
// each batch followed by advance(steps); it jumps to name+"_store" when
// done.
func kLoop(name string, unroll int, k Register, step, advance func(int)) {
	Comment(fmt.Sprintf("Main loop: %d k steps per iteration.", unroll))
	Label(name + "_loop")
	CMPQ(k, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for p := 0; p < unroll; p++ {
		step(p)
	}
	advance(unroll)
	SUBQ(U8(unroll), k)
	JMP(LabelRef(name + "_loop"))

	Comment("Remaining k steps, one at a time.")
	Label(name + "_tail")
	TESTQ(k, k)
	JE(LabelRef(name + "_store"))
	step(0)
	advance(1)
	DECQ(k)
	JMP(LabelRef(name + "_tail"))
}

// storeTile generates the end of a kernel named name: C = alpha·acc +
// beta·C for the tile of accumulators acc (mr rows of nv vectors), c
// pointing at its first row and ldc holding the row stride in bytes; C is
// not read when beta is 0 (and not NaN).
func storeTile(s spec, name string, acc [][]VecVirtual, c, ldc Register) {
	es, lanes := s.elem(), s.nr()/s.nv
	bcast, fma, movu, mul, movs, ucomi := VBROADCASTSS, VFMADD231PS, VMOVUPS, VMULPS, VMOVSS, VUCOMISS
	if s.double {
		bcast, fma, movu, mul, movs, ucomi = VBROADCASTSD, VFMADD231PD, VMOVUPD, VMULPD, VMOVSD, VUCOMISD
	}
	mr, nv := len(acc), len(acc[0])
	alpha := s.vec()
	beta := s.vec()
	bcast(paramAddr("alpha"), alpha)
	Comment("beta == 0 (and not NaN) means C is only written.")
	bs := XMM()
	zs := XMM()
	movs(paramAddr("beta"), bs)
	VXORPS(zs, zs, zs)
	ucomi(zs, bs)
	JNE(LabelRef(name + "_beta"))
	JP(LabelRef(name + "_beta"))
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			mul(alpha, acc[i][j], acc[i][j])
			movu(acc[i][j], Mem{Base: c, Disp: j * lanes * es})
		}
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()

	Label(name + "_beta")
	bcast(paramAddr("beta"), beta)
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			mul(alpha, acc[i][j], acc[i][j])
			fma(Mem{Base: c, Disp: j * lanes * es}, beta, acc[i][j])
			movu(acc[i][j], Mem{Base: c, Disp: j * lanes * es})
		}
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// rowsA generates s.name+"RowsA", the kernel whose A is read in place
// rather than from a packed panel: A[i][p] = a[rows[i] + idx[p]] for the mr
// rows of the tile, B a packed panel as in the plain kernel. Row i's
// address is computed once, so a k step loads idx[p] and broadcasts each
// row's element from its own base at that offset: the same loads as the
// plain kernel's, plus one. Over a zero-padded image, the im2col matrix
// transposed (output positions × taps) is such an A: rows[i] the flattened
// position of output i, idx[p] where tap p starts. With trans, the kernel
// (s.name+"RowsAT") stores the tile transposed, C[i][j] at c+j·ldc+i, the
// accumulators transposed in registers (storeTileT).
func rowsA(s spec, trans bool) {
	es, mr, nr := s.elem(), s.mr, s.nr()
	nv := s.nv
	lanes := nr / nv
	t := s.typ()
	name := s.name + "RowsA"
	doc := fmt.Sprintf("%s is %s reading A[i][p] at a+rows[i]+idx[p] (in elements) instead of a packed panel.", name, s.name)
	if trans {
		name += "T"
		doc = fmt.Sprintf("%s is %sRowsA storing the tile transposed: C[i][j] at c+j·ldc+i.", name, s.name)
	}
	TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a *%s, rows, idx *int, b, c *%s, ldc int, alpha, beta %s)", t, t, t))
	Doc(doc)
	bcast, fma, movu := VBROADCASTSS, VFMADD231PS, VMOVUPS
	if s.double {
		bcast, fma, movu = VBROADCASTSD, VFMADD231PD, VMOVUPD
	}
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	rowsP := Load(Param("rows"), GP64())
	Comment("base[i] is the address of row i of A.")
	base := make([]GPVirtual, mr)
	for i := range base {
		base[i] = GP64()
		MOVQ(Mem{Base: rowsP, Disp: 8 * i}, base[i])
		LEAQ(Mem{Base: a, Index: base[i], Scale: uint8(es)}, base[i])
	}
	idx := Load(Param("idx"), GP64())
	b := Load(Param("b"), GP64())
	acc := make([][]VecVirtual, mr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nv)
		for j := range acc[i] {
			acc[i][j] = s.vec()
			VPXORD(acc[i][j], acc[i][j], acc[i][j])
		}
	}
	bv := make([]VecVirtual, nv)
	for j := range bv {
		bv[j] = s.vec()
	}
	step := func(p int) {
		o := GP64()
		MOVQ(Mem{Base: idx, Disp: 8 * p}, o)
		for j := range nv {
			movu(Mem{Base: b, Disp: (p*nr + j*lanes) * es}, bv[j])
		}
		for i := range mr {
			av := s.vec()
			bcast(Mem{Base: base[i], Index: o, Scale: uint8(es)}, av)
			for j := range nv {
				fma(bv[j], av, acc[i][j])
			}
		}
	}
	kLoop(name, s.unroll, k, step, func(steps int) {
		ADDQ(U32(steps*8), idx)
		ADDQ(U32(steps*nr*es), b)
	})

	Label(name + "_store")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	shift := U8(2)
	if s.double {
		shift = U8(3)
	}
	SHLQ(shift, ldc)
	if trans {
		storeTileT(s, name, acc, c, ldc)
		return
	}
	storeTile(s, name, acc, c, ldc)
}

// storeTileT is storeTile for a tile stored transposed, C[i][j] at
// c+j·ldc+i (ldc in bytes), for the AVX-512 kernels with mr = 8 and two
// vectors per row: each vector's 8×lanes block of accumulators is
// transposed in registers by unpacks and 128-bit lane shuffles, into a
// row of 8 elements per column j (float32: half a vector, float64: one).
func storeTileT(s spec, name string, acc [][]VecVirtual, c, ldc Register) {
	if len(acc) != 8 || len(acc[0]) != 2 || !s.zmm {
		panic("storeTileT: needs an AVX-512 tile of 8 rows of two vectors")
	}
	lanes := s.nr() / s.nv
	bcast, fma, movu, mul := VBROADCASTSS, VFMADD231PS, VMOVUPS, VMULPS
	if s.double {
		bcast, fma, movu, mul = VBROADCASTSD, VFMADD231PD, VMOVUPD, VMULPD
	}
	alpha := s.vec()
	bcast(paramAddr("alpha"), alpha)
	for i := range acc {
		for j := range acc[i] {
			mul(alpha, acc[i][j], acc[i][j])
		}
	}
	// cols[v] is the block of vector v by columns, as transposeBlock
	// returns it (float64: column e in cols[v][e]; float32: two columns
	// per vector, in its halves).
	cols := make([][]VecVirtual, 2)
	for v := range cols {
		cols[v] = transposeBlock(s, []VecVirtual{acc[0][v], acc[1][v], acc[2][v], acc[3][v], acc[4][v], acc[5][v], acc[6][v], acc[7][v]})
	}
	// Column j's row is at c + j·ldc; l4 holds 4·ldc, p walks the columns.
	l4 := GP64()
	MOVQ(ldc, l4)
	SHLQ(U8(2), l4)
	var l12 GPVirtual
	if !s.double {
		l12 = GP64()
		LEAQ(Mem{Base: l4, Index: l4, Scale: 2}, l12)
	}
	p := GP64()
	beta := s.vec()
	bcast(paramAddr("beta"), beta)
	// beta's bits without the sign, in a general register: the vector
	// registers the test would take hold the tile.
	bits := GP64()
	if s.double {
		MOVQ(paramAddr("beta"), bits)
		SHLQ(U8(1), bits)
	} else {
		MOVL(paramAddr("beta"), bits.As32())
		SHLL(U8(1), bits.As32())
	}
	for _, withBeta := range []bool{false, true} {
		if withBeta {
			Label(name + "_beta")
		} else {
			Comment("beta == ±0 means C is only written.")
			TESTQ(bits, bits)
			JNE(LabelRef(name + "_beta"))
		}
		for v := range 2 {
			// p = c + (v·lanes)·ldc: lanes = 16 is 4·l4, 8 is 2·l4.
			if v == 0 {
				MOVQ(c, p)
			} else {
				LEAQ(Mem{Base: c, Index: l4, Scale: uint8(lanes / 4)}, p)
			}
			if s.double {
				// cols[v][e] is column v·8+e: a whole vector.
				for e := range 8 {
					at := Mem{Base: p}
					if withBeta {
						fma(at, beta, cols[v][e])
					}
					movu(cols[v][e], at)
					if e < 7 {
						ADDQ(ldc, p)
					}
				}
				continue
			}
			// float32: cols[v][e] for e < 4 holds columns e (low half)
			// and e+4 (high half); cols[v][4+e] columns e+8 and e+12.
			for e := range 4 {
				for h, col := range []VecVirtual{cols[v][e], cols[v][4+e]} {
					lo, hi := Mem{Base: p}, Mem{Base: p, Index: l4, Scale: 1}
					if h == 1 {
						lo, hi = Mem{Base: p, Index: l4, Scale: 2}, Mem{Base: p, Index: l12, Scale: 1}
					}
					if withBeta {
						// C's two rows into one vector (a load into its
						// low half alone would leave the register's
						// liveness to avo's guess).
						old := s.vec()
						VBROADCASTF64X4(lo, old)
						VINSERTF64X4(U8(1), hi, old, old)
						fma(old, beta, col)
					}
					VMOVUPS(col.AsY(), lo)
					VEXTRACTF64X4(U8(1), col, hi)
				}
				if e < 3 {
					ADDQ(ldc, p)
				}
			}
		}
		VZEROUPPER()
		RET()
	}
}

// transposeBlock transposes the 8×lanes block held in the 8 vectors r (row
// i in r[i]) and returns it by columns: float64, out[e] holds column e of
// the block (lanes = 8); float32, out[e] for e < 4 holds columns e and e+4
// in its halves, out[4+e] columns e+8 and e+12.
func transposeBlock(s spec, r []VecVirtual) []VecVirtual {
	t := make([]VecVirtual, 8)
	for i := range t {
		t[i] = s.vec()
	}
	if s.double {
		// t[2q] holds rows 2q, 2q+1 of the even columns of each 128-bit
		// lane, t[2q+1] of the odd ones.
		for q := range 4 {
			VUNPCKLPD(r[2*q+1], r[2*q], t[2*q])
			VUNPCKHPD(r[2*q+1], r[2*q], t[2*q+1])
		}
		// Column 2L+h (h = 0 even, 1 odd) is lane L of t[h], t[2+h],
		// t[4+h], t[6+h]. u[2k], u[2k+1] gather lanes 0 and 2, then 1
		// and 3, of rows 0–3 (k = 0) and 4–7; the columns then go into
		// the t registers, free by then.
		out := make([]VecVirtual, 8)
		for h := range 2 {
			var u [4]VecVirtual
			for k, src := range [][2]VecVirtual{{t[h], t[2+h]}, {t[4+h], t[6+h]}} {
				u[2*k], u[2*k+1] = r[4*h+2*k], r[4*h+2*k+1]
				VSHUFF64X2(U8(0b10_00_10_00), src[1], src[0], u[2*k])
				VSHUFF64X2(U8(0b11_01_11_01), src[1], src[0], u[2*k+1])
			}
			for l, pair := range [][2]VecVirtual{{u[0], u[2]}, {u[1], u[3]}} {
				lo, hi := t[2*l+h], t[4+2*l+h]
				VSHUFF64X2(U8(0b10_00_10_00), pair[1], pair[0], lo)
				VSHUFF64X2(U8(0b11_01_11_01), pair[1], pair[0], hi)
				out[2*l+h], out[4+2*l+h] = lo, hi
			}
		}
		return out
	}
	// float32: t[2q] pairs rows 2q, 2q+1 of columns 4L, 4L+1 of lane L,
	// t[2q+1] of columns 4L+2, 4L+3.
	for q := range 4 {
		VUNPCKLPS(r[2*q+1], r[2*q], t[2*q])
		VUNPCKHPS(r[2*q+1], r[2*q], t[2*q+1])
	}
	// u[e] holds rows 0–3 of column 4L+e in lane L, u[4+e] rows 4–7.
	u := r
	for k := range 2 {
		ta, tb, tc, td := t[4*k], t[4*k+1], t[4*k+2], t[4*k+3]
		VUNPCKLPD(tc, ta, u[4*k])
		VUNPCKHPD(tc, ta, u[4*k+1])
		VUNPCKLPD(td, tb, u[4*k+2])
		VUNPCKHPD(td, tb, u[4*k+3])
	}
	// Columns e and e+4: [u[e].L0, u[e].L1, u[4+e].L0, u[4+e].L1] put in
	// lane order 0, 2, 1, 3; columns e+8 and e+12 likewise from lanes 2
	// and 3. They go into the t registers, free by then.
	for e := range 4 {
		VSHUFF32X4(U8(0b01_00_01_00), u[4+e], u[e], t[e])
		VSHUFF32X4(U8(0b11_01_10_00), t[e], t[e], t[e])
		VSHUFF32X4(U8(0b11_10_11_10), u[4+e], u[e], t[4+e])
		VSHUFF32X4(U8(0b11_01_10_00), t[4+e], t[4+e], t[4+e])
	}
	return t
}

// paramAddr returns the stack address of a scalar argument.
func paramAddr(name string) Mem {
	basic, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return basic.Addr
}

// copyPanels generates copyPanelsW, which packs kq rows of panels·W bytes
// (row stride lds bytes) into panels consecutive micro-panels of kq rows of
// W bytes each, dstStride bytes apart: the layout of packed B (and of packed
// A when transposed). It needs AVX.
// prefetchAhead is log2 of how many rows ahead copyPanels prefetches.
const prefetchAhead = 4

func copyPanels(w int) {
	name := fmt.Sprintf("copyPanels%d", w)
	TEXT(name, NOSPLIT, "func(dst, src *byte, lds, kq, panels, dstStride int)")
	Doc(fmt.Sprintf("%s copies, for each of kq rows p, the panels runs of %d bytes at src+p·lds+t·%d to dst+t·dstStride+p·%d.", name, w, w, w))
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	kq := Load(Param("kq"), GP64())
	panels := Load(Param("panels"), GP64())
	stride := Load(Param("dstStride"), GP64())
	s, d, p := GP64(), GP64(), GP64()
	v := make([]VecVirtual, w/32)
	for i := range v {
		v[i] = YMM()
	}
	// Panel by panel: the writes are sequential, the reads one run per row.
	Label(name + "_panel")
	TESTQ(panels, panels)
	JE(LabelRef(name + "_done"))
	TESTQ(kq, kq)
	JE(LabelRef(name + "_done"))
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(kq, p)
	ahead := GP64()
	MOVQ(lds, ahead)
	SHLQ(U8(prefetchAhead), ahead)
	Label(name + "_row")
	// The rows are usually on different pages, where hardware prefetchers
	// stop: fetch the row 2^prefetchAhead ahead explicitly.
	for off := 0; off < w; off += 64 {
		PREFETCHT0(Mem{Base: s, Index: ahead, Scale: 1, Disp: off})
	}
	for i := range v {
		VMOVUPS(Mem{Base: s, Disp: 32 * i}, v[i])
	}
	for i := range v {
		VMOVUPS(v[i], Mem{Base: d, Disp: 32 * i})
	}
	ADDQ(lds, s)
	ADDQ(U8(w), d)
	DECQ(p)
	JNE(LabelRef(name + "_row"))
	ADDQ(U8(w), src)
	ADDQ(stride, dst)
	DECQ(panels)
	JMP(LabelRef(name + "_panel"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gatherSegments generates gatherSegmentsE (E = 32 or 64 bits per
// element), the copy behind GatherSegments: for each of nseg segments
// (off, pos, len) (three ints, in elements) and each of n rows i, it copies
// len elements from src + (offs[i] + seg.off)·es to dst + (i·dstride +
// seg.pos)·es. Segments are the outer loop, so that the rows, the inner
// one, all take the same path through the copy. A segment of at least 32
// bytes moves in 32-byte blocks, the last one overlapping its predecessor so
// that nothing outside the segment is read or written; shorter ones move as
// two overlapping 16-, 8- or 4-byte halves. It needs AVX.
func gatherSegments(es int) {
	name := fmt.Sprintf("gatherSegments%d", 8*es)
	TEXT(name, NOSPLIT, "func(dst, src *byte, offs *int, n, dstride int, segs *int, nseg int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s copies, for i < n and each of the nseg segments (off, pos, len) at segs (three ints, in elements), len elements from src+(offs[i]+seg.off)·%d to dst+(i·dstride+seg.pos)·%d.", name, es, es))
	// dst, offs and n are read from the frame for each segment, which keeps
	// the loops within the general registers that need no saving.
	segs := Load(Param("segs"), GP64())
	nseg := Load(Param("nseg"), GP64())
	dstride := Load(Param("dstride"), GP64())
	shift := U8(log2(es))
	SHLQ(shift, dstride)
	so, dp, left, op, i, sp, t := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
	l := func(s string) string { return name + "_" + s }
	scale := uint8(es)

	Label(l("seg"))
	TESTQ(nseg, nseg)
	JE(LabelRef(l("done")))
	MOVQ(Mem{Base: segs}, so)
	SHLQ(shift, so)
	ADDQ(paramAddr("src"), so) // so = src + off·es
	MOVQ(Mem{Base: segs, Disp: 8}, dp)
	SHLQ(shift, dp)
	ADDQ(paramAddr("dst"), dp) // dp = dst + pos·es, then row by row
	MOVQ(Mem{Base: segs, Disp: 16}, left)
	SHLQ(shift, left) // bytes
	MOVQ(paramAddr("offs"), op)
	MOVQ(paramAddr("n"), i)
	TESTQ(left, left)
	JE(LabelRef(l("next_seg")))
	CMPQ(left, U8(32))
	JB(LabelRef(l("small")))

	// At least 32 bytes: per row, load the last block first, copy whole
	// blocks while more than 32 bytes are left, then store the last block.
	last, v := YMM(), YMM()
	end, dq := GP64(), GP64()
	Label(l("big_row"))
	TESTQ(i, i)
	JE(LabelRef(l("next_seg")))
	MOVQ(Mem{Base: op}, t)
	LEAQ(Mem{Base: so, Index: t, Scale: scale}, sp)
	VMOVUPS(Mem{Base: sp, Index: left, Scale: 1, Disp: -32}, last)
	LEAQ(Mem{Base: dp, Index: left, Scale: 1, Disp: -32}, end)
	MOVQ(dp, dq)
	Label(l("block"))
	CMPQ(dq, end)
	JAE(LabelRef(l("block_done")))
	VMOVUPS(Mem{Base: sp}, v)
	VMOVUPS(v, Mem{Base: dq})
	ADDQ(U8(32), sp)
	ADDQ(U8(32), dq)
	JMP(LabelRef(l("block")))
	Label(l("block_done"))
	VMOVUPS(last, Mem{Base: end})
	ADDQ(U8(8), op)
	ADDQ(dstride, dp)
	DECQ(i)
	JMP(LabelRef(l("big_row")))

	// Under 32 bytes: two overlapping halves of 16, 8 or 4 bytes.
	Label(l("small"))
	CMPQ(left, U8(16))
	JB(LabelRef(l("lt16")))
	x0, x1 := XMM(), XMM()
	Label(l("r16"))
	TESTQ(i, i)
	JE(LabelRef(l("next_seg")))
	MOVQ(Mem{Base: op}, t)
	LEAQ(Mem{Base: so, Index: t, Scale: scale}, sp)
	VMOVUPS(Mem{Base: sp}, x0)
	VMOVUPS(Mem{Base: sp, Index: left, Scale: 1, Disp: -16}, x1)
	VMOVUPS(x0, Mem{Base: dp})
	VMOVUPS(x1, Mem{Base: dp, Index: left, Scale: 1, Disp: -16})
	ADDQ(U8(8), op)
	ADDQ(dstride, dp)
	DECQ(i)
	JMP(LabelRef(l("r16")))

	Label(l("lt16"))
	CMPQ(left, U8(8))
	JB(LabelRef(l("r4")))
	r0, r1 := GP64(), GP64()
	Label(l("r8"))
	TESTQ(i, i)
	JE(LabelRef(l("next_seg")))
	MOVQ(Mem{Base: op}, t)
	LEAQ(Mem{Base: so, Index: t, Scale: scale}, sp)
	MOVQ(Mem{Base: sp}, r0)
	MOVQ(Mem{Base: sp, Index: left, Scale: 1, Disp: -8}, r1)
	MOVQ(r0, Mem{Base: dp})
	MOVQ(r1, Mem{Base: dp, Index: left, Scale: 1, Disp: -8})
	ADDQ(U8(8), op)
	ADDQ(dstride, dp)
	DECQ(i)
	JMP(LabelRef(l("r8")))

	Label(l("r4")) // exactly 4 bytes: one float32
	e0 := GP32()
	TESTQ(i, i)
	JE(LabelRef(l("next_seg")))
	MOVQ(Mem{Base: op}, t)
	MOVL(Mem{Base: so, Index: t, Scale: scale}, e0)
	MOVL(e0, Mem{Base: dp})
	ADDQ(U8(8), op)
	ADDQ(dstride, dp)
	DECQ(i)
	JMP(LabelRef(l("r4")))

	Label(l("next_seg"))
	ADDQ(U8(24), segs)
	DECQ(nseg)
	JMP(LabelRef(l("seg")))
	Label(l("done"))
	VZEROUPPER()
	RET()
}

// transposeSegments generates transposeSegmentsE (E = 32 or 64 bits per
// element), the copy behind TransposeSegments for one group of bs = 32/es
// rows (8 float32 or 4 float64, a ymm register's worth): for each of nseg
// segments (off, pos, len) (three ints, in elements, len ≥ bs) and e < len,
// it sets dst[(pos+e)·ldd + i] = src[offs[i]+off+e] for i < bs. Each
// segment moves as bs×bs block transposes (those of transpose8x8s and
// transpose4x4d, with each source row at its own offset), the last block
// ending at the segment's end and overlapping its predecessor when len is
// not a multiple of bs (it writes the same values again). It needs AVX.
func transposeSegments(es int) {
	bs := 32 / es
	half := bs / 2
	name := fmt.Sprintf("transposeSegments%d", 8*es)
	TEXT(name, NOSPLIT, "func(dst, src *byte, offs *int, ldd int, segs *int, nseg int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets, for each of the nseg segments (off, pos, len) at segs (three ints, in elements, len ≥ %d), dst[(pos+e)·ldd+i] = src[offs[i]+off+e] for i < %d and e < len, in elements of %d bytes.", name, bs, bs, es))
	shift := U8(log2(es))
	segs := Load(Param("segs"), GP64())
	nseg := Load(Param("nseg"), GP64())
	ldd := Load(Param("ldd"), GP64())
	op := Load(Param("offs"), GP64())
	SHLQ(shift, ldd) // bytes
	ldd3 := GP64()
	LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	cur, dp, lastc, lastd := GP64(), GP64(), GP64(), GP64()
	l := func(s string) string { return name + "_" + s }

	// The vector registers of block, shared by its two copies, so that
	// the allocator keeps to Y0–Y15 (AVX without AVX-512).
	r := make([]VecVirtual, bs)
	for i := range r {
		r[i] = YMM()
	}
	tmp := []VecVirtual{YMM(), YMM(), YMM(), YMM(), YMM()}
	// block transposes the bs×bs block whose source rows start at
	// src+offs[i]·es+(cur−src) and whose destination rows start at dpb.
	block := func(cur, dpb Register) {
		out := rows4(dpb, ldd, ldd3)
		if bs == 8 {
			dp4 := GP64()
			LEAQ(Mem{Base: dpb, Index: ldd, Scale: 4}, dp4)
			out = append(out, rows4(dp4, ldd, ldd3)...)
		}
		// r[h·half+i] holds elements h·half.. of row i in its low lane and
		// of row i+half in its high lane.
		for i := 0; i < half; i++ {
			t0, t1 := GP64(), GP64()
			MOVQ(Mem{Base: op, Disp: 8 * i}, t0)
			MOVQ(Mem{Base: op, Disp: 8 * (i + half)}, t1)
			for h := 0; h < 2; h++ {
				v := r[h*half+i]
				VMOVUPS(Mem{Base: cur, Index: t0, Scale: uint8(es), Disp: 16 * h}, v.AsX())
				VINSERTF128(U8(1), Mem{Base: cur, Index: t1, Scale: uint8(es), Disp: 16 * h}, v, v)
			}
		}
		if bs == 4 {
			for h := 0; h < 2; h++ {
				lo, hi := tmp[0], tmp[1]
				VUNPCKLPD(r[h*2+1], r[h*2], lo)
				VUNPCKHPD(r[h*2+1], r[h*2], hi)
				VMOVUPD(lo, out[2*h])
				VMOVUPD(hi, out[2*h+1])
			}
			return
		}
		for h := 0; h < 2; h++ {
			q := r[h*4 : h*4+4]
			lo01, hi01, lo23, hi23 := tmp[0], tmp[1], tmp[2], tmp[3]
			VUNPCKLPS(q[1], q[0], lo01)
			VUNPCKHPS(q[1], q[0], hi01)
			VUNPCKLPS(q[3], q[2], lo23)
			VUNPCKHPS(q[3], q[2], hi23)
			for c, pair := range [][2]VecVirtual{{lo01, lo23}, {lo01, lo23}, {hi01, hi23}, {hi01, hi23}} {
				col := tmp[4]
				imm := U8(0x44)
				if c%2 == 1 {
					imm = U8(0xEE)
				}
				VSHUFPS(imm, pair[1], pair[0], col)
				VMOVUPS(col, out[4*h+c])
			}
		}
	}

	Label(l("seg"))
	TESTQ(nseg, nseg)
	JE(LabelRef(l("done")))
	MOVQ(Mem{Base: segs}, cur)
	SHLQ(shift, cur)
	ADDQ(paramAddr("src"), cur) // cur = src + off·es, then block by block
	MOVQ(Mem{Base: segs, Disp: 8}, dp)
	IMULQ(ldd, dp)
	ADDQ(paramAddr("dst"), dp) // dp = dst + pos·ldd·es
	MOVQ(Mem{Base: segs, Disp: 16}, lastc)
	SUBQ(U8(bs), lastc) // len − bs: the last block's first element
	MOVQ(lastc, lastd)
	IMULQ(ldd, lastd)
	ADDQ(dp, lastd)
	SHLQ(shift, lastc)
	ADDQ(cur, lastc)
	Label(l("block"))
	CMPQ(cur, lastc)
	JA(LabelRef(l("tail")))
	block(cur, dp)
	ADDQ(U8(32), cur)
	LEAQ(Mem{Base: dp, Index: ldd, Scale: uint8(bs)}, dp)
	JMP(LabelRef(l("block")))
	Label(l("tail"))
	// Unless len is a multiple of bs, the last block, ending at the
	// segment's end.
	end := GP64()
	LEAQ(Mem{Base: lastc, Disp: 32}, end)
	CMPQ(cur, end)
	JE(LabelRef(l("next")))
	block(lastc, lastd)
	Label(l("next"))
	ADDQ(U8(24), segs)
	DECQ(nseg)
	JMP(LabelRef(l("seg")))
	Label(l("done"))
	VZEROUPPER()
	RET()
}

// addSegments generates addSegmentsE (E = 32 or 64 bits per element), the
// sum behind AddSegments, the transpose of gatherSegments: for each of n
// rows i and each of nseg segments (off, pos, len) (three ints, in
// elements), it adds the len elements at src + (i·sstride + seg.pos)·es onto
// those at dst + (offs[i] + seg.off)·es. Segments move in 32-byte blocks,
// then one 16-, 8- and 4-byte piece as the length needs, so that every
// element is added exactly once. It needs AVX.
func addSegments(es int) {
	name := fmt.Sprintf("addSegments%d", 8*es)
	TEXT(name, NOSPLIT, "func(dst, src *byte, offs *int, n, sstride int, segs *int, nseg int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s adds, for i < n and each of the nseg segments (off, pos, len) at segs (three ints, in elements), the len elements at src+(i·sstride+seg.pos)·%d onto those at dst+(offs[i]+seg.off)·%d.", name, es, es))
	src := Load(Param("src"), GP64())
	offs := Load(Param("offs"), GP64())
	n := Load(Param("n"), GP64())
	sstride := Load(Param("sstride"), GP64())
	shift := U8(log2(es))
	SHLQ(shift, sstride)
	base, sg, k, sp, dp, left := GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
	l := func(s string) string { return name + "_" + s }
	add := VADDPS
	addScalar := VADDSD
	if es == 4 {
		addScalar = VADDPS // two float32 in the low 8 bytes
	} else {
		add = VADDPD
	}

	Label(l("row"))
	TESTQ(n, n)
	JE(LabelRef(l("done")))
	MOVQ(Mem{Base: offs}, base)
	SHLQ(shift, base)
	ADDQ(paramAddr("dst"), base)
	MOVQ(paramAddr("segs"), sg)
	MOVQ(paramAddr("nseg"), k)

	Label(l("seg"))
	TESTQ(k, k)
	JE(LabelRef(l("next_row")))
	MOVQ(Mem{Base: sg}, dp)
	SHLQ(shift, dp)
	ADDQ(base, dp)
	MOVQ(Mem{Base: sg, Disp: 8}, sp)
	SHLQ(shift, sp)
	ADDQ(src, sp)
	MOVQ(Mem{Base: sg, Disp: 16}, left)
	SHLQ(shift, left)

	Label(l("block"))
	CMPQ(left, U8(32))
	JB(LabelRef(l("lt32")))
	v, u := YMM(), YMM()
	VMOVUPS(Mem{Base: sp}, v)
	VMOVUPS(Mem{Base: dp}, u)
	add(v, u, u)
	VMOVUPS(u, Mem{Base: dp})
	ADDQ(U8(32), sp)
	ADDQ(U8(32), dp)
	SUBQ(U8(32), left)
	JMP(LabelRef(l("block")))

	Label(l("lt32"))
	CMPQ(left, U8(16))
	JB(LabelRef(l("lt16")))
	x, y := XMM(), XMM()
	VMOVUPS(Mem{Base: sp}, x)
	VMOVUPS(Mem{Base: dp}, y)
	add(x, y, y)
	VMOVUPS(y, Mem{Base: dp})
	ADDQ(U8(16), sp)
	ADDQ(U8(16), dp)
	SUBQ(U8(16), left)
	Label(l("lt16"))
	CMPQ(left, U8(8))
	JB(LabelRef(l("lt8")))
	x8, y8 := XMM(), XMM()
	VMOVSD(Mem{Base: sp}, x8)
	VMOVSD(Mem{Base: dp}, y8)
	addScalar(x8, y8, y8)
	VMOVSD(y8, Mem{Base: dp})
	ADDQ(U8(8), sp)
	ADDQ(U8(8), dp)
	SUBQ(U8(8), left)
	Label(l("lt8"))
	if es == 4 {
		TESTQ(left, left)
		JE(LabelRef(l("next_seg")))
		x4, y4 := XMM(), XMM()
		VMOVSS(Mem{Base: sp}, x4)
		VMOVSS(Mem{Base: dp}, y4)
		VADDSS(x4, y4, y4)
		VMOVSS(y4, Mem{Base: dp})
	}

	Label(l("next_seg"))
	ADDQ(U8(24), sg)
	DECQ(k)
	JMP(LabelRef(l("seg")))

	Label(l("next_row"))
	ADDQ(U8(8), offs)
	ADDQ(sstride, src)
	DECQ(n)
	JMP(LabelRef(l("row")))
	Label(l("done"))
	VZEROUPPER()
	RET()
}

// rows returns the addresses of 4 rows, stride apart, from base, with
// three = 3·stride.
func rows4(base, stride, three Register) []Mem {
	return []Mem{
		{Base: base},
		{Base: base, Index: stride, Scale: 1},
		{Base: base, Index: stride, Scale: 2},
		{Base: base, Index: three, Scale: 1},
	}
}

// transpose8x8 generates transpose8x8s, which transposes blocks 8×8 blocks of
// float32: for each block b, dst[(8b+p)·ldd + j] = src[j·lds + 8b+p] for
// j, p < 8. It needs AVX.
func transpose8x8() {
	TEXT("transpose8x8s", NOSPLIT, "func(dst, src *float32, lds, ldd, blocks int)")
	Doc("transpose8x8s sets dst[(8b+p)·ldd+j] = src[j·lds+8b+p] for j, p < 8 and b < blocks; strides in elements.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	ldd := Load(Param("ldd"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(U8(2), lds)
	SHLQ(U8(2), ldd)
	lds3, ldd3, src4, dst4 := GP64(), GP64(), GP64(), GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	Label("transpose8x8s_loop")
	TESTQ(n, n)
	JE(LabelRef("transpose8x8s_done"))
	LEAQ(Mem{Base: src, Index: lds, Scale: 4}, src4)
	LEAQ(Mem{Base: dst, Index: ldd, Scale: 4}, dst4)
	in := append(rows4(src, lds, lds3), rows4(src4, lds, lds3)...)
	out := append(rows4(dst, ldd, ldd3), rows4(dst4, ldd, ldd3)...)
	// r[h·4+i] holds elements 4h..4h+3 of row i in its low lane and of row
	// i+4 in its high lane.
	r := make([]VecVirtual, 8)
	for h := 0; h < 2; h++ {
		for i := 0; i < 4; i++ {
			v := YMM()
			VMOVUPS(in[i].Offset(16*h), v.AsX())
			VINSERTF128(U8(1), in[i+4].Offset(16*h), v, v)
			r[h*4+i] = v
		}
	}
	// Interleave rows 0,1 and 2,3 (4,5 and 6,7 in the high lanes), then
	// pairs of pairs: each result is one column 4h+c of the block.
	for h := 0; h < 2; h++ {
		q := r[h*4 : h*4+4]
		lo01, hi01, lo23, hi23 := YMM(), YMM(), YMM(), YMM()
		VUNPCKLPS(q[1], q[0], lo01)
		VUNPCKHPS(q[1], q[0], hi01)
		VUNPCKLPS(q[3], q[2], lo23)
		VUNPCKHPS(q[3], q[2], hi23)
		for c, pair := range [][2]VecVirtual{{lo01, lo23}, {lo01, lo23}, {hi01, hi23}, {hi01, hi23}} {
			col := YMM()
			imm := U8(0x44)
			if c%2 == 1 {
				imm = U8(0xEE)
			}
			VSHUFPS(imm, pair[1], pair[0], col)
			VMOVUPS(col, out[4*h+c])
		}
	}
	ADDQ(U8(32), src)
	LEAQ(Mem{Base: dst4, Index: ldd, Scale: 4}, dst)
	DECQ(n)
	JMP(LabelRef("transpose8x8s_loop"))
	Label("transpose8x8s_done")
	VZEROUPPER()
	RET()
}

// transpose4x4 generates transpose4x4d, the float64 counterpart of
// transpose8x8s on 4×4 blocks. It needs AVX.
func transpose4x4() {
	TEXT("transpose4x4d", NOSPLIT, "func(dst, src *float64, lds, ldd, blocks int)")
	Doc("transpose4x4d sets dst[(4b+p)·ldd+j] = src[j·lds+4b+p] for j, p < 4 and b < blocks; strides in elements.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	ldd := Load(Param("ldd"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(U8(3), lds)
	SHLQ(U8(3), ldd)
	lds3, ldd3 := GP64(), GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	LEAQ(Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	Label("transpose4x4d_loop")
	TESTQ(n, n)
	JE(LabelRef("transpose4x4d_done"))
	in, out := rows4(src, lds, lds3), rows4(dst, ldd, ldd3)
	// r[h·2+i] holds elements 2h, 2h+1 of row i in its low lane and of row
	// i+2 in its high lane; interleaving a pair gives two columns.
	r := make([]VecVirtual, 4)
	for h := 0; h < 2; h++ {
		for i := 0; i < 2; i++ {
			v := YMM()
			VMOVUPD(in[i].Offset(16*h), v.AsX())
			VINSERTF128(U8(1), in[i+2].Offset(16*h), v, v)
			r[h*2+i] = v
		}
	}
	for h := 0; h < 2; h++ {
		lo, hi := YMM(), YMM()
		VUNPCKLPD(r[h*2+1], r[h*2], lo)
		VUNPCKHPD(r[h*2+1], r[h*2], hi)
		VMOVUPD(lo, out[2*h])
		VMOVUPD(hi, out[2*h+1])
	}
	ADDQ(U8(32), src)
	LEAQ(Mem{Base: dst, Index: ldd, Scale: 4}, dst)
	DECQ(n)
	JMP(LabelRef("transpose4x4d_loop"))
	Label("transpose4x4d_done")
	VZEROUPPER()
	RET()
}

// fusedAhead is how many rows of B ahead the fused kernels prefetch (a power
// of two).
const fusedAhead = 16

func log2(x int) int {
	n := 0
	for x > 1 {
		x >>= 1
		n++
	}
	return n
}

// peak generates fmaPeakAVX512 (zmm) or fmaPeakAVX2 (ymm): a loop of
// register-only float32 FMAs with enough independent accumulators to cover
// the FMA latency on every pipe (24 zmm or 12 ymm: latency 4 × 2 pipes
// needs 8 in flight, and more hides the loop's own instructions), the
// machine's FMA peak with no memory traffic. No result is stored.
func peak(zmm bool) {
	name, accs, lanes := "fmaPeakAVX2", 12, 8
	if zmm {
		name, accs, lanes = "fmaPeakAVX512", 24, 16
	}
	TEXT(name, NOSPLIT, "func(n int)")
	Doc(fmt.Sprintf("%s runs n iterations of %d independent %d-lane float32 FMAs on registers (%d FLOP an iteration).", name, accs, lanes, 2*accs*lanes))
	n := Load(Param("n"), GP64())
	vec := func() VecVirtual {
		if zmm {
			return ZMM()
		}
		return YMM()
	}
	x, y := vec(), vec()
	acc := make([]VecVirtual, accs)
	for _, v := range []VecVirtual{x, y} {
		if zmm {
			VPXORD(v, v, v)
		} else {
			VXORPS(v, v, v)
		}
	}
	for i := range acc {
		acc[i] = vec()
		if zmm {
			VPXORD(acc[i], acc[i], acc[i])
		} else {
			VXORPS(acc[i], acc[i], acc[i])
		}
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JE(LabelRef(name + "_done"))
	for _, a := range acc {
		VFMADD231PS(y, x, a)
	}
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	// Keep the accumulators live to the end of the loop.
	for _, a := range acc[1:] {
		VADDPS(a, acc[0], acc[0])
	}
	VZEROUPPER()
	RET()
}
