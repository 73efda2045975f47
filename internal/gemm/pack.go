package gemm

import (
	"sync"
	"unsafe"

	"github.com/vkcnn/vkcnn/internal/par"
)

// packA copies the rows×kq block of op(A) starting at row i0 and column p0
// into dst as one micro-panel: dst[p·mr+i] = op(A)[i0+i][p0+p]. Rows from
// rows to mr are zero, so that the kernel can compute a full tile.
func packA[T float](dst, a []T, lda int, trans bool, i0, rows, p0, kq, mr int) {
	if trans {
		// op(A)[i][p] = a[p·lda+i]: each k step is a contiguous run of rows.
		copyRows(dst, mr, a[p0*lda+i0:], lda, kq, 1, rows, mr)
		return
	}
	// op(A)[i][p] = a[i·lda+p]: each row is contiguous along k.
	transposeInto(dst, mr, a[i0*lda+p0:], lda, rows, kq)
	if rows < mr {
		for p := range kq {
			clear(dst[p*mr+rows : p*mr+mr])
		}
	}
}

// packB copies the kq×cols block of op(B) starting at row p0 and column j0
// into dst as consecutive micro-panels of nr columns, each kq·nr long:
// panel t holds dst[t·kq·nr + p·nr + j] = op(B)[p0+p][j0+t·nr+j]. Columns
// past cols in the last panel are zero.
func packB[T float](dst, b []T, ldb int, trans bool, p0, kq, j0, cols, nr int) {
	panels := (cols + nr - 1) / nr
	if !trans {
		// op(B)[p][j] = b[p·ldb+j]: each row of op(B) is contiguous.
		copyRows(dst, kq*nr, b[p0*ldb+j0:], ldb, kq, panels, cols, nr)
		return
	}
	// op(B)[p][j] = b[j·ldb+p]: each column of op(B) is contiguous.
	for t := range panels {
		d := dst[t*kq*nr : (t+1)*kq*nr]
		w := min(nr, cols-t*nr)
		transposeInto(d, nr, b[(j0+t*nr)*ldb+p0:], ldb, w, kq)
		if w < nr {
			for p := range kq {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// copyRows packs kq rows of cols elements of src (row stride lds) into
// panels of width elements, stride elements apart: dst[t·stride + p·width + j]
// = src[p·lds + t·width + j]. The last panel is padded with zeros when cols
// is not panels·width.
func copyRows[T float](dst []T, stride int, src []T, lds, kq, panels, cols, width int) {
	var zero T
	es := int(unsafe.Sizeof(zero))
	full := cols / width
	done := 0
	if full > 0 && kq > 0 &&
		copyPanelsAsm(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), lds*es, kq, full, stride*es, width*es) {
		done = full
	}
	for t := done; t < panels; t++ {
		w := min(width, cols-t*width)
		d := dst[t*stride : t*stride+kq*width]
		if w < width {
			clear(d)
		}
		for p := range kq {
			s := src[p*lds+t*width : p*lds+t*width+w]
			dp := d[p*width : p*width+w]
			if w >= 16 {
				copy(dp, s)
				continue
			}
			//lint:ignore S1001 rows shorter than 16 values are copied inline, without memmove's call
			for j, v := range s {
				dp[j] = v
			}
		}
	}
}

// transposeInto sets dst[p·ldd + j] = src[j·lds + p] for j < w and p < kq,
// with the assembly block transposes where they apply.
func transposeInto[T float](dst []T, ldd int, src []T, lds, w, kq int) {
	var zero T
	es := int(unsafe.Sizeof(zero))
	j, pDone := 0, 0
	if bs := transposeBlock(es); bs > 0 && kq >= bs {
		pDone = kq / bs * bs
		for ; j+bs <= w; j += bs {
			transposeAsm(es, unsafe.Pointer(&dst[j]), unsafe.Pointer(&src[j*lds]), lds, ldd, kq/bs)
		}
		// The last k steps of the columns done above.
		for jj := range j {
			s := src[jj*lds+pDone : jj*lds+kq]
			for p, v := range s {
				dst[(pDone+p)*ldd+jj] = v
			}
		}
	}
	for ; j < w; j++ {
		s := src[j*lds : j*lds+kq]
		for p, v := range s {
			dst[p*ldd+j] = v
		}
	}
}

// buffer is a pooled scratch slice whose data starts on a 64-byte boundary
// (a cache line, and a zmm register's width).
type buffer[T float] struct {
	raw  []T // the allocation
	data []T // the aligned part in use
}

// pools holds buffers by element size ([0] float32, [1] float64) and by
// par.SizeClass of their length, so that a call finds a buffer that fits.
var pools [2][par.Classes]sync.Pool

func poolOf[T float](n int) *sync.Pool {
	var zero T
	c, _ := par.SizeClass(n)
	return &pools[unsafe.Sizeof(zero)/8][c]
}

// getBuf returns a buffer of n elements, reusing a pooled one of its size
// class. The contents are undefined.
func getBuf[T float](n int) *buffer[T] {
	var zero T
	pad := 64 / int(unsafe.Sizeof(zero))
	b, _ := poolOf[T](n + pad).Get().(*buffer[T])
	if b == nil {
		_, capacity := par.SizeClass(n + pad)
		b = &buffer[T]{raw: make([]T, capacity)}
	}
	off := 0
	if mis := int(uintptr(unsafe.Pointer(&b.raw[0])) % 64); mis != 0 {
		off = (64 - mis) / int(unsafe.Sizeof(zero))
	}
	b.data = b.raw[off : off+n]
	return b
}

// putBuf returns a buffer to its pool.
func putBuf[T float](b *buffer[T]) {
	b.data = nil
	poolOf[T](len(b.raw)).Put(b)
}
