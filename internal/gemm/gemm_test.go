package gemm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/vkcnn/vkcnn/tensor"
)

// gemmCase is one product to test: sizes, transposes, scalars and the extra
// padding of each leading dimension.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float64
	padA, padB     int
	padC           int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%g beta=%g pad=%d,%d,%d",
		c.transA, c.transB, c.m, c.n, c.k, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

// dims returns the stored rows and columns of A and B.
func (c gemmCase) dims() (ar, ac, br, bc int) {
	ar, ac, br, bc = c.m, c.k, c.k, c.n
	if c.transA {
		ar, ac = ac, ar
	}
	if c.transB {
		br, bc = bc, br
	}
	return
}

// gemmFunc is the signature of Sgemm and Dgemm.
type gemmFunc[T float] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)

func tr(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

var (
	refS gemmFunc[float32] = func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		gonum.Implementation{}.Sgemm(tr(tA), tr(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	refD gemmFunc[float64] = func(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
		gonum.Implementation{}.Dgemm(tr(tA), tr(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
)

// fillPadded returns a rows×cols matrix with leading dimension ld filled with
// values in [-1, 1), the padding between rows set to pad.
func fillPadded[T float](rng *rand.Rand, rows, cols, ld int, pad T) []T {
	x := make([]T, max(0, (rows-1)*ld+cols))
	for i := range x {
		if i%ld < cols {
			x[i] = T(2*rng.Float64() - 1)
		} else {
			x[i] = pad
		}
	}
	return x
}

// checkCase runs one case through f and compares it with gonum's reference
// (see compare). With beta 0 the initial C is NaN, which must not propagate;
// NaN padding of A and B must not be read either.
func checkCase[T float](t *testing.T, f, ref gemmFunc[T], eps float64, cs gemmCase, rng *rand.Rand) {
	t.Helper()
	in := newInputs[T](cs, rng)
	want := in.reference(ref)
	got := slices.Clone(in.c)
	f(cs.transA, cs.transB, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, in.b, in.ldb, T(cs.beta), got, in.ldc)
	in.compare(t, got, want, in.bound(eps))
}

// inputs holds the operands of one case.
type inputs[T float] struct {
	cs            gemmCase
	a, b, c       []T
	lda, ldb, ldc int
}

// newInputs fills the operands of cs with values in [-1, 1): NaN in the
// padding of A and B, 7 in the padding of C, and NaN in C itself when beta
// is 0.
func newInputs[T float](cs gemmCase, rng *rand.Rand) *inputs[T] {
	ar, ac, br, bc := cs.dims()
	in := &inputs[T]{cs: cs, lda: max(1, ac) + cs.padA, ldb: max(1, bc) + cs.padB, ldc: max(1, cs.n) + cs.padC}
	nan := T(math.NaN())
	in.a = fillPadded(rng, ar, ac, in.lda, nan)
	in.b = fillPadded(rng, br, bc, in.ldb, nan)
	in.c = fillPadded(rng, cs.m, cs.n, in.ldc, T(7))
	if cs.beta == 0 {
		for i := range in.c {
			if i%in.ldc < cs.n {
				in.c[i] = nan
			}
		}
	}
	return in
}

// reference returns gonum's result. Its C starts finite where ours starts
// NaN (beta 0), so that a reference reading C cannot hide our bug.
func (in *inputs[T]) reference(ref gemmFunc[T]) []T {
	cs := in.cs
	want := slices.Clone(in.c)
	for i := range want {
		if math.IsNaN(float64(want[i])) {
			want[i] = 0
		}
	}
	ref(cs.transA, cs.transB, cs.m, cs.n, cs.k, T(cs.alpha), in.a, in.lda, in.b, in.ldb, T(cs.beta), want, in.ldc)
	return want
}

// bound returns the tolerance of each element of C:
// 4·(k+2)·eps·(|alpha|·Σ_p|a||b| + |beta·c|), computed in float64 with
// gonum on absolute values (padding and NaN C read as 0).
func (in *inputs[T]) bound(eps float64) []float64 {
	cs := in.cs
	abs := func(x []T) []float64 {
		y := make([]float64, len(x))
		for i, v := range x {
			if !math.IsNaN(float64(v)) {
				y[i] = math.Abs(float64(v))
			}
		}
		return y
	}
	mag := abs(in.c)
	scale := 4 * float64(cs.k+2) * eps
	gonum.Implementation{}.Dgemm(tr(cs.transA), tr(cs.transB), cs.m, cs.n, cs.k,
		scale*math.Abs(cs.alpha), abs(in.a), in.lda, abs(in.b), in.ldb, scale*math.Abs(cs.beta), mag, in.ldc)
	return mag
}

// compare fails t when an element of got differs from want by more than its
// bound, or when the padding of C changed.
func (in *inputs[T]) compare(t *testing.T, got, want []T, bound []float64) {
	t.Helper()
	cs := in.cs
	bad := 0
	for i := range got {
		if i%in.ldc >= cs.n {
			if got[i] != 7 {
				t.Fatalf("%v: padding c[%d] = %v, expected it untouched (7)", cs, i, got[i])
			}
			continue
		}
		diff := math.Abs(float64(got[i]) - float64(want[i]))
		if !(diff <= bound[i]+1e-300) {
			t.Errorf("%v: c[%d][%d] = %v, expected %v (gonum) within %.3g", cs, i/in.ldc, i%in.ldc, got[i], want[i], bound[i])
			if bad++; bad > 5 {
				t.FailNow()
			}
		}
	}
}

// randomCases returns n cases with sizes up to lim, biased towards the
// boundaries of the micro-tiles and k blocks.
func randomCases(rng *rand.Rand, n, lim int) []gemmCase {
	size := func() int {
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.IntN(4)
		case 1:
			return []int{6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65}[rng.IntN(16)]
		default:
			return 1 + rng.IntN(lim)
		}
	}
	scalars := []float64{0, 1, -1, 0.5, 2.25}
	var cases []gemmCase
	for range n {
		cases = append(cases, gemmCase{
			transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
			m: size(), n: size(), k: size(),
			alpha: scalars[1+rng.IntN(len(scalars)-1)], beta: scalars[rng.IntN(len(scalars))],
			padA: rng.IntN(3) * rng.IntN(5), padB: rng.IntN(3) * rng.IntN(5), padC: rng.IntN(3) * rng.IntN(5),
		})
	}
	return cases
}

// fixedCases covers edge cases: empty products, k blocks, several column
// blocks and several tasks, and alpha 0.
func fixedCases() []gemmCase {
	var cases []gemmCase
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			cases = append(cases,
				gemmCase{transA: ta, transB: tb, m: 1, n: 1, k: 1, alpha: 1},
				gemmCase{transA: ta, transB: tb, m: 0, n: 5, k: 3, alpha: 1, beta: 1},
				gemmCase{transA: ta, transB: tb, m: 5, n: 3, k: 0, alpha: 1, beta: 0.5},
				gemmCase{transA: ta, transB: tb, m: 5, n: 3, k: 0, alpha: 1, beta: 0},
				gemmCase{transA: ta, transB: tb, m: 9, n: 10, k: 11, alpha: 0, beta: 2},
				gemmCase{transA: ta, transB: tb, m: 9, n: 10, k: 11, alpha: 0, beta: 0},
				gemmCase{transA: ta, transB: tb, m: 17, n: 33, k: 900, alpha: 1.5, beta: -1, padA: 3, padB: 1, padC: 2},
				gemmCase{transA: ta, transB: tb, m: 23, n: 711, k: 13, alpha: -1, beta: 0.5, padC: 5},
				gemmCase{transA: ta, transB: tb, m: 70, n: 40, k: 50, alpha: 1, beta: 1, padA: 1},
			)
		}
	}
	return cases
}

// forEachKernel runs f once per kernel set available here and per thread
// count, restoring the defaults afterwards.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	defer func() {
		if err := SetKernel("auto"); err != nil {
			t.Fatal(err)
		}
		SetThreads(0)
	}()
	for _, name := range Kernels() {
		for _, th := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", name, th), func(t *testing.T) {
				if err := SetKernel(name); err != nil {
					t.Fatal(err)
				}
				SetThreads(th)
				f(t)
			})
		}
	}
}

func TestSgemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, cs := range append(fixedCases(), randomCases(rng, 60, 90)...) {
			checkCase(t, Sgemm, refS, 0x1p-24, cs, rng)
		}
	})
}

func TestDgemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, cs := range append(fixedCases(), randomCases(rng, 60, 90)...) {
			checkCase(t, Dgemm, refD, 0x1p-53, cs, rng)
		}
	})
}

// TestSlabs forces op(A) to be packed in several slabs of rows.
func TestSlabs(t *testing.T) {
	saved := aBudget
	defer func() { aBudget = saved }()
	aBudget = 64 * 40 * 4 // 64 rows of k = 40 in float32, 32 in float64
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, ta := range []bool{false, true} {
			cs := gemmCase{transA: ta, transB: !ta, m: 150, n: 37, k: 40, alpha: 1, beta: 0.5, padA: 2}
			checkCase(t, Sgemm, refS, 0x1p-24, cs, rng)
			checkCase(t, Dgemm, refD, 0x1p-53, cs, rng)
		}
	})
}

// TestLarge checks one product big enough for several k blocks, column
// blocks and tasks, in float32 on every path, against one reference.
func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large product")
	}
	cs := gemmCase{m: 67, n: 500, k: 801, alpha: 1, beta: 1, padB: 3}
	in := newInputs[float32](cs, rand.New(rand.NewPCG(7, 8)))
	want, bound := in.reference(refS), in.bound(0x1p-24)
	forEachKernel(t, func(t *testing.T) {
		got := slices.Clone(in.c)
		Sgemm(cs.transA, cs.transB, cs.m, cs.n, cs.k, float32(cs.alpha), in.a, in.lda, in.b, in.ldb, float32(cs.beta), got, in.ldc)
		in.compare(t, got, want, bound)
	})
}

// panicCase is a call that must panic with a string containing want (any
// panic when want is "").
type panicCase struct {
	want string
	f    func()
}

// checkPanics runs each case and reports those that return, or panic with
// another message.
func checkPanics(t *testing.T, cases []panicCase) {
	t.Helper()
	for _, tc := range cases {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if r == nil || !strings.Contains(msg, tc.want) {
					t.Errorf("panic %v, expected one containing %q", r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

func TestPanics(t *testing.T) {
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 12)
	checkPanics(t, []panicCase{
		{"m = -1", func() { Sgemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"n = -1", func() { Sgemm(false, false, 3, -1, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"k = -1", func() { Sgemm(false, false, 3, 3, -1, 1, a, 4, b, 3, 0, c, 3) }},
		{"lda = 3", func() { Sgemm(false, false, 3, 3, 4, 1, a, 3, b, 3, 0, c, 3) }},
		{"lda = 2", func() { Sgemm(true, false, 3, 3, 4, 1, a, 2, b, 3, 0, c, 3) }},
		{"ldb = 2", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 2, 0, c, 3) }},
		{"ldb = 3", func() { Sgemm(false, true, 3, 3, 4, 1, a, 4, b, 3, 0, c, 3) }},
		{"ldc = 2", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c, 2) }},
		{"len(a) = 12, expected ≥ 14", func() { Sgemm(false, false, 3, 3, 4, 1, a, 5, b, 3, 0, c, 3) }},
		{"len(b) = 12, expected ≥ 15", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 4, 0, c[:9], 3) }},
		{"len(c) = 8, expected ≥ 9", func() { Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 3, 0, c[:8], 3) }},
		{"len(b) = 12, expected ≥ 14", func() {
			Dgemm(false, true, 3, 3, 4, 1, make([]float64, 12), 4, make([]float64, 12), 5, 0, make([]float64, 9), 3)
		}},
	})
}

func TestSetKernel(t *testing.T) {
	defer SetKernel("auto")
	names := Kernels()
	if len(names) == 0 || names[len(names)-1] != "generic" {
		t.Fatalf("Kernels() = %v, expected a list ending in generic", names)
	}
	for _, name := range names {
		if err := SetKernel(name); err != nil {
			t.Fatalf("SetKernel(%q): %v", name, err)
		}
		if got := Kernel(); got != name {
			t.Errorf("after SetKernel(%q), Kernel() = %q", name, got)
		}
	}
	if err := SetKernel("auto"); err != nil || Kernel() != names[0] {
		t.Errorf("SetKernel(auto) = %v, Kernel() = %q, expected nil and %q", err, Kernel(), names[0])
	}
	if err := SetKernel("sse9"); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("SetKernel(sse9) = %v, expected an ErrParam error", err)
	}
	for _, name := range []string{"avx512", "avx2"} {
		err := SetKernel(name)
		if slices.Contains(names, name) != (err == nil) {
			t.Errorf("SetKernel(%q) = %v with available kernels %v", name, err, names)
		}
		if err != nil && !errors.Is(err, tensor.ErrUnsupported) {
			t.Errorf("SetKernel(%q) = %v, expected an ErrUnsupported error", name, err)
		}
	}
}

// TestThreadsVariants checks SgemmThreads and DgemmThreads, which take the
// goroutine count per call, against Sgemm and Dgemm: the blocking does not
// depend on the count, so the results are identical.
func TestThreadsVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cs := gemmCase{transB: true, m: 45, n: 300, k: 70, alpha: 1, beta: 0.5}
	s := newInputs[float32](cs, rng)
	d := newInputs[float64](cs, rng)
	want32, want64 := slices.Clone(s.c), slices.Clone(d.c)
	Sgemm(cs.transA, cs.transB, cs.m, cs.n, cs.k, 1, s.a, s.lda, s.b, s.ldb, 0.5, want32, s.ldc)
	Dgemm(cs.transA, cs.transB, cs.m, cs.n, cs.k, 1, d.a, d.lda, d.b, d.ldb, 0.5, want64, d.ldc)
	for _, th := range []int{-1, 1, 2, 5} {
		got32, got64 := slices.Clone(s.c), slices.Clone(d.c)
		SgemmThreads(th, cs.transA, cs.transB, cs.m, cs.n, cs.k, 1, s.a, s.lda, s.b, s.ldb, 0.5, got32, s.ldc)
		DgemmThreads(th, cs.transA, cs.transB, cs.m, cs.n, cs.k, 1, d.a, d.lda, d.b, d.ldb, 0.5, got64, d.ldc)
		if !slices.Equal(got32, want32) || !slices.Equal(got64, want64) {
			t.Errorf("threads=%d: SgemmThreads/DgemmThreads differ from Sgemm/Dgemm", th)
		}
	}
}

func TestSetThreads(t *testing.T) {
	defer SetThreads(0)
	SetThreads(5)
	if Threads() != 5 {
		t.Errorf("Threads() = %d after SetThreads(5)", Threads())
	}
	SetThreads(-1)
	if Threads() < 1 {
		t.Errorf("Threads() = %d after SetThreads(-1), expected GOMAXPROCS", Threads())
	}
}

// TestNoAllocs checks that Sgemm, Dgemm and GemmPacker allocate nothing once
// their pools are warm, on one goroutine and on several.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	m, n, k := 67, 301, 130
	a32, b32, c32 := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	a64, b64, c64 := make([]float64, m*k), make([]float64, k*n), make([]float64, m*n)
	p := zeroPacker{}
	for _, th := range []int{1, 4} {
		run := func() {
			SgemmThreads(th, false, false, m, n, k, 1, a32, k, b32, n, 0, c32, n)
			SgemmThreads(th, true, true, m, n, k, 1, a32, m, b32, k, 1, c32, n)
			DgemmThreads(th, false, true, m, n, k, 1, a64, k, b64, k, 0, c64, n)
			GemmPacker[float32](th, false, m, n, k, 1, a32, k, p, 0, c32, n)
		}
		run()
		if a := testing.AllocsPerRun(100, run); a != 0 {
			t.Errorf("%d threads: %v allocations per round of products, expected 0", th, a)
		}
	}
}

// zeroPacker packs a B of zeros.
type zeroPacker struct{}

func (zeroPacker) Pack(dst []float32, _, _, _, _, _ int) { clear(dst) }
