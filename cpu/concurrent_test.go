package cpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestConcurrent calls one CPU backend from many goroutines at once (run it
// with -race) and checks every result against a serial run.
func TestConcurrent(t *testing.T) {
	b := newBackend(t)
	t.Run("float32", func(t *testing.T) { tensortest.Concurrent(t, b, tensor.Float32) })
	t.Run("float64", func(t *testing.T) { tensortest.Concurrent(t, b, tensor.Float64) })
}

// TestConcurrentClose closes a CPU backend while goroutines use it.
func TestConcurrentClose(t *testing.T) {
	tensortest.ConcurrentClose(t, newBackend(t), tensor.Float32)
}
