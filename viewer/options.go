package viewer

import (
	"errors"
	"fmt"
	"time"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/tensor"
)

// ErrNoDisplay reports that no window can be opened: there is no display
// (DISPLAY unset or unreachable), or no Vulkan loader for GLFW to present
// with.
var ErrNoDisplay = errors.New("no display")

// Options configure Open. Zero values take the defaults.
type Options struct {
	// Width and Height are the window's initial size in screen coordinates
	// (default 960×640).
	Width, Height int
	// Title is the window title's prefix (default "vkcnn"); the training
	// progress follows it.
	Title string
	// Interval is the least time between two pictures (default 250 ms). The
	// view also waits at least 19 times as long as the last picture took, so
	// that it never costs much more than 5% of the training time.
	Interval time.Duration
	// Inputs is how many inputs of the batch to show (default 16).
	Inputs int
	// Vulkan holds extra options for the Vulkan device the viewer opens to
	// present when the model does not train on a presenting Vulkan backend,
	// such as gpu.Debug or gpu.Device.
	Vulkan []gpu.Option
}

// withDefaults checks o and fills in the defaults. It returns a
// tensor.ErrParam error for a negative size, interval or input count.
func (o Options) withDefaults() (Options, error) {
	if o.Width < 0 || o.Height < 0 || o.Interval < 0 || o.Inputs < 0 {
		return o, fmt.Errorf("viewer: window %d×%d, interval %v, %d inputs: expected no negative values: %w",
			o.Width, o.Height, o.Interval, o.Inputs, tensor.ErrParam)
	}
	if o.Width == 0 {
		o.Width = 960
	}
	if o.Height == 0 {
		o.Height = 640
	}
	if o.Title == "" {
		o.Title = "vkcnn"
	}
	if o.Interval == 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Inputs == 0 {
		o.Inputs = DefaultInputs
	}
	return o, nil
}
