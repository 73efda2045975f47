package cpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/internal/gemm"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// newBackend returns a CPU backend that the test closes when it ends.
func newBackend(t *testing.T, opts ...cpu.Option) *cpu.Backend {
	b := cpu.New(opts...)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
}

// TestConformance runs the whole conformance suite on the CPU backend in both
// dtypes with the default thread count, and once more in float32 on one
// thread, so that the work split is exercised both ways.
func TestConformance(t *testing.T) {
	t.Run("float32", func(t *testing.T) { tensortest.RunAll(t, newBackend(t), tensor.Float32) })
	t.Run("float64", func(t *testing.T) { tensortest.RunAll(t, newBackend(t), tensor.Float64) })
	t.Run("float32-1thread", func(t *testing.T) {
		tensortest.RunAll(t, newBackend(t, cpu.Threads(1)), tensor.Float32)
	})
}

// TestConformanceThreads runs the convolution and pooling tests with more
// goroutines than rows of work, so that uneven and empty splits occur.
func TestConformanceThreads(t *testing.T) {
	b := newBackend(t, cpu.Threads(7))
	t.Run("Conv2D", func(t *testing.T) { tensortest.Conv2D(t, b, tensor.Float64) })
	t.Run("Pool2D", func(t *testing.T) { tensortest.Pool2D(t, b, tensor.Float64) })
}

// TestConformanceKernels runs the suite on every GEMM micro-kernel set this
// CPU and build can run besides the default one (which TestConformance
// covers): AVX2 when the default is AVX-512, and the pure-Go kernels, each
// forced with gemm.SetKernel. To stay fast under the race detector, each
// set runs the whole suite in one dtype (alternating, so that both are
// covered) and the gradient checks in float64.
func TestConformanceKernels(t *testing.T) {
	t.Cleanup(func() {
		if err := gemm.SetKernel("auto"); err != nil {
			t.Errorf("restore the default kernels: %v", err)
		}
	})
	for i, name := range gemm.Kernels()[1:] {
		t.Run(name, func(t *testing.T) {
			if err := gemm.SetKernel(name); err != nil {
				t.Fatal(err)
			}
			b := newBackend(t)
			if i%2 == 0 {
				tensortest.RunAll(t, b, tensor.Float32)
				t.Run("GradCheck", func(t *testing.T) { tensortest.GradCheck(t, b, tensor.Float64) })
			} else {
				tensortest.RunAll(t, b, tensor.Float64) // includes GradCheck
			}
		})
	}
}

// TestForeign checks that a CPU backend rejects the tensors of another CPU
// backend.
func TestForeign(t *testing.T) {
	tensortest.Foreign(t, newBackend(t), newBackend(t), tensor.Float32)
}

// TestClosed checks that a closed CPU backend rejects every call.
func TestClosed(t *testing.T) {
	tensortest.Closed(t, cpu.New(), tensor.Float64)
}
