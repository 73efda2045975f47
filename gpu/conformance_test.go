//go:build cgo

package gpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestConformance runs the shared backend suite on the Vulkan backend in
// float32, its only dtype.
func TestConformance(t *testing.T) {
	b := vktest.Open(t)
	tensortest.RunAll(t, b, tensor.Float32)
}

// TestForeignTensors checks that tensors of the CPU backend are rejected with
// ErrBackend errors.
func TestForeignTensors(t *testing.T) {
	b := vktest.Open(t)
	c := cpu.New()
	defer c.Close()
	tensortest.Foreign(t, b, c, tensor.Float32)
}
