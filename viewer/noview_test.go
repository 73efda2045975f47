//go:build !view

package viewer

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestOpenWithoutView(t *testing.T) {
	w, err := Open(Options{})
	if w != nil || !errors.Is(err, tensor.ErrUnsupported) || !strings.Contains(err.Error(), "-tags view") {
		t.Errorf("Open = %v, %v; want ErrUnsupported saying how to build with the window", w, err)
	}
	if _, err := Open(Options{Width: -1}); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Open with a negative width = %v, want ErrParam", err)
	}
}
