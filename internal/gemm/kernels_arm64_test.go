//go:build arm64 && !purego

package gemm

import (
	"slices"
	"testing"
)

// TestNEONAvailable checks that the NEON kernels are chosen by default, so
// that the tests that run every kernel set (under qemu-user in make test)
// run them.
func TestNEONAvailable(t *testing.T) {
	if k := Kernels(); len(k) != 2 || k[0] != "neon" || !slices.Contains(k, "generic") {
		t.Fatalf("Kernels() = %v, expected [neon generic]", k)
	}
	if Kernel() != "neon" {
		t.Fatalf("Kernel() = %q, expected neon by default", Kernel())
	}
}
