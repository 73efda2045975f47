package cpu

import (
	igemm "github.com/vkcnn/vkcnn/internal/gemm"
	"github.com/vkcnn/vkcnn/tensor"
)

// gemm computes c = op(a)·op(b) + beta·c for row-major matrices, where op
// transposes its argument when the flag is set: op(a) is m×k, op(b) is k×n and
// c is m×n; lda, ldb and ldc are the row strides of a, b and c as stored.
// beta 0 overwrites c without reading it. It runs on internal/gemm's packed
// GEMM (assembly micro-kernels where the CPU has AVX2 or AVX-512) with at
// most threads goroutines: 1 inside the convolution workers, which already
// run in parallel, and the backend's thread count for MatMul.
func gemm[T scalar](threads int, transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	switch a := any(a).(type) {
	case []float32:
		igemm.SgemmThreads(threads, transA, transB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		igemm.DgemmThreads(threads, transA, transB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
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
		gemm(b.threads, transA, transB, m, n, k, data[float32](a), a.Dim(1), data[float32](bm), bm.Dim(1), 0, data[float32](c), n)
	} else {
		gemm(b.threads, transA, transB, m, n, k, data[float64](a), a.Dim(1), data[float64](bm), bm.Dim(1), 0, data[float64](c), n)
	}
	return nil
}
