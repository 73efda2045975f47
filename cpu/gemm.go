package cpu

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/vkcnn/vkcnn/tensor"
)

// gemm computes c = op(a)·op(b) + beta·c for row-major matrices, where op
// transposes its argument when the flag is set: op(a) is m×k, op(b) is k×n and
// c is m×n; lda, ldb and ldc are the row strides of a, b and c as stored.
// beta 0 overwrites c without reading it. Every matrix product of the backend
// goes through this one function, so the GEMM behind it can be swapped in one
// place. It is gonum's pure-Go BLAS today, which splits large products over
// runtime.GOMAXPROCS(0) goroutines of its own.
func gemm[T scalar](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	var impl gonum.Implementation
	switch a := any(a).(type) {
	case []float32:
		impl.Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		impl.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// MatMul computes c = op(a)·op(b) for 2-D tensors, where op transposes its
// argument when the flag is set: c is [M, N], op(a) is [M, K], op(b) is
// [K, N]. Errors wrap ErrShape (ranks or inner dimensions that do not match),
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) MatMul(c, a, bm *tensor.Tensor, transA, transB bool) error {
	if err := b.open("matmul"); err != nil {
		return err
	}
	m, n, k, err := tensor.CheckMatMul(b, c, a, bm, transA, transB)
	if err != nil {
		return err
	}
	if c.DType() == tensor.Float32 {
		gemm(transA, transB, m, n, k, data[float32](a), a.Dim(1), data[float32](bm), bm.Dim(1), 0, data[float32](c), n)
	} else {
		gemm(transA, transB, m, n, k, data[float64](a), a.Dim(1), data[float64](bm), bm.Dim(1), 0, data[float64](c), n)
	}
	return nil
}
