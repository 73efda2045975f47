// Package testreq decides what a test does when something it needs from
// outside the repository is missing (PyTorch, a dataset that cannot be read
// or fetched): it skips, saying why, unless the environment variable that
// requires the thing is set to "1", in which case it fails. CI (.ci/run) sets
// them all, so that a missing requirement cannot pass as a skip there.
// internal/vktest and internal/torchtest decide through it for Vulkan devices
// and PyTorch.
package testreq

import (
	"fmt"
	"os"
	"testing"
)

// The environment variables that turn a missing requirement into a failure.
const (
	// Torch requires /usr/bin/python3 with torch and numpy (internal/torchtest).
	Torch = "VKCNN_REQUIRE_TORCH"
	// MNIST requires the datasets the tests load with data.Load: MNIST
	// (fetched through the go command) and Fashion-MNIST (Debian's
	// dataset-fashion-mnist).
	MNIST = "VKCNN_REQUIRE_MNIST"
	// Vulkan requires a usable Vulkan device, software ones such as lavapipe
	// included (internal/vktest).
	Vulkan = "VKCNN_REQUIRE_VULKAN"
)

// Required reports whether the environment variable env is set to "1".
func Required(env string) bool { return os.Getenv(env) == "1" }

// Unavailable skips t with the reason (format and args, as for fmt.Sprintf),
// or fails it with the same reason when the environment variable env is set
// to "1". Like t.Skip and t.Fatal it does not return.
func Unavailable(t testing.TB, env, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required(env) {
		t.Fatalf("%s (%s=1)", msg, env)
	}
	t.Skipf("%s (set %s=1 to fail instead)", msg, env)
}
