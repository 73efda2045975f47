package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	igemm "github.com/vkcnn/vkcnn/internal/gemm"
)

// TestGEMMAgainstGonum checks the backend's gemm, on every micro-kernel set
// this CPU runs, against gonum's reference BLAS: both dtypes, every
// transpose, beta 0 (C not read: it starts as NaN) and 1, padded leading
// dimensions, and sizes around the micro-tiles, with 1 and 3 goroutines.
func TestGEMMAgainstGonum(t *testing.T) {
	t.Cleanup(func() {
		if err := igemm.SetKernel("auto"); err != nil {
			t.Errorf("restore the default kernels: %v", err)
		}
	})
	for _, k := range igemm.Kernels() {
		if err := igemm.SetKernel(k); err != nil {
			t.Fatal(err)
		}
		t.Run(k, func(t *testing.T) {
			testGEMM[float32](t, 1e-5)
			testGEMM[float64](t, 1e-13)
		})
	}
}

func testGEMM[T scalar](t *testing.T, rel float64) {
	r := rand.New(rand.NewPCG(7, 8))
	sizes := []int{1, 3, 7, 8, 9, 17, 33, 70}
	for i := range 40 {
		m, n, k := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		ta, tb := r.IntN(2) == 1, r.IntN(2) == 1
		beta := T(r.IntN(2))
		threads := 1 + 2*(i%2)
		ar, ac, br, bc := m, k, k, n
		if ta {
			ar, ac = k, m
		}
		if tb {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+r.IntN(3), bc+r.IntN(3), n+r.IntN(3)
		a, b := make([]T, ar*lda), make([]T, br*ldb)
		a64, b64 := make([]float64, len(a)), make([]float64, len(b))
		for j := range a {
			a[j] = T(2*r.Float64() - 1)
			a64[j] = float64(a[j])
		}
		for j := range b {
			b[j] = T(2*r.Float64() - 1)
			b64[j] = float64(b[j])
		}
		c, want := make([]T, m*ldc), make([]float64, m*ldc)
		for j := range c {
			c[j] = T(2*r.Float64() - 1)
			want[j] = float64(c[j])
			if beta == 0 {
				c[j], want[j] = T(math.NaN()), 0
			}
		}
		gemm(threads, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc)
		tr := func(x bool) blas.Transpose {
			if x {
				return blas.Trans
			}
			return blas.NoTrans
		}
		gonum.Implementation{}.Dgemm(tr(ta), tr(tb), m, n, k, 1, a64, lda, b64, ldb, float64(beta), want, ldc)
		what := fmt.Sprintf("%v m=%d n=%d k=%d transA=%v transB=%v beta=%v threads=%d", dtypeOf[T](), m, n, k, ta, tb, beta, threads)
		for row := range m {
			for col := range n {
				got, w := float64(c[row*ldc+col]), want[row*ldc+col]
				if !(math.Abs(got-w) <= rel*float64(k)*math.Max(1, math.Abs(w))) {
					t.Fatalf("%s: c[%d][%d] = %v, gonum gives %v", what, row, col, got, w)
				}
			}
		}
	}
}
