//go:build !cgo

package gpu

import "github.com/vkcnn/vkcnn/tensor"

// Backend is the Vulkan backend. In this build (CGO_ENABLED=0) Vulkan cannot
// be called: New always fails, so no Backend exists. The embedded interface
// only gives the type the method set of tensor.Backend.
type Backend struct {
	tensor.Backend
}

// Info describes the device the backend runs on; never called in this build.
func (b *Backend) Info() DeviceInfo { return DeviceInfo{} }

func noCgo() error {
	return &NoDeviceError{Reason: NoCgo,
		Detail: "vkcnn was built without cgo (CGO_ENABLED=0), so it cannot use Vulkan; rebuild with CGO_ENABLED=1 and a C compiler"}
}

// New returns a *NoDeviceError (wrapping tensor.ErrNoDevice) saying that
// vkcnn was built without cgo.
func New(opts ...Option) (*Backend, error) { return nil, noCgo() }

// Devices returns a *NoDeviceError (wrapping tensor.ErrNoDevice) saying that
// vkcnn was built without cgo.
func Devices() ([]DeviceInfo, error) { return nil, noCgo() }

// Stats returns zero counts; never called in this build.
func (b *Backend) Stats() Stats { return Stats{} }

// ResetStats does nothing; never called in this build.
func (b *Backend) ResetStats() {}
