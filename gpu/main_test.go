//go:build cgo

package gpu_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
)

// TestMain runs the tests, then fails the run if any Vulkan validation message
// arrived after the test that owned its backend had finished.
func TestMain(m *testing.M) {
	code := m.Run()
	if late := vktest.Late(); len(late) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d Vulkan validation messages after their test finished:\n", len(late))
		for _, l := range late {
			fmt.Fprintln(os.Stderr, "  ", l)
		}
		code = 1
	}
	os.Exit(code)
}
