package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShapes are products typical of im2col convolutions (M output
// channels, N output pixels, K = input channels · kernel area), their
// transposed forms in the backward pass, and a square one.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"conv64x3136x576", false, false, 64, 3136, 576},
	{"conv128x784x576", false, false, 128, 784, 576},
	{"conv64x196x2304", false, false, 64, 196, 2304},
	{"conv256x1024x256", false, false, 256, 1024, 256},
	{"square512", false, false, 512, 512, 512},
	{"dgradTA576x3136x64", true, false, 576, 3136, 64},
	{"wgradTB64x576x3136", false, true, 64, 576, 3136},
}

// benchGemm measures one float32 product with f on each shape and reports
// GFLOP/s (2·m·n·k floating-point operations per call) of wall time, and of
// the process's CPU time (GFLOP/cpu-s): on a machine shared with other jobs
// the second shows what the code does with the cores it gets, where the
// first also shows how many it got. With several goroutines, GFLOP/s over
// GFLOP/cpu-s is the number of cores used.
func benchGemm(b *testing.B, f func(tA, tB bool, m, n, k int, a, bm, c []float32)) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a := make([]float32, s.m*s.k)
			bm := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = rng.Float32()
			}
			for i := range bm {
				bm[i] = rng.Float32()
			}
			f(s.transA, s.transB, s.m, s.n, s.k, a, bm, c)
			cpu := processCPU()
			for b.Loop() {
				f(s.transA, s.transB, s.m, s.n, s.k, a, bm, c)
			}
			gflop := 2 * float64(s.m*s.n*s.k) * float64(b.N) / 1e9
			b.ReportMetric(gflop/b.Elapsed().Seconds(), "GFLOP/s")
			if cpu := processCPU() - cpu; cpu > 0 {
				b.ReportMetric(gflop/cpu, "GFLOP/cpu-s")
			}
		})
	}
}

// lds returns the leading dimensions of packed row-major operands.
func lds(tA, tB bool, m, n, k int) (lda, ldb int) {
	lda, ldb = k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	return
}

// BenchmarkSgemm measures Sgemm on every kernel set available here, with the
// default thread count (GOMAXPROCS) and with one thread, and gonum's Sgemm
// (which uses GOMAXPROCS goroutines) for comparison.
func BenchmarkSgemm(b *testing.B) {
	defer SetKernel("auto")
	defer SetThreads(0)
	for _, name := range Kernels() {
		for _, th := range []int{0, 1} {
			label := name
			if th == 1 {
				label += "-1thread"
			}
			b.Run(label, func(b *testing.B) {
				if err := SetKernel(name); err != nil {
					b.Fatal(err)
				}
				SetThreads(th)
				benchGemm(b, func(tA, tB bool, m, n, k int, a, bm, c []float32) {
					lda, ldb := lds(tA, tB, m, n, k)
					Sgemm(tA, tB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
				})
			})
		}
	}
	b.Run("gonum", func(b *testing.B) {
		benchGemm(b, func(tA, tB bool, m, n, k int, a, bm, c []float32) {
			lda, ldb := lds(tA, tB, m, n, k)
			gonum.Implementation{}.Sgemm(tr(tA), tr(tB), m, n, k, 1, a, lda, bm, ldb, 0, c, n)
		})
	})
}

// BenchmarkDgemm measures Dgemm on the 512³ product for every kernel set
// and for gonum's Dgemm, in GFLOP/s.
func BenchmarkDgemm(b *testing.B) {
	defer SetKernel("auto")
	const n = 512
	x := make([]float64, n*n)
	for i := range x {
		x[i] = float64(i%7) - 3
	}
	c := make([]float64, n*n)
	run := func(b *testing.B, f func()) {
		cpu := processCPU()
		for b.Loop() {
			f()
		}
		gflop := 2 * n * n * n * float64(b.N) / 1e9
		b.ReportMetric(gflop/b.Elapsed().Seconds(), "GFLOP/s")
		if cpu := processCPU() - cpu; cpu > 0 {
			b.ReportMetric(gflop/cpu, "GFLOP/cpu-s")
		}
	}
	for _, name := range Kernels() {
		b.Run(fmt.Sprintf("%s/square512", name), func(b *testing.B) {
			if err := SetKernel(name); err != nil {
				b.Fatal(err)
			}
			run(b, func() { Dgemm(false, false, n, n, n, 1, x, n, x, n, 0, c, n) })
		})
	}
	b.Run("gonum/square512", func(b *testing.B) {
		run(b, func() { gonum.Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, x, n, 0, c, n) })
	})
}

// BenchmarkKernel measures the float32 micro-kernels alone on one packed
// A micro-panel and one B micro-panel (k = kc) that stay in cache, in
// GFLOP/s on one goroutine: the ceiling of the blocked driver.
func BenchmarkKernel(b *testing.B) {
	for _, ks := range available {
		k := ks.s
		b.Run(ks.name, func(b *testing.B) {
			a := make([]float32, k.mr*k.kc)
			bp := make([]float32, k.nr*k.kc)
			c := make([]float32, k.mr*k.nr)
			for i := range a {
				a[i] = 1
			}
			for b.Loop() {
				k.fn(k.kc, &a[0], &bp[0], &c[0], k.nr, 1, 1)
			}
			b.ReportMetric(2*float64(k.mr*k.nr*k.kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
