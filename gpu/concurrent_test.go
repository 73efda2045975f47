//go:build cgo

package gpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestConcurrent calls one Vulkan backend from many goroutines at once (run
// it with -race and the validation layer) and checks every result against a
// serial run. Issue 14's program, its first subtest, crashed the process with
// SIGBUS in vkcnn_reset or hung in vkcnn_poll before the backend serialized
// its recording, submission and memory management.
func TestConcurrent(t *testing.T) {
	tensortest.Concurrent(t, vktest.Open(t), tensor.Float32)
}

// TestConcurrentClose closes a Vulkan backend while goroutines use it: calls
// fail with ErrClosed, nothing crashes, and the validation layer stays quiet.
func TestConcurrentClose(t *testing.T) {
	tensortest.ConcurrentClose(t, vktest.Open(t), tensor.Float32)
}
