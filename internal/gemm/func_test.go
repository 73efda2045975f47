package gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

// naivePack returns a PackFunc reading op(B) from a stored row-major k×n
// matrix b (row stride ldb) element by element, and counts its calls.
func naivePack[T Float](b []T, ldb int, calls *atomic.Int64) PackFunc[T] {
	return func(dst []T, p0, kq, j0, cols, nr int) {
		calls.Add(1)
		panels := (cols + nr - 1) / nr
		if len(dst) != panels*kq*nr {
			panic("naivePack: wrong dst length")
		}
		for t := range panels {
			for p := range kq {
				for j := range nr {
					var v T
					if t*nr+j < cols {
						v = b[(p0+p)*ldb+j0+t*nr+j]
					}
					dst[t*kq*nr+p*nr+j] = v
				}
			}
		}
	}
}

// checkFunc runs one case through GemmFunc with a pack function over the
// case's B (not transposed) and compares with gonum.
func checkFunc[T Float](t *testing.T, threads int, ref gemmFunc[T], eps float64, cs gemmCase, rng *rand.Rand) {
	t.Helper()
	cs.transB = false
	in := newInputs[T](cs, rng)
	want := in.reference(ref)
	got := slices.Clone(in.c)
	var calls atomic.Int64
	GemmFunc(threads, cs.transA, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, naivePack(in.b, in.ldb, &calls), T(cs.beta), got, in.ldc)
	in.compare(t, got, want, in.bound(eps))
	if cs.m > 0 && cs.n > 0 && cs.k > 0 && cs.alpha != 0 && calls.Load() == 0 {
		t.Errorf("%v: pack function never called", cs)
	}
}

// TestGemmFunc checks GemmFunc against gonum on every kernel set and thread
// count, with the cases of TestSgemm and TestDgemm.
func TestGemmFunc(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, cs := range append(fixedCases(), randomCases(rng, 40, 90)...) {
			checkFunc(t, Threads(), refS, 0x1p-24, cs, rng)
			checkFunc(t, Threads(), refD, 0x1p-53, cs, rng)
		}
		// Several k blocks, column blocks and tasks.
		cs := gemmCase{m: 37, n: 450, k: 700, alpha: 1, beta: 0.5, padA: 1, padC: 2}
		checkFunc(t, 0, refS, 0x1p-24, cs, rng)
		checkFunc(t, 0, refD, 0x1p-53, cs, rng)
	})
}

func TestGemmFuncPanics(t *testing.T) {
	a, c := make([]float32, 12), make([]float32, 12)
	var calls atomic.Int64
	pack := naivePack(make([]float32, 12), 3, &calls)
	checkPanics(t, []panicCase{
		{"nil pack", func() { GemmFunc(1, false, 3, 3, 4, 1, a, 4, nil, 0, c, 3) }},
		{"lda = 3", func() { GemmFunc(1, false, 3, 3, 4, 1, a, 3, pack, 0, c, 3) }},
		{"len(c) = 8, expected ≥ 9", func() { GemmFunc(1, false, 3, 3, 4, 1, a, 4, pack, 0, c[:8], 3) }},
	})
}

// TestGatherSegments checks GatherSegments and AddSegments, with and without
// the assembly routines, against their definitions, with segment lengths around every size
// class of the assembly copy (4-, 8-, 16-, 32-byte moves and blocks).
func TestGatherSegments(t *testing.T) {
	saved := useAsmPack
	defer func() { useAsmPack = saved }()
	for _, asm := range []bool{false, saved} {
		useAsmPack = asm
		testGatherSegments[float32](t)
		testGatherSegments[float64](t)
	}
}

func testGatherSegments[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	src := make([]T, 2000)
	for i := range src {
		src[i] = T(i + 1)
	}
	for trial := range 300 {
		nseg := rng.IntN(5)
		segs := make([]Segment, nseg)
		dstride := 0
		for k := range segs {
			l := rng.IntN(40)
			if trial%3 == 0 {
				l = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17}[rng.IntN(12)]
			}
			segs[k] = Segment{Off: rng.IntN(100), Pos: dstride, Len: l}
			dstride += l + rng.IntN(3)
		}
		n := rng.IntN(6)
		offs := make([]int, n)
		for i := range offs {
			offs[i] = rng.IntN(len(src) - 150)
		}
		const guard = -7
		dst := make([]T, n*dstride+5)
		for i := range dst {
			dst[i] = guard
		}
		want := slices.Clone(dst)
		for i, o := range offs {
			for _, sg := range segs {
				for e := range sg.Len {
					want[i*dstride+sg.Pos+e] = src[o+sg.Off+e]
				}
			}
		}
		GatherSegments(dst, src, offs, dstride, segs)
		if !slices.Equal(dst, want) {
			t.Fatalf("asm=%v trial %d: offs %v, stride %d, segments %v:\ngot  %v\nwant %v", useAsmPack, trial, offs, dstride, segs, dst, want)
		}
		// AddSegments adds the rows back onto a copy of src, in row order
		// (rows may overlap).
		sum, wantSum := slices.Clone(src), slices.Clone(src)
		for i, o := range offs {
			for _, sg := range segs {
				for e := range sg.Len {
					wantSum[o+sg.Off+e] += dst[i*dstride+sg.Pos+e]
				}
			}
		}
		AddSegments(sum, dst, offs, dstride, segs)
		if !slices.Equal(sum, wantSum) {
			t.Fatalf("asm=%v trial %d: AddSegments with offs %v, stride %d, segments %v differs from its definition", useAsmPack, trial, offs, dstride, segs)
		}
	}
	checkPanics(t, []panicCase{
		{"least length -1", func() { GatherSegments(make([]T, 8), src, []int{3}, 4, []Segment{{0, 0, -1}}) }},
		{"offset -1", func() { GatherSegments(make([]T, 8), src, []int{3, 0}, 4, []Segment{{-1, 0, 2}}) }},
		{"element 2001 of the scattered slice, past its length 2000", func() { GatherSegments(make([]T, 8), src, []int{3, 1997}, 4, []Segment{{1, 0, 3}}) }},
		{"length 7, expected ≥ 8", func() { GatherSegments(make([]T, 7), src, []int{3, 5}, 4, []Segment{{0, 1, 3}}) }},
		{"length 7, expected ≥ 8", func() { AddSegments(src, make([]T, 7), []int{3, 5}, 4, []Segment{{0, 1, 3}}) }},
	})
}

// TestTransposeSegments checks TransposeSegments against its definition,
// with and without the assembly block transposes: row counts around the
// groups of 8 (float32) and 4 (float64) rows, segments shorter and longer
// than a block, of lengths that are and are not multiples of it, and more
// segments than one chunk; elements it must not write keep their value.
func TestTransposeSegments(t *testing.T) {
	saved := useAsmPack
	defer func() { useAsmPack = saved }()
	for _, asm := range []bool{false, saved} {
		useAsmPack = asm
		testTransposeSegments[float32](t)
		testTransposeSegments[float64](t)
	}
}

func testTransposeSegments[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	src := make([]T, 3000)
	for i := range src {
		src[i] = T(i + 1)
	}
	for trial := range 300 {
		nseg := rng.IntN(6)
		if trial%50 == 0 {
			nseg = 70 + rng.IntN(70)
		}
		segs := make([]Segment, nseg)
		rows := 0
		for k := range segs {
			l := rng.IntN(40)
			if trial%3 == 0 {
				l = []int{0, 1, 3, 4, 5, 7, 8, 9, 14, 15, 16, 17, 24, 28}[rng.IntN(14)]
			}
			segs[k] = Segment{Off: rng.IntN(100), Pos: rows, Len: l}
			rows += l + rng.IntN(3)
		}
		n := rng.IntN(21)
		dstride := n + rng.IntN(4)
		offs := make([]int, n)
		for i := range offs {
			offs[i] = rng.IntN(len(src) - 150)
		}
		const guard = -7
		dst := make([]T, rows*dstride+5)
		for i := range dst {
			dst[i] = guard
		}
		want := slices.Clone(dst)
		for i, o := range offs {
			for _, sg := range segs {
				for e := range sg.Len {
					want[(sg.Pos+e)*dstride+i] = src[o+sg.Off+e]
				}
			}
		}
		TransposeSegments(dst, src, offs, dstride, segs)
		if !slices.Equal(dst, want) {
			t.Fatalf("asm=%v trial %d: offs %v, stride %d, segments %v:\ngot  %v\nwant %v", useAsmPack, trial, offs, dstride, segs, dst, want)
		}
	}
	checkPanics(t, []panicCase{
		{"least length -1", func() { TransposeSegments(make([]T, 8), src, []int{3}, 4, []Segment{{0, 0, -1}}) }},
		{"element 3001 of the scattered slice, past its length 3000", func() { TransposeSegments(make([]T, 8), src, []int{3, 2997}, 4, []Segment{{1, 0, 3}}) }},
		{"length 9, expected ≥ 10", func() { TransposeSegments(make([]T, 9), src, []int{3, 5}, 4, []Segment{{0, 1, 2}}) }},
	})
}

// TestGemmPackedA checks that products with op(A) packed once (PackA,
// GemmPackedA, GemmPackedAPacker) equal those that pack it themselves (Sgemm,
// Dgemm, GemmFunc), and GemmPackedARows on B's rows scattered through a
// slice equals GemmPackedA on the stored B, bit for bit, on every kernel set and several thread
// counts, with transposed and plain A and B, several k blocks, and the
// packed A reused for several B; and that they panic on bad sizes.
func TestGemmPackedA(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		cases := append(fixedCases(), randomCases(rng, 30, 90)...)
		cases = append(cases, gemmCase{m: 37, n: 450, k: 700, alpha: 1, beta: 0.5, padA: 1, padC: 2})
		for _, cs := range cases {
			for _, th := range []int{1, 3} {
				checkPacked[float32](t, th, cs, rng)
				checkPacked[float64](t, th, cs, rng)
			}
		}
	})
	checkPanics(t, []panicCase{ // bad sizes
		{"", func() { PackA(false, 3, 4, make([]float32, 11), 4) }},
		{"", func() { PackA(true, 3, 4, make([]float32, 12), 2) }},
		{"", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedA(1, pa, 5, 1, make([]float32, 19), 5, false, 0, make([]float32, 15), 5)
		}},
		{"", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedAPacker(1, pa, 5, 1, nil, 0, make([]float32, 15), 5)
		}},
		{"", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedARows(1, pa, 5, 1, make([]float32, 20), []int{0, 5, 10}, 0, make([]float32, 15), 5)
		}},
		{"", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedARows(1, pa, 5, 1, make([]float32, 20), []int{0, 5, 10, 16}, 0, make([]float32, 15), 5)
		}},
		{"width 0 and gap 1", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedARowsGap(1, pa, 5, 1, make([]float32, 40), []int{0, 5, 10, 15}, 0, 1, 0, make([]float32, 15), 5)
		}},
		{"offset 15 with 7 columns, outside b of length 21", func() {
			pa := PackA(false, 3, 4, make([]float32, 12), 4)
			GemmPackedARowsGap(1, pa, 5, 1, make([]float32, 21), []int{0, 5, 10, 15}, 2, 1, 0, make([]float32, 15), 5)
		}},
	})
}

func checkPacked[T Float](t *testing.T, threads int, cs gemmCase, rng *rand.Rand) {
	t.Helper()
	in := newInputs[T](cs, rng)
	kern := kernelFor[T]()
	pa := PackA(cs.transA, cs.m, cs.k, in.a, in.lda)
	defer pa.Release()
	for range 2 { // the packed A serves several products
		want, got := slices.Clone(in.c), slices.Clone(in.c)
		gemm(kern, threads, cs.transA, cs.transB, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, in.b, in.ldb, T(cs.beta), want, in.ldc)
		GemmPackedA(threads, pa, cs.n, T(cs.alpha), in.b, in.ldb, cs.transB, T(cs.beta), got, in.ldc)
		if !slices.Equal(got, want) {
			t.Fatalf("%v, %d threads: GemmPackedA differs from the product packing A itself", cs, threads)
		}
		if cs.transB {
			continue
		}
		var calls atomic.Int64
		want, got = slices.Clone(in.c), slices.Clone(in.c)
		GemmFunc(threads, cs.transA, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, naivePack(in.b, in.ldb, &calls), T(cs.beta), want, in.ldc)
		GemmPackedAPacker(threads, pa, cs.n, T(cs.alpha), Packer[T](naivePack(in.b, in.ldb, &calls)), T(cs.beta), got, in.ldc)
		if !slices.Equal(got, want) {
			t.Fatalf("%v, %d threads: GemmPackedAPacker differs from GemmFunc", cs, threads)
		}
		// The rows of B scattered, in shuffled order, through a larger
		// slice: GemmPackedARows reads them in place, with (gap
		// RowsSlack) and without room to read a partial last panel in
		// place too. What lies between the rows is NaN, which must not
		// reach C.
		gap := []int{3, RowsSlack}[rng.IntN(2)]
		offs := make([]int, cs.k)
		scattered := make([]T, cs.k*(cs.n+gap)+1)
		for i := range scattered {
			scattered[i] = T(math.NaN())
		}
		for p, q := range rng.Perm(cs.k) {
			offs[p] = q*(cs.n+gap) + 1
			copy(scattered[offs[p]:][:cs.n], in.b[p*in.ldb:][:cs.n])
		}
		want, got = slices.Clone(in.c), slices.Clone(in.c)
		GemmPackedA(threads, pa, cs.n, T(cs.alpha), in.b, in.ldb, false, T(cs.beta), want, in.ldc)
		GemmPackedARows(threads, pa, cs.n, T(cs.alpha), scattered, offs, T(cs.beta), got, in.ldc)
		if !slices.Equal(got, want) {
			t.Fatalf("%v, %d threads: GemmPackedARows differs from GemmPackedA", cs, threads)
		}
		// The rows again, each cut into runs of width columns with gap
		// NaNs between (GemmPackedARowsGap): tiles that cross no gap, one
		// gap inside either vector, and several gaps.
		width := []int{1, 5, 17, 31, 32, 33, 56, 100, max(1, cs.n)}[rng.IntN(9)]
		gap = 1 + rng.IntN(3)
		span := cs.n + gap*(max(0, cs.n-1)/width)
		offs = offs[:0]
		scattered = make([]T, cs.k*span+2)
		for i := range scattered {
			scattered[i] = T(math.NaN())
		}
		for p, q := range rng.Perm(cs.k) {
			offs = append(offs, q*span+1)
			for j, v := range in.b[p*in.ldb:][:cs.n] {
				scattered[offs[p]+j+gap*(j/width)] = v
			}
		}
		got = slices.Clone(in.c)
		GemmPackedARowsGap(threads, pa, cs.n, T(cs.alpha), scattered, offs, width, gap, T(cs.beta), got, in.ldc)
		if !slices.Equal(got, want) {
			t.Fatalf("%v, %d threads, width %d, gap %d: GemmPackedARowsGap differs from GemmPackedA", cs, threads, width, gap)
		}
		checkRowsA(t, threads, cs, in, rng)
	}
}

// checkRowsA checks GemmRowsA, with op(A) scattered through a slice of
// NaNs as A[i][p] = a[rows[i] + idx[p]] (rows in shuffled order, columns
// at shuffled distinct offsets), against the product on the stored A, bit
// for bit.
func checkRowsA[T Float](t *testing.T, threads int, cs gemmCase, in *inputs[T], rng *rand.Rand) {
	t.Helper()
	// Row i starts at rows[i]·stride; column p at idx[p] < stride.
	stride := cs.k + 1 + rng.IntN(3)
	idx := rng.Perm(stride)[:cs.k]
	rows := rng.Perm(cs.m)
	scattered := make([]T, cs.m*stride+1)
	for i := range scattered {
		scattered[i] = T(math.NaN())
	}
	for i := range rows {
		rows[i] *= stride
		for p := range cs.k {
			if cs.transA {
				scattered[rows[i]+idx[p]] = in.a[p*in.lda+i]
			} else {
				scattered[rows[i]+idx[p]] = in.a[i*in.lda+p]
			}
		}
	}
	want, got := slices.Clone(in.c), slices.Clone(in.c)
	gemm(kernelFor[T](), threads, cs.transA, cs.transB, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, in.b, in.ldb, T(cs.beta), want, in.ldc)
	pb := PackB(cs.transB, cs.k, cs.n, in.b, in.ldb)
	defer pb.Release()
	GemmRowsA(threads, cs.m, T(cs.alpha), scattered, rows, idx, pb, T(cs.beta), false, got, in.ldc)
	if !slices.Equal(got, want) {
		t.Fatalf("%v, %d threads: GemmRowsA differs from the product on the stored A", cs, threads)
	}
	// C stored transposed, with a row stride past m and NaN between the
	// rows, which must stay as they are.
	ldt := max(1, cs.m+rng.IntN(3))
	ct := make([]T, max(0, (cs.n-1)*ldt+cs.m))
	for i := range ct {
		ct[i] = T(math.NaN())
	}
	for i := range cs.m {
		for j := range cs.n {
			ct[j*ldt+i] = in.c[i*in.ldc+j]
		}
	}
	GemmRowsA(threads, cs.m, T(cs.alpha), scattered, rows, idx, pb, T(cs.beta), true, ct, ldt)
	for j := range cs.n {
		for i := range ldt {
			if i >= cs.m {
				if j < cs.n-1 && !math.IsNaN(float64(ct[j*ldt+i])) {
					t.Fatalf("%v, %d threads: transposed GemmRowsA wrote %v between rows, at (%d, %d)", cs, threads, ct[j*ldt+i], j, i)
				}
				continue
			}
			if g, w := ct[j*ldt+i], want[i*in.ldc+j]; g != w && !(g != g && w != w) {
				t.Fatalf("%v, %d threads: transposed GemmRowsA gives %v at (%d, %d), the product on the stored A %v", cs, threads, g, i, j, w)
			}
		}
	}
}
