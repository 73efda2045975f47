package gemm

import (
	"fmt"
	"unsafe"
)

// Float is the element type of GemmFunc: float32 or float64.
type Float interface{ float32 | float64 }

// PackFunc writes one block of op(B) for GemmFunc straight into the packed
// layout of the micro-kernels: the kq×cols block whose top-left element is
// op(B)[p0][j0], as ceil(cols/nr) consecutive panels of nr columns, each
// kq·nr elements long:
//
//	dst[t·kq·nr + p·nr + j] = op(B)[p0+p][j0+t·nr+j]   for p < kq, j < nr,
//
// with 0 for the columns j0+t·nr+j ≥ j0+cols of the last panel. len(dst) is
// ceil(cols/nr)·kq·nr, and every element of dst must be written. The driver
// may call it from several goroutines at once, with disjoint dst.
type PackFunc[T Float] func(dst []T, p0, kq, j0, cols, nr int)

// Pack calls f.
func (f PackFunc[T]) Pack(dst []T, p0, kq, j0, cols, nr int) { f(dst, p0, kq, j0, cols, nr) }

// Packer writes blocks of op(B) for GemmPacker, as a PackFunc does.
type Packer[T Float] interface {
	Pack(dst []T, p0, kq, j0, cols, nr int)
}

// GemmFunc computes C = alpha·op(A)·B + beta·C like Sgemm and Dgemm, but B
// (k×n) is never read from memory: pack writes each block of B the driver
// needs, already in the packed panel layout (see PackFunc). A convolution
// passes a function that gathers its im2col matrix block by block, so that
// the matrix is never stored and each element is written once, into the
// cache-resident packed block the micro-kernel reads. Each block is packed
// once per task of the driver's grid: once per call with one thread.
//
// op(A) is m×k (a is m×k with lda ≥ k, or k×m with lda ≥ m when transA);
// C is m×n with ldc ≥ n. The rules for alpha and beta, the threading (at
// most threads goroutines; threads < 1 means Threads()) and the panics on
// bad sizes (a nil pack included) are those of Sgemm.
func GemmFunc[T Float](threads int, transA bool, m, n, k int, alpha T, a []T, lda int, pack PackFunc[T], beta T, c []T, ldc int) {
	if pack == nil {
		panic("gemm: GemmFunc with a nil pack function")
	}
	GemmPacker(threads, transA, m, n, k, alpha, a, lda, Packer[T](pack), beta, c, ldc)
}

// GemmPacker is GemmFunc with the packing as a Packer: a caller that passes
// a pointer to state it keeps from call to call allocates nothing (a
// closure passed to GemmFunc is one allocation per call). A nil pack
// panics.
func GemmPacker[T Float](threads int, transA bool, m, n, k int, alpha T, a []T, lda int, pack Packer[T], beta T, c []T, ldc int) {
	if pack == nil {
		panic("gemm: GemmPacker with a nil Packer")
	}
	checkSizes(transA, false, m, n, k, lda, max(1, n), ldc, len(a), -1, len(c))
	run(kernelFor[T](), orThreads(threads), transA, m, n, k, alpha, a, lda, bSource[T]{pack: pack}, beta, c, ldc, nil)
}

// kernelFor returns the micro-kernel of the kernel set in use for T.
func kernelFor[T Float]() *microKernel[T] {
	ks := current.Load()
	var zero T
	if _, ok := any(zero).(float32); ok {
		return any(ks.s).(*microKernel[T])
	}
	return any(ks.d).(*microKernel[T])
}

// Segment is one run of elements that GatherSegments and AddSegments move
// for each row: Len elements at Off, counted from the row's offset in the
// scattered slice, and at Pos, counted from the row's start in the dense
// one.
type Segment struct{ Off, Pos, Len int }

// segmentBounds checks the arguments of GatherSegments and AddSegments and
// reports whether there is anything to move: the rows of the scattered slice
// sc (row i at offs[i]) and of the dense slice de (row i at i·stride) must
// hold every segment. op names the caller in the panic message.
//
// With trans, the dense slice is transposed (TransposeSegments): row i of sc
// is column i of de, and position pos of a segment is row pos of de.
func segmentBounds(op string, sc, de int, offs []int, stride int, segs []Segment, trans bool) bool {
	if len(offs) == 0 || len(segs) == 0 {
		return false
	}
	lo, hi := offs[0], offs[0]
	for _, o := range offs[1:] {
		lo, hi = min(lo, o), max(hi, o)
	}
	oLo, oHi, pLo, pHi, lMin := segs[0].Off, 0, segs[0].Pos, 0, 0
	for _, sg := range segs {
		oLo, oHi = min(oLo, sg.Off), max(oHi, sg.Off+sg.Len)
		pLo, pHi = min(pLo, sg.Pos), max(pHi, sg.Pos+sg.Len)
		lMin = min(lMin, sg.Len)
	}
	need := (len(offs)-1)*stride + pHi
	if trans {
		need = max(0, pHi-1)*stride + len(offs)
		if pHi == 0 {
			need = 0
		}
	}
	switch {
	case lMin < 0 || stride < 0 || pLo < 0 || lo+oLo < 0:
		panic(fmt.Sprintf("gemm: %s with least length %d, stride %d, position %d and offset %d, expected all ≥ 0",
			op, lMin, stride, pLo, lo+oLo))
	case hi+oHi > sc:
		panic(fmt.Sprintf("gemm: %s reaches element %d of the scattered slice, past its length %d", op, hi+oHi, sc))
	case need > de:
		panic(fmt.Sprintf("gemm: %s: the dense slice has length %d, expected ≥ %d", op, de, need))
	}
	return hi+oHi > 0 && need > 0
}

// GatherSegments copies the segments of len(offs) rows, whose elements lie
// anywhere in src, into the dense slice dst: for row i and each segment s,
//
//	dst[i·dstride+s.Pos : i·dstride+s.Pos+s.Len] = src[offs[i]+s.Off : offs[i]+s.Off+s.Len].
//
// It is the copy a PackFunc makes when the rows of B are runs of one slice,
// such as the taps of a convolution: row i a tap, a segment the output
// positions of a panel that lie in one output row. It uses AVX block copies
// where the CPU has them, exact to the element. Like the rest of the package
// it panics on bad sizes: a negative length, stride, position or offset, a
// segment reaching outside src, or dst shorter than the rows need.
func GatherSegments[T Float](dst, src []T, offs []int, dstride int, segs []Segment) {
	if !segmentBounds("GatherSegments", len(src), len(dst), offs, dstride, segs, false) {
		return
	}
	var zero T
	if gatherSegmentsAsm(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), offs, dstride, segs, int(unsafe.Sizeof(zero))) {
		return
	}
	for i, o := range offs {
		for _, sg := range segs {
			copy(dst[i*dstride+sg.Pos:][:sg.Len], src[o+sg.Off:][:sg.Len])
		}
	}
}

// AddSegments is the transpose of GatherSegments: it adds the segments of
// the dense slice src back onto the rows of dst, for row i and each segment
// s
//
//	dst[offs[i]+s.Off+e] += src[i·sstride+s.Pos+e]   for e < s.Len,
//
// one row after the other, so that segments of different rows may overlap
// in dst (a convolution's col2im). It uses AVX where the CPU has it; every
// element is added once, in order. It panics like GatherSegments.
func AddSegments[T Float](dst, src []T, offs []int, sstride int, segs []Segment) {
	if !segmentBounds("AddSegments", len(dst), len(src), offs, sstride, segs, false) {
		return
	}
	var zero T
	if addSegmentsAsm(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), offs, sstride, segs, int(unsafe.Sizeof(zero))) {
		return
	}
	for i, o := range offs {
		for _, sg := range segs {
			d, s := dst[o+sg.Off:][:sg.Len], src[i*sstride+sg.Pos:][:sg.Len]
			for e, v := range s {
				d[e] += v
			}
		}
	}
}

// TransposeSegments is GatherSegments writing the transpose: row i of the
// scattered src becomes column i of the dense dst, for row i and each
// segment s
//
//	dst[(s.Pos+e)·dstride + i] = src[offs[i]+s.Off+e]   for e < s.Len.
//
// It is the copy a Packer makes when op(B) is the transpose of a matrix
// whose rows are runs of one slice, such as a convolution's kernel
// gradient, whose B is the im2col matrix transposed: it writes the packed
// panels straight from the image, with no stored matrix between. Groups of
// 8 float32 (4 float64) rows move as AVX block transposes where the CPU has
// AVX, exact to the element. It panics like GatherSegments.
func TransposeSegments[T Float](dst, src []T, offs []int, dstride int, segs []Segment) {
	if !segmentBounds("TransposeSegments", len(src), len(dst), offs, dstride, segs, true) {
		return
	}
	var zero T
	i := 0
	if bs := transposeBlock(int(unsafe.Sizeof(zero))); bs > 0 {
		// The segments at least bs long, a chunk at a time, through
		// the block transposes; the others, and the rows left over
		// from whole groups, below.
		var buf [64]Segment
		for c := 0; c < len(segs); c += len(buf) {
			long := buf[:0]
			for _, sg := range segs[c:min(len(segs), c+len(buf))] {
				if sg.Len >= bs {
					long = append(long, sg)
				}
			}
			if len(long) == 0 {
				continue
			}
			for g := 0; g+bs <= len(offs); g += bs {
				transposeSegmentsAsm(unsafe.Pointer(&dst[g]), unsafe.Pointer(&src[0]), offs[g:g+bs], dstride, long, int(unsafe.Sizeof(zero)))
			}
		}
		i = len(offs) / bs * bs
		for _, sg := range segs {
			if sg.Len < bs {
				transposeRows(dst, src, offs[:i], 0, dstride, sg)
			}
		}
	}
	for _, sg := range segs {
		transposeRows(dst, src, offs[i:], i, dstride, sg)
	}
}

// transposeRows is TransposeSegments' copy of one segment for the rows
// offs, which are the dense slice's columns from col on.
func transposeRows[T Float](dst, src []T, offs []int, col, dstride int, sg Segment) {
	if sg.Len == 0 {
		return
	}
	for i, o := range offs {
		s := src[o+sg.Off:][:sg.Len]
		d := dst[sg.Pos*dstride+col+i:]
		for e, v := range s {
			d[e*dstride] = v
		}
	}
}
