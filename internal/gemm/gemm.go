package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/vkcnn/vkcnn/internal/par"
	"github.com/vkcnn/vkcnn/tensor"
)

// float is the element type of a GEMM.
type float = Float

// microKernel is one register-tiled kernel with its blocking parameters.
type microKernel[T float] struct {
	mr, nr int // tile rows (broadcast from packed A) and columns (vectors of packed B)
	kc     int // largest k block: an A micro-panel of mr·kc elements stays in L1
	nc     int // largest column block (multiple of nr): a kc·nc block of packed B stays in L2
	// fn computes the mr×nr tile c = alpha·Σ_p a[p·mr+i]·b[p·nr+j] + beta·c
	// over k steps, not reading c when beta is 0; ldc is in elements.
	fn func(k int, a, b, c *T, ldc int, alpha, beta T)
	// fused, when not nil, is fn reading row p of B at b[p·ldb:] instead,
	// and copying it to the packed panel bp[p·nr:].
	fused func(k int, a, b *T, ldb int, bp, c *T, ldc int, alpha, beta T)
	// half, when not nil, is fn computing only the first nr/2 columns of
	// the tile, for a last panel of C at most half full.
	half func(k int, a, b, c *T, ldc int, alpha, beta T)
	// rows, when not nil, is fn reading row p of B at b[offs[p]:] instead
	// of a packed panel (GemmPackedARows).
	rows func(k int, a, b *T, offs *int, c *T, ldc int, alpha, beta T)
	// gaps, when not nil, are rows for a tile whose columns break inside
	// vector h (gaps[h]): from the lanes of mask on, they lie gap elements
	// further on (GemmPackedARowsGap).
	gaps []func(k int, a, b *T, offs *int, gap, mask int, c *T, ldc int, alpha, beta T)
	// rowsA, when not nil, is fn reading A[i][p] at a[rows[i]+idx[p]]
	// instead of a packed panel (GemmRowsA).
	rowsA func(k int, a *T, rows, idx *int, b, c *T, ldc int, alpha, beta T)
	// rowsAT, with rowsA, is rowsA storing the tile transposed: C[i][j]
	// at c[j·ldc+i].
	rowsAT func(k int, a *T, rows, idx *int, b, c *T, ldc int, alpha, beta T)
}

// kernelSet is a named pair of float32 and float64 micro-kernels for one
// instruction set.
type kernelSet struct {
	name string
	s    *microKernel[float32]
	d    *microKernel[float64]
}

var (
	// available lists the kernel sets this CPU runs, fastest first; the
	// generic set is always last.
	available []*kernelSet
	// current is the kernel set in use.
	current atomic.Pointer[kernelSet]
	// threads is the goroutine count set by SetThreads; 0 means GOMAXPROCS.
	threads atomic.Int64
)

func init() {
	available = append(archKernels(), genericKernels())
	current.Store(available[0])
}

// SetKernel selects the micro-kernels by instruction set: "avx512" (AVX-512F
// with FMA), "avx2" (AVX2 with FMA), "neon" (arm64 Advanced SIMD), "generic"
// (pure Go) or "auto" (the fastest this CPU runs, the default). It returns an error wrapping
// tensor.ErrParam for an unknown name and tensor.ErrUnsupported when the CPU
// (or the build: the purego tag, another architecture) lacks that instruction
// set. It is safe to call concurrently with Sgemm and Dgemm; calls already
// running keep the kernels they started with.
func SetKernel(name string) error {
	if name == "auto" {
		current.Store(available[0])
		return nil
	}
	for _, k := range available {
		if k.name == name {
			current.Store(k)
			return nil
		}
	}
	switch name {
	case "avx512", "avx2", "neon":
		return fmt.Errorf("gemm: kernel %q is not available on this CPU or build (available: %v): %w", name, Kernels(), tensor.ErrUnsupported)
	}
	return fmt.Errorf("gemm: unknown kernel %q, expected \"auto\", \"avx512\", \"avx2\", \"neon\" or \"generic\": %w", name, tensor.ErrParam)
}

// Kernel returns the name of the kernel set in use: "avx512", "avx2", "neon"
// or "generic".
func Kernel() string { return current.Load().name }

// Kernels returns the names of the kernel sets this CPU and build can run,
// fastest first; "generic" is always present.
func Kernels() []string {
	names := make([]string, len(available))
	for i, k := range available {
		names[i] = k.name
	}
	return names
}

// SetThreads sets the number of goroutines one Sgemm or Dgemm call uses at
// most; n < 1 restores the default, runtime.GOMAXPROCS(0) read at each call.
// Small products use fewer goroutines than allowed.
func SetThreads(n int) {
	if n < 1 {
		n = 0
	}
	threads.Store(int64(n))
}

// Threads returns the number of goroutines a call may use: the SetThreads
// value, or GOMAXPROCS.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32, where op(X) is X
// or, when its flag is set, Xᵀ; op(A) is m×k, op(B) is k×n and C is m×n. All
// matrices are row-major with leading dimensions (row strides, in elements)
// lda, ldb and ldc: A is m×k with lda ≥ k, or k×m with lda ≥ m when transA;
// B is k×n with ldb ≥ n, or n×k with ldb ≥ k when transB; ldc ≥ n. When beta
// is 0, C is only written: NaNs and infinities in C do not propagate. When
// alpha is 0 or k is 0, A and B are not read and C = beta·C.
//
// Like BLAS, and unlike the rest of vkcnn, Sgemm panics on bad sizes: a
// negative m, n or k, a leading dimension below its minimum (or below 1), or
// a slice shorter than its matrix needs. Callers validate their input first.
// C must not overlap A or B. It uses up to Threads() goroutines, each
// writing its own blocks of C, and may be called from several goroutines at
// once.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(current.Load().s, Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm in float64: C = alpha·op(A)·op(B) + beta·C, with the same
// layouts, the same rules for alpha and beta, the same panics on bad sizes
// and the same threading.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(current.Load().d, Threads(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm using at most threads goroutines instead of
// Threads(); threads < 1 means Threads(). Callers that already run products
// on several goroutines pass 1.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(current.Load().s, orThreads(threads), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// DgemmThreads is Dgemm using at most threads goroutines instead of
// Threads(); threads < 1 means Threads().
func DgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(current.Load().d, orThreads(threads), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// orThreads returns n, or Threads() when n < 1.
func orThreads(n int) int {
	if n < 1 {
		return Threads()
	}
	return n
}

// checkSizes panics with a BLAS-style message when the sizes are invalid.
// lb < 0 skips the check of B's length (GemmFunc has no stored B).
func checkSizes(transA, transB bool, m, n, k, lda, ldb, ldc, la, lb, lc int) {
	ar, ac := m, k // rows and columns of A as stored
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case m < 0:
		panic(fmt.Sprintf("gemm: m = %d, expected ≥ 0", m))
	case n < 0:
		panic(fmt.Sprintf("gemm: n = %d, expected ≥ 0", n))
	case k < 0:
		panic(fmt.Sprintf("gemm: k = %d, expected ≥ 0", k))
	case lda < max(1, ac):
		panic(fmt.Sprintf("gemm: lda = %d, expected ≥ max(1, %d)", lda, ac))
	case ldb < max(1, bc):
		panic(fmt.Sprintf("gemm: ldb = %d, expected ≥ max(1, %d)", ldb, bc))
	case ldc < max(1, n):
		panic(fmt.Sprintf("gemm: ldc = %d, expected ≥ max(1, %d)", ldc, n))
	}
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	if m == 0 || n == 0 {
		return
	}
	if l := need(ar, ac, lda); la < l {
		panic(fmt.Sprintf("gemm: len(a) = %d, expected ≥ %d", la, l))
	}
	if l := need(br, bc, ldb); lb >= 0 && lb < l {
		panic(fmt.Sprintf("gemm: len(b) = %d, expected ≥ %d", lb, l))
	}
	if l := need(m, n, ldc); lc < l {
		panic(fmt.Sprintf("gemm: len(c) = %d, expected ≥ %d", lc, l))
	}
}

// scaleC sets the m×n matrix C to beta·C, or to 0 when beta is 0.
func scaleC[T float](m, n int, beta T, c []T, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// minWork is the number of multiply-adds below which an extra goroutine
// costs more than it saves (about 10 µs of one core's work).
const minWork = 1 << 19

// aBudget bounds the bytes of op(A) packed at once: rows of A are packed in
// slabs of at most this size, so that a huge m does not need a huge buffer.
// It is a variable so that tests can force several slabs.
var aBudget = 8 << 20

// gemm checks the sizes of Sgemm and Dgemm and runs the driver on the
// stored B.
func gemm[T float](kern *microKernel[T], nthreads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkSizes(transA, transB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c))
	run(kern, nthreads, transA, m, n, k, alpha, a, lda, bSource[T]{b: b, ldb: ldb, trans: transB}, beta, c, ldc, nil)
}

// PackedA is op(A) packed once into the micro-kernels' panel layout, for
// several products with the same A (GemmPackedA, GemmPackedAPacker): a
// convolution packs its kernel once per call instead of once per image.
// It holds pooled memory until Release. The products use the micro-kernels
// it was packed for, whatever SetKernel says since.
type PackedA[T Float] struct {
	kern          *microKernel[T]
	m, k, kc, nkb int
	buf           *buffer[T]
}

// packedPools recycle PackedA structs: [0] float32, [1] float64.
var packedPools = [2]sync.Pool{
	{New: func() any { return new(PackedA[float32]) }},
	{New: func() any { return new(PackedA[float64]) }},
}

// PackA packs op(A), m×k: a is m×k with lda ≥ k, or k×m with lda ≥ m when
// transA. It panics on bad sizes, as Sgemm does.
func PackA[T Float](transA bool, m, k int, a []T, lda int) *PackedA[T] {
	checkSizes(transA, false, m, 1, k, lda, 1, 1, len(a), -1, m)
	var zero T
	p := packedPools[unsafe.Sizeof(zero)/8].Get().(*PackedA[T])
	kern := kernelFor[T]()
	nkb := max(1, (k+kern.kc-1)/kern.kc)
	*p = PackedA[T]{kern: kern, m: m, k: k, nkb: nkb, kc: max(1, (k+nkb-1)/nkb)}
	mr := kern.mr
	pm := (m + mr - 1) / mr
	p.buf = getBuf[T](max(1, pm*mr*k))
	for u := range nkb * pm {
		q, r := u/pm, u%pm
		p0 := q * p.kc
		kq := min(p.kc, k-p0)
		if kq <= 0 {
			continue
		}
		dst := p.buf.data[p0*pm*mr+r*mr*kq:]
		packA(dst[:mr*kq], a, lda, transA, r*mr, min(mr, m-r*mr), p0, kq, mr)
	}
	return p
}

// Rows returns m, the rows of op(A).
func (p *PackedA[T]) Rows() int { return p.m }

// Cols returns k, the columns of op(A).
func (p *PackedA[T]) Cols() int { return p.k }

// PanelWidth returns the columns of C that one micro-kernel call of p's
// kernel set computes: products with p compute n in panels of this many
// columns.
func (p *PackedA[T]) PanelWidth() int { return p.kern.nr }

// Release returns p's memory to the pool; p must not be used after.
func (p *PackedA[T]) Release() {
	putBuf(p.buf)
	*p = PackedA[T]{}
	var zero T
	packedPools[unsafe.Sizeof(zero)/8].Put(p)
}

// GemmPackedA computes C = alpha·op(A)·op(B) + beta·C like Sgemm and
// Dgemm, op(A) (m×k) being the packed pa; op(B) is k×n as in Sgemm, C is m×n
// with ldc ≥ n. It panics on bad sizes.
func GemmPackedA[T Float](threads int, pa *PackedA[T], n int, alpha T, b []T, ldb int, transB bool, beta T, c []T, ldc int) {
	checkSizes(false, transB, pa.m, n, pa.k, max(1, pa.k), ldb, ldc, pa.m*pa.k, len(b), len(c))
	run(pa.kern, orThreads(threads), false, pa.m, n, pa.k, alpha, nil, 0, bSource[T]{b: b, ldb: ldb, trans: transB}, beta, c, ldc, pa)
}

// GemmPackedAPacker is GemmPacker with op(A) packed in pa: C = alpha·op(A)·B
// + beta·C, pack writing the blocks of B (k×n). It panics on bad sizes.
func GemmPackedAPacker[T Float](threads int, pa *PackedA[T], n int, alpha T, pack Packer[T], beta T, c []T, ldc int) {
	if pack == nil {
		panic("gemm: GemmPackedAPacker with a nil Packer")
	}
	checkSizes(false, false, pa.m, n, pa.k, max(1, pa.k), max(1, n), ldc, pa.m*pa.k, -1, len(c))
	run(pa.kern, orThreads(threads), false, pa.m, n, pa.k, alpha, nil, 0, bSource[T]{pack: pack}, beta, c, ldc, pa)
}

// GemmPackedARows computes C = alpha·op(A)·B + beta·C with op(A) (m×k)
// packed in pa and B (k×n) read in place from rows of b at the offsets
// offs (k of them, in elements): B[p][j] = b[offs[p]+j]. The micro-kernels
// that can (every assembly set) read B's full panels straight from b with
// no packed copy; a last partial panel, and B for the pure-Go kernels, is
// packed from the rows. A convolution's im2col matrix is such a B: over a
// zero-padded image, output position j of the flattened planes and tap p
// read element offs[p]+j, so the convolution runs as this product with
// no im2col matrix at all (the columns of positions between two output rows
// compute values that the caller drops). C is m×n with ldc ≥ n. When b
// extends at least RowsSlack elements past the end of every row, a last
// panel more than half full is read in place too (its columns past n
// compute values that are dropped; C must not overlap what they read).
// The result is bit for bit that of GemmPackedA on the stored B. It panics
// on bad sizes, a length of offs other than k included, and on an offset
// that puts a row outside b.
func GemmPackedARows[T Float](threads int, pa *PackedA[T], n int, alpha T, b []T, offs []int, beta T, c []T, ldc int) {
	GemmPackedARowsGap(threads, pa, n, alpha, b, offs, max(1, n), 0, beta, c, ldc)
}

// GemmPackedARowsGap is GemmPackedARows over rows of B that have gaps:
// each row is a run of width columns, then gap elements of b that B skips,
// then the next width columns, and so on: B[p][j] = b[offs[p] + j +
// gap·⌊j/width⌋]. Over a zero-padded image whose rows are width + gap
// long, tap p of output position j (counted densely over rows of width
// outputs) is such an element, so a convolution computes exactly its
// output, with no columns between output rows to drop. The AVX-512
// micro-kernels read a tile that crosses one gap in place (a masked load
// of the vector holding the break); tiles that cross more gaps (width below
// the tile's columns), the last partial panel and the other kernel sets
// pack their panels. With gap 0 it is GemmPackedARows. It panics on bad
// sizes, width < 1 and gap < 0 included, as GemmPackedARows does.
func GemmPackedARowsGap[T Float](threads int, pa *PackedA[T], n int, alpha T, b []T, offs []int, width, gap int, beta T, c []T, ldc int) {
	checkSizes(false, false, pa.m, n, pa.k, max(1, pa.k), max(1, n), ldc, pa.m*pa.k, -1, len(c))
	if len(offs) != pa.k {
		panic(fmt.Sprintf("gemm: GemmPackedARows with %d row offsets, expected k = %d", len(offs), pa.k))
	}
	if width < 1 || gap < 0 {
		panic(fmt.Sprintf("gemm: GemmPackedARowsGap with width %d and gap %d, expected width ≥ 1 and gap ≥ 0", width, gap))
	}
	span := 0 // elements of b a row of B reaches
	if n > 0 {
		span = n + gap*((n-1)/width)
	}
	last := 0
	for _, o := range offs {
		if o < 0 || o+span > len(b) {
			panic(fmt.Sprintf("gemm: GemmPackedARows row at offset %d with %d columns, outside b of length %d", o, span, len(b)))
		}
		last = max(last, o)
	}
	run(pa.kern, orThreads(threads), false, pa.m, n, pa.k, alpha, nil, 0, bSource[T]{b: b, offs: offs, readable: len(b) - last, width: width, gap: gap}, beta, c, ldc, pa)
}

// ReadsGapsInPlace reports whether GemmPackedARowsGap with pa reads every
// full panel of B in place for rows of width columns: whether pa's kernel
// set reads a tile across a gap and no tile crosses two (width is at least
// about half a tile's columns).
func (p *PackedA[T]) ReadsGapsInPlace(width int) bool {
	if p.kern.gaps == nil || width < 1 {
		return false
	}
	for t := range width { // the tiles' starts j mod width repeat within width tiles
		if how, _, _, _ := gapTile(p.kern, t*p.kern.nr, p.kern.nr, width, 1); how == packed {
			return false
		}
	}
	return true
}

// RowsSlack is the number of elements past each row's n columns that lets
// GemmPackedARows read a partial last panel in place: one panel's width
// less one for every kernel set.
const RowsSlack = 31

// packRows packs the kq×cols block of B whose rows are b[offs[p]:] (p <
// kq), with width and gap as in GemmPackedARowsGap, from column j0 on into
// dst as consecutive panels of nr columns, like packB: with one
// GatherSegments per group of segments, a segment being the columns of a
// panel between two gaps; the columns past cols of the last panel zero.
func packRows[T float](dst, b []T, offs []int, j0, cols, nr, width, gap int) {
	kq := len(offs)
	panels := (cols + nr - 1) / nr
	var buf [32]Segment
	segs := buf[:0]
	for t := range panels {
		w := min(nr, cols-t*nr)
		if w < nr {
			clear(dst[t*kq*nr:][:kq*nr])
		}
		for e := 0; e < w; {
			j := j0 + t*nr + e
			run := min(w-e, width-j%width)
			if len(segs) == len(buf) {
				GatherSegments(dst, b, offs, nr, segs)
				segs = segs[:0]
			}
			segs = append(segs, Segment{Off: j + gap*(j/width), Pos: t*kq*nr + e, Len: run})
			e += run
		}
	}
	GatherSegments(dst, b, offs, nr, segs)
}

// bSource is where the driver gets op(B): a stored matrix b with row stride
// ldb, transposed when trans is set; when pack is not nil, a function that
// writes the packed blocks (GemmFunc); when offs is not nil, rows of b at
// those offsets (GemmPackedARows).
type bSource[T float] struct {
	b     []T
	ldb   int
	trans bool
	pack  Packer[T]
	offs  []int
	// readable is how many elements of every row of b at offs can be read
	// (len(b) less the largest offset).
	readable int
	// width and gap: the rows' runs of columns and the elements between
	// them (GemmPackedARowsGap).
	width, gap int
}

// run is the blocked driver behind Sgemm, Dgemm and GemmFunc, on checked
// sizes.
//
// For each slab of rows [i0, i0+mb) of C it packs the whole slab of op(A),
// split in k blocks of at most kc, into micro-panels of mr rows (in parallel).
// C's slab is then cut into a grid of tasks, each at most nc columns wide;
// workers take tasks in turn. A task packs, per k block, its kc×width block
// of op(B) into micro-panels of nr columns, then runs the micro-kernel over
// its tiles: the A micro-panel stays in L1 while the B micro-panels stream
// from L2. When B is not transposed, the first row of tiles of a block packs
// B as it computes (the fused kernel). A last column panel at most half full
// runs the half-width kernel; tiles that overhang C are computed into a
// scratch tile and copied. With a pack function (GemmFunc), the function
// writes each task's block of B instead, and no kernel is fused.
//
// With pre, op(A) is already packed (all of it, in one slab, for kern).
func run[T float](kern *microKernel[T], nthreads int, transA bool, m, n, k int, alpha T, a []T, lda int, src bSource[T], beta T, c []T, ldc int, pre *PackedA[T]) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	mr, nr := kern.mr, kern.nr
	var zero T
	es := int(unsafe.Sizeof(zero))

	// k blocks of nearly equal size, each at most kern.kc.
	nkb := (k + kern.kc - 1) / kern.kc
	kc := (k + nkb - 1) / nkb

	// Row slabs: all of m unless the packed A would exceed aBudget.
	mb := roundUp(m, mr)
	if limit := aBudget / (k * es) / mr * mr; mb > limit && pre == nil {
		mb = max(mr, limit)
	}

	workers := max(1, min(nthreads, int(float64(m)*float64(n)*float64(k)/minWork)))
	s := getSlab[T]()
	defer putSlab(s)
	*s = slab[T]{
		kern: kern, m: m, n: n, k: k, kc: kc, nkb: nkb,
		alpha: alpha, beta: beta, a: a, lda: lda, transA: transA,
		b: src.b, ldb: src.ldb, transB: src.trans, pack: src.pack, offs: src.offs, readable: src.readable, width: src.width, gap: src.gap, c: c, ldc: ldc,
	}
	if pre != nil {
		s.ap = pre.buf.data
	} else {
		ap := getBuf[T](mb * k)
		defer putBuf(ap)
		s.ap = ap.data
	}

	for i0 := 0; i0 < m; i0 += mb {
		s.i0, s.rows = i0, min(mb, m-i0)
		s.pm = (s.rows + mr - 1) / mr
		if pre == nil {
			// Pack the slab of A: units are (k block, panel) pairs.
			s.packing = true
			units := nkb * s.pm
			par.Ranges(min(workers, units), units, s)
			s.packing = false
		}
		s.grid = planGrid(workers, s.pm, (n+nr-1)/nr, kern.nc/nr)
		s.next.Store(0)
		par.Ranges(min(workers, s.grid.tasks()), s.grid.tasks(), s)
	}
}

// slabPools recycle slab structs by element size: [0] float32, [1] float64.
var slabPools = [2]sync.Pool{
	{New: func() any { return new(slab[float32]) }},
	{New: func() any { return new(slab[float64]) }},
}

func getSlab[T float]() *slab[T] {
	var zero T
	return slabPools[unsafe.Sizeof(zero)/8].Get().(*slab[T])
}

// putSlab drops s's references to the caller's slices and pools it.
func putSlab[T float](s *slab[T]) {
	var zero T
	*s = slab[T]{}
	slabPools[unsafe.Sizeof(zero)/8].Put(s)
}

// Run is the par.Task of a slab: with packing set it packs the (k block,
// panel) units [lo, hi) of op(A); otherwise it runs grid tasks until none
// is left.
func (s *slab[T]) Run(_, lo, hi int) {
	if !s.packing {
		s.work()
		return
	}
	mr := s.kern.mr
	for u := lo; u < hi; u++ {
		q, r := u/s.pm, u%s.pm
		p0 := q * s.kc
		kq := min(s.kc, s.k-p0)
		dst := s.ap[p0*s.pm*mr+r*mr*kq:]
		packA(dst[:mr*kq], s.a, s.lda, s.transA, s.i0+r*mr, min(mr, s.rows-r*mr), p0, kq, mr)
	}
}

// slab is the work on one slab of rows of C, shared by its workers: the
// operands, the packed slab of op(A), and the task grid with its counter.
type slab[T float] struct {
	kern        *microKernel[T]
	m, n, k     int
	kc, nkb     int // k block size and count
	i0, pm      int // first row of the slab and its count of A micro-panels
	rows        int // rows of C in the slab
	alpha, beta T
	ap          []T // packed op(A) of the slab: k block q at q·kc·pm·mr
	a           []T
	lda         int
	transA      bool
	packing     bool // Run packs A rather than running grid tasks
	b           []T
	ldb         int
	transB      bool
	pack        Packer[T] // when not nil, writes packed blocks of op(B)
	offs        []int     // when not nil, B's rows are b[offs[p]:]
	readable    int       // elements readable from each of those rows
	width, gap  int       // runs of columns of those rows and the gaps between
	c           []T
	ldc         int
	grid        grid
	next        atomic.Int64
}

// Ways a rows kernel reads a panel of B (slab.inPlace).
const (
	packed = iota // from a packed copy
	direct        // in place, no gap inside the tile
	broken        // in place across one gap (kern.gaps)
)

// inPlace reports how the rows kernels read the panel of B of w ≤ nr
// columns from column j. Without gaps, a full panel is read in place, and
// a last panel w < nr when it is more than half full (else the half-width
// kernel on a packed copy computes less) and the rows of b hold a full
// panel from j; with gaps, as gapTile says. It also returns the element of
// b the tile starts at, relative to a row, and for a broken panel the
// vector holding the break and the mask of the lanes past it.
func (s *slab[T]) inPlace(j, w int) (how, at, vb, mask int) {
	if s.kern.rows == nil {
		return packed, 0, 0, 0
	}
	if s.gap == 0 || s.n <= s.width {
		if w == s.kern.nr || w > s.kern.nr/2 && j+s.kern.nr <= s.readable {
			return direct, j, 0, 0
		}
		return packed, 0, 0, 0
	}
	return gapTile(s.kern, j, w, s.width, s.gap)
}

// packs reports whether the panel jp of B is packed rather than read in
// place (inPlace).
func (s *slab[T]) packs(jp int) bool {
	how, _, _, _ := s.inPlace(jp*s.kern.nr, min(s.kern.nr, s.n-jp*s.kern.nr))
	return how == packed
}

// gapTile reports how kern's rows kernels read the panel of B of w ≤ nr
// columns from column j when B's rows are runs of width columns with gap
// elements between (GemmPackedARowsGap): a full panel that crosses no gap
// directly, one that crosses one gap with the gaps kernel of the vector
// holding it; a last partial panel, and one that crosses two gaps, packed.
// It returns the element of b the tile starts at, relative to a row, and
// for a broken panel the vector holding the break and the mask of the
// lanes past it.
func gapTile[T float](kern *microKernel[T], j, w, width, gap int) (how, at, vb, mask int) {
	nr := kern.nr
	at = j + gap*(j/width)
	brk := width - j%width // columns before the first gap
	switch {
	case kern.rows == nil || w < nr:
		return packed, 0, 0, 0
	case brk >= nr:
		return direct, at, 0, 0
	case kern.gaps == nil || brk+width < nr:
		return packed, 0, 0, 0
	}
	lanes := nr / len(kern.gaps)
	return broken, at, brk / lanes, (1<<lanes - 1) &^ (1<<(brk%lanes) - 1)
}

// claim returns the index of the next task to run, or grid.tasks() when all
// are taken.
func (s *slab[T]) claim() int { return min(int(s.next.Add(1)-1), s.grid.tasks()) }

// work runs tasks until none is left.
func (s *slab[T]) work() {
	mr, nr := s.kern.mr, s.kern.nr
	bpLen := s.kc * roundUp(min(s.n, s.kern.nc), nr)
	bp := getBuf[T](bpLen + mr*nr)
	defer putBuf(bp)
	edge := bp.data[bpLen:]
	tasks := s.grid.tasks()
	for t := s.claim(); t < tasks; {
		r0, r1, c0, c1 := s.grid.task(t)
		j0, j1 := c0*nr, min(s.n, c1*nr)
		for q := range s.nkb {
			p0 := q * s.kc
			kq := min(s.kc, s.k-p0)
			// With a fused kernel, the first row of tiles packs the full
			// panels of B as it goes; only a partial last panel is packed
			// ahead.
			fuse := s.pack == nil && s.offs == nil && !s.transB && s.kern.fused != nil
			if s.pack != nil {
				s.pack.Pack(bp.data[:(c1-c0)*nr*kq], p0, kq, j0, j1-j0, nr)
			} else if s.offs != nil {
				// Pack the runs of panels that the rows kernels do not
				// read in place.
				for jp := c0; jp < c1; {
					if !s.packs(jp) {
						jp++
						continue
					}
					je := jp + 1
					for je < c1 && s.packs(je) {
						je++
					}
					packRows(bp.data[(jp-c0)*nr*kq:(je-c0)*nr*kq], s.b, s.offs[p0:p0+kq], jp*nr, min(je*nr, s.n)-jp*nr, nr, s.width, s.gap)
					jp = je
				}
			} else if !fuse {
				packB(bp.data[:(c1-c0)*nr*kq], s.b, s.ldb, s.transB, p0, kq, j0, j1-j0, nr)
			} else if w := (j1 - j0) % nr; w != 0 {
				packB(bp.data[(c1-c0-1)*nr*kq:(c1-c0)*nr*kq], s.b, s.ldb, false, p0, kq, j1-w, w, nr)
			}
			bq := s.beta
			if q > 0 {
				bq = 1
			}
			apq := s.ap[p0*s.pm*mr:]
			for r := r0; r < r1; r++ {
				apr := apq[r*mr*kq : (r+1)*mr*kq]
				i := s.i0 + r*mr
				h := min(mr, s.m-i)
				for jp := c0; jp < c1; jp++ {
					bpj := bp.data[(jp-c0)*nr*kq : (jp-c0+1)*nr*kq]
					j := jp * nr
					w := min(nr, s.n-j)
					fn, cols := s.kern.fn, nr
					if w <= nr/2 && s.kern.half != nil {
						fn, cols = s.kern.half, nr/2
					}
					full := h == mr && w == cols
					dst, ldd, bd := &edge[0], nr, T(0)
					if full {
						dst, ldd, bd = &s.c[i*s.ldc+j], s.ldc, bq
					}
					how, at, vb, mask := packed, 0, 0, 0
					if s.offs != nil {
						how, at, vb, mask = s.inPlace(j, w)
					}
					if how == direct {
						s.kern.rows(kq, &apr[0], &s.b[at], &s.offs[p0], dst, ldd, s.alpha, bd)
					} else if how == broken {
						s.kern.gaps[vb](kq, &apr[0], &s.b[at], &s.offs[p0], s.gap, mask, dst, ldd, s.alpha, bd)
					} else if fuse && r == r0 && w == nr {
						s.kern.fused(kq, &apr[0], &s.b[p0*s.ldb+j], s.ldb, &bpj[0], dst, ldd, s.alpha, bd)
					} else {
						fn(kq, &apr[0], &bpj[0], dst, ldd, s.alpha, bd)
					}
					if !full {
						mergeEdge(s.c[i*s.ldc+j:], s.ldc, edge, nr, h, w, bq)
					}
				}
			}
		}
		t = s.claim()
	}
}

// mergeEdge sets the h×w block of C at c (row stride ldc) to the scratch
// tile edge (row stride nr) + beta·C, not reading C when beta is 0: the
// tiles that overhang C are computed into edge.
func mergeEdge[T float](c []T, ldc int, edge []T, nr, h, w int, beta T) {
	for ii := range h {
		cr := c[ii*ldc : ii*ldc+w]
		er := edge[ii*nr : ii*nr+w]
		if beta == 0 {
			copy(cr, er)
			continue
		}
		for jj := range cr {
			cr[jj] = er[jj] + beta*cr[jj]
		}
	}
}

// mergeEdgeT is mergeEdge into C stored transposed: element (ii, jj) of
// the tile goes to c[jj·ldc+ii].
func mergeEdgeT[T float](c []T, ldc int, edge []T, nr, h, w int, beta T) {
	for jj := range w {
		cr := c[jj*ldc : jj*ldc+h]
		for ii := range cr {
			if beta == 0 {
				cr[ii] = edge[ii*nr+jj]
			} else {
				cr[ii] = edge[ii*nr+jj] + beta*cr[ii]
			}
		}
	}
}

// grid cuts the pm×pn micro-tiles of a slab of C into tm×tn tasks of nearly
// equal size.
type grid struct{ pm, pn, tm, tn int }

func (g grid) tasks() int { return g.tm * g.tn }

// task returns the panel ranges [r0, r1) of rows and [c0, c1) of columns of
// task t.
func (g grid) task(t int) (r0, r1, c0, c1 int) {
	tr, tc := t/g.tn, t%g.tn
	return split(g.pm, g.tm, tr), split(g.pm, g.tm, tr+1), split(g.pn, g.tn, tc), split(g.pn, g.tn, tc+1)
}

// split returns the start of part i when n items are cut into parts parts
// of nearly equal size.
func split(n, parts, i int) int { return par.Split(n, parts, i) }

// planGrid chooses the task grid for pm×pn tiles, tasks at most ncp tile
// columns wide, run by workers goroutines. It minimises an estimate of the
// time of the slowest worker, in micro-kernel calls: each task computes its
// tiles and packs its column block of B (about half a call per B panel, a
// cost that splitting rows repeats).
func planGrid(workers, pm, pn, ncp int) grid {
	best, bestCost := grid{pm, pn, 1, (pn + ncp - 1) / ncp}, -1.0
	tnMin := best.tn
	for tm := 1; tm <= min(pm, workers); tm++ {
		for tn := tnMin; tn <= min(pn, tnMin+2*workers); tn++ {
			g := grid{pm, pn, tm, tn}
			rows := float64((pm + tm - 1) / tm)
			cols := float64((pn + tn - 1) / tn)
			rounds := float64((g.tasks() + workers - 1) / workers)
			cost := rounds * (rows*cols + 0.5*cols)
			if bestCost < 0 || cost < bestCost {
				best, bestCost = g, cost
			}
		}
	}
	return best
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }
