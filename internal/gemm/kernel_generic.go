package gemm

import "unsafe"

// Blocking of the pure-Go kernels: a 4×4 tile in 16 scalar accumulators.
const (
	genericMR = 4
	genericNR = 4
)

// genericKernels returns the pure-Go kernel set, which runs on every CPU.
func genericKernels() *kernelSet {
	return &kernelSet{
		name: "generic",
		s:    &microKernel[float32]{mr: genericMR, nr: genericNR, kc: 256, nc: 256, fn: kernelGo[float32]},
		d:    &microKernel[float64]{mr: genericMR, nr: genericNR, kc: 256, nc: 256, fn: kernelGo[float64]},
	}
}

// kernelGo is the pure-Go micro-kernel: the 4×4 tile
// c = alpha·Σ_p a[4p+i]·b[4p+j] + beta·c over k steps of packed panels, not
// reading c when beta is 0.
func kernelGo[T float](k int, a, b, c *T, ldc int, alpha, beta T) {
	as := unsafe.Slice(a, k*genericMR)
	bs := unsafe.Slice(b, k*genericNR)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := range k {
		bv := bs[p*4 : p*4+4 : p*4+4]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		av := as[p*4 : p*4+4 : p*4+4]
		a := av[0]
		c00 += a * b0
		c01 += a * b1
		c02 += a * b2
		c03 += a * b3
		a = av[1]
		c10 += a * b0
		c11 += a * b1
		c12 += a * b2
		c13 += a * b3
		a = av[2]
		c20 += a * b0
		c21 += a * b1
		c22 += a * b2
		c23 += a * b3
		a = av[3]
		c30 += a * b0
		c31 += a * b1
		c32 += a * b2
		c33 += a * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [4][4]T{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range 4 {
		row := cs[i*ldc : i*ldc+4 : i*ldc+4]
		if beta == 0 {
			for j := range 4 {
				row[j] = alpha * acc[i][j]
			}
			continue
		}
		for j := range 4 {
			row[j] = alpha*acc[i][j] + beta*row[j]
		}
	}
}
