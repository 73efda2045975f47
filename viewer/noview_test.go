//go:build !view

package viewer

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
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
	// The stand-in methods pass everything through.
	var none *Window
	m := nn.NewSequential()
	called := 0
	step := none.OnStep(func(nn.StepInfo) error { called++; return nil })
	if got, err := none.Watch(m); got != m || err != nil || none.VulkanOptions() != nil {
		t.Errorf("Watch = %v, %v; VulkanOptions = %v; want m, nil, nil", got, err, none.VulkanOptions())
	}
	if err := none.Run(func() error { return step(nn.StepInfo{}) }); err != nil || called != 1 {
		t.Errorf("Run = %v after %d steps, want nil after 1", err, called)
	}
	none.Close()
}
