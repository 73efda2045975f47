package gemm

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/vkcnn/vkcnn/internal/par"
)

// PackedB is op(B) packed once into the micro-kernels' panel layout, for
// several products with the same B (GemmRowsA): a convolution computed
// output position by output position packs its kernel once per call. It
// holds pooled memory until Release, and the products use the
// micro-kernels it was packed for.
type PackedB[T Float] struct {
	kern          *microKernel[T]
	k, n, kc, nkb int
	pn            int // panels of nr columns
	buf           *buffer[T]
}

// packedBPools recycle PackedB structs: [0] float32, [1] float64.
var packedBPools = [2]sync.Pool{
	{New: func() any { return new(PackedB[float32]) }},
	{New: func() any { return new(PackedB[float64]) }},
}

// PackB packs op(B), k×n: b is k×n with ldb ≥ n, or n×k with ldb ≥ k when
// transB. It panics on bad sizes, as Sgemm does.
func PackB[T Float](transB bool, k, n int, b []T, ldb int) *PackedB[T] {
	checkSizes(false, transB, 1, n, k, max(1, k), ldb, max(1, n), k, len(b), n)
	var zero T
	p := packedBPools[unsafe.Sizeof(zero)/8].Get().(*PackedB[T])
	kern := kernelFor[T]()
	nkb := max(1, (k+kern.kc-1)/kern.kc)
	nr := kern.nr
	*p = PackedB[T]{kern: kern, k: k, n: n, nkb: nkb, kc: max(1, (k+nkb-1)/nkb), pn: (n + nr - 1) / nr}
	p.buf = getBuf[T](max(1, p.pn*nr*k))
	for q := range nkb {
		p0 := q * p.kc
		if kq := min(p.kc, k-p0); kq > 0 && n > 0 {
			packB(p.buf.data[p0*p.pn*nr:][:p.pn*nr*kq], b, ldb, transB, p0, kq, 0, n, nr)
		}
	}
	return p
}

// Release returns p's memory to the pool; p must not be used after.
func (p *PackedB[T]) Release() {
	putBuf(p.buf)
	*p = PackedB[T]{}
	var zero T
	packedBPools[unsafe.Sizeof(zero)/8].Put(p)
}

// ReadsAInPlace reports whether GemmRowsA with pb reads A in place (pb's
// kernel set has such micro-kernels: AVX-512) rather than packing A's
// panels from the rows first.
func (p *PackedB[T]) ReadsAInPlace() bool { return p.kern.rowsA != nil }

// TileSize returns the rows and columns of the micro-kernels' tile in use
// (SetKernel), for T: a product computes C in tiles of that size, so that
// m and n that are not multiples of them waste part of the last tiles.
func TileSize[T Float]() (mr, nr int) {
	k := kernelFor[T]()
	return k.mr, k.nr
}

// RowsAInPlace reports whether the kernel set in use (SetKernel) reads
// GemmRowsA's A in place, for T.
func RowsAInPlace[T Float]() bool { return kernelFor[T]().rowsA != nil }

// GemmRowsA computes C = alpha·A·op(B) + beta·C where A (m×k) is read in
// place, A[i][p] = a[rows[i] + idx[p]] (m row offsets and k column offsets,
// in elements), and op(B) (k×n) is packed in pb. C is m×n with ldc ≥ n.
// The micro-kernels that can (AVX-512) broadcast A's elements straight from
// a; the others pack A's micro-panels from a first. Over a zero-padded
// image, the transposed im2col matrix (output positions × taps) is such an
// A: rows[i] the flattened position of output i, idx[p] where tap p's
// entries start; with the kernel matrix transposed as B, a convolution
// computes its output transposed, a tile of mr output positions by nr
// channels at a time, and with positions as rows, output rows narrower
// than a tile waste nothing. With transC, C is stored transposed, C[i][j]
// at c[j·ldc+i] with ldc ≥ m (the convolution's output in its own layout):
// the AVX-512 kernels transpose each tile in registers on the way out. The
// result is bit for bit that of Sgemm or Dgemm on the stored A and op(B).
// It uses up to threads goroutines (threads < 1: Threads()) and panics on
// bad sizes, a length of rows other than m or of idx other than pb's k,
// and an element of A outside a.
func GemmRowsA[T Float](threads, m int, alpha T, a []T, rows, idx []int, pb *PackedB[T], beta T, transC bool, c []T, ldc int) {
	n, k := pb.n, pb.k
	if transC {
		checkSizes(false, false, n, m, k, max(1, k), max(1, m), ldc, n*k, -1, len(c))
	} else {
		checkSizes(false, false, m, n, k, max(1, k), max(1, n), ldc, m*k, -1, len(c))
	}
	if len(rows) != m || len(idx) != k {
		panic(fmt.Sprintf("gemm: GemmRowsA with %d row and %d column offsets, expected m = %d and k = %d", len(rows), len(idx), m, k))
	}
	lo, hi := extent(rows)
	ilo, ihi := extent(idx)
	if m > 0 && k > 0 && (lo+ilo < 0 || hi+ihi >= len(a)) {
		panic(fmt.Sprintf("gemm: GemmRowsA reads elements %d to %d of a, whose length is %d", lo+ilo, hi+ihi, len(a)))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		if transC {
			scaleC(n, m, beta, c, ldc)
		} else {
			scaleC(m, n, beta, c, ldc)
		}
		return
	}
	var zero T
	pool := &rowsATasks[unsafe.Sizeof(zero)/8]
	t, _ := pool.Get().(*rowsATask[T])
	if t == nil {
		t = new(rowsATask[T])
	}
	*t = rowsATask[T]{pb: pb, m: m, alpha: alpha, beta: beta, a: a, rows: rows, idx: idx, transC: transC, c: c, ldc: ldc}
	tiles := (m + pb.kern.mr - 1) / pb.kern.mr
	workers := max(1, min(orThreads(threads), tiles, int(float64(m)*float64(n)*float64(k)/minWork)))
	par.Ranges(workers, tiles, t)
	*t = rowsATask[T]{}
	pool.Put(t)
}

// rowOffsets recycles the arrays of a tile's row offsets that rowsATask.Run
// passes to the micro-kernels (one on the stack would escape through the
// kernel's function value).
var rowOffsets = sync.Pool{New: func() any { return new([16]int) }}

// rowsATasks recycle the tasks of GemmRowsA calls, so that a call
// allocates nothing: [0] float32, [1] float64.
var rowsATasks [2]sync.Pool

// extent returns the least and the largest element of s (0, 0 when empty).
func extent(s []int) (lo, hi int) {
	if len(s) == 0 {
		return 0, 0
	}
	lo, hi = s[0], s[0]
	for _, v := range s[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// rowsATask is a GemmRowsA call as the par.Task over its tiles of mr rows.
type rowsATask[T float] struct {
	pb          *PackedB[T]
	m           int
	alpha, beta T
	a           []T
	rows, idx   []int
	transC      bool
	c           []T
	ldc         int
}

// Run computes the tiles of rows [lo, hi): per k block, each tile against
// every panel of B. A tile of fewer than mr rows repeats its last row's
// offset and, like a panel of fewer than nr columns, goes through a scratch
// tile; with transC, kernels that cannot store transposed put every tile
// there.
func (t *rowsATask[T]) Run(_, lo, hi int) {
	pb := t.pb
	kern := pb.kern
	mr, nr := kern.mr, kern.nr
	buf := getBuf[T](mr*nr + mr*pb.kc)
	defer putBuf(buf)
	edge, ap := buf.data[:mr*nr], buf.data[mr*nr:]
	rt := rowOffsets.Get().(*[16]int) // the tile's row offsets (mr ≤ 16)
	defer rowOffsets.Put(rt)
	for q := range pb.nkb {
		p0 := q * pb.kc
		kq := min(pb.kc, pb.k-p0)
		if kq <= 0 {
			break
		}
		bq := t.beta
		if q > 0 {
			bq = 1
		}
		blk := pb.buf.data[p0*pb.pn*nr:]
		// tile computes the current tile against the panel bp of B, not
		// transposed, into dst (row stride ldd) with beta bd.
		tile := func(bp, dst *T, ldd int, bd T) {
			if kern.rowsA != nil {
				kern.rowsA(kq, &t.a[0], &rt[0], &t.idx[p0], bp, dst, ldd, t.alpha, bd)
			} else {
				kern.fn(kq, &ap[0], bp, dst, ldd, t.alpha, bd)
			}
		}
		for r := lo; r < hi; r++ {
			i := r * mr
			h := min(mr, t.m-i)
			for ii := range mr {
				rt[ii] = t.rows[i+min(ii, h-1)]
			}
			if kern.rowsA == nil {
				// Pack the tile's micro-panel: A[i][p0+p] at p·mr + i.
				for p, o := range t.idx[p0 : p0+kq] {
					for ii := range mr {
						ap[p*mr+ii] = t.a[rt[ii]+o]
					}
				}
			}
			for jp := range pb.pn {
				j := jp * nr
				w := min(nr, pb.n-j)
				bp := &blk[jp*kq*nr]
				switch full := h == mr && w == nr; {
				case !t.transC:
					dst, ldd, bd := &edge[0], nr, T(0)
					if full {
						dst, ldd, bd = &t.c[i*t.ldc+j], t.ldc, bq
					}
					tile(bp, dst, ldd, bd)
					if !full {
						mergeEdge(t.c[i*t.ldc+j:], t.ldc, edge, nr, h, w, bq)
					}
				case kern.rowsAT != nil:
					// The tile transposed: nr rows of mr.
					dst, ldd, bd := &edge[0], mr, T(0)
					if full {
						dst, ldd, bd = &t.c[j*t.ldc+i], t.ldc, bq
					}
					kern.rowsAT(kq, &t.a[0], &rt[0], &t.idx[p0], bp, dst, ldd, t.alpha, bd)
					if !full {
						mergeEdge(t.c[j*t.ldc+i:], t.ldc, edge, mr, w, h, bq)
					}
				default:
					// Through edge: a full tile with C's elements
					// moved in (so that beta is applied as the kernels
					// apply it) and out, a partial one merged as
					// mergeEdge merges.
					ct, bd, bm := t.c[j*t.ldc+i:], T(0), bq
					if full {
						for jj := range nr {
							for ii, v := range ct[jj*t.ldc:][:mr] {
								edge[ii*nr+jj] = v
							}
						}
						bd, bm = bq, 0
					}
					tile(bp, &edge[0], nr, bd)
					mergeEdgeT(ct, t.ldc, edge, nr, h, w, bm)
				}
			}
		}
	}
}

// Transpose sets dst[j·ldd + i] = src[i·lds + j] for i < rows and j < cols,
// with AVX block transposes where the CPU has them. It panics when a slice
// is too short for its rows.
func Transpose[T Float](dst []T, ldd int, src []T, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if lds < cols || ldd < rows || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("gemm: Transpose of %d×%d with strides %d and %d, slices of %d and %d", rows, cols, lds, ldd, len(src), len(dst)))
	}
	transposeInto(dst, ldd, src, lds, rows, cols)
}
