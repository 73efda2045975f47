//go:build !view

package viewer

import (
	"fmt"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// Window is the live training window. This build has none: it was made
// without the build tag "view", so Open always fails and no Window exists.
// The methods, which pass everything through like those of a nil *Window in
// the view build, give programs one code path for both builds.
type Window struct{}

// Open returns an error wrapping tensor.ErrUnsupported: this build has no
// window (see the package documentation to build one), or a tensor.ErrParam
// error for bad options.
func Open(opts Options) (*Window, error) {
	if _, err := opts.withDefaults(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("viewer: this program was built without the live training window; rebuild it with "+
		"`go build -tags view` (Debian packages: libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev "+
		"libxxf86vm-dev libgl1-mesa-dev): %w", tensor.ErrUnsupported)
}

// VulkanOptions returns no options.
func (w *Window) VulkanOptions() []gpu.Option { return nil }

// Watch returns m unchanged.
func (w *Window) Watch(m *nn.Sequential) (*nn.Sequential, error) { return m, nil }

// OnStep returns next.
func (w *Window) OnStep(next func(nn.StepInfo) error) func(nn.StepInfo) error { return next }

// Run calls train and returns its error.
func (w *Window) Run(train func() error) error { return train() }

// Close does nothing.
func (w *Window) Close() {}
