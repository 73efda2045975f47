package gpu

import (
	"fmt"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// Reason says which part of the Vulkan stack is missing when no device can be
// used.
type Reason int

// The reasons a NoDeviceError gives, from the bottom of the stack up.
const (
	// NoCgo: vkcnn was built with CGO_ENABLED=0, so it cannot call Vulkan.
	NoCgo Reason = iota + 1
	// NoLoader: the Vulkan loader library (libvulkan.so.1) could not be loaded.
	NoLoader
	// NoDriver: the loader found no driver (ICD) able to create a Vulkan 1.1
	// instance.
	NoDriver
	// NoPhysicalDevice: no device supports Vulkan 1.1 with a compute queue.
	NoPhysicalDevice
	// SoftwareOnly: the only devices are software renderers (lavapipe,
	// SwiftShader), which are used only when asked for explicitly.
	SoftwareOnly
	// NoMatch: the device selector (option or VKCNN_DEVICE) matches no device.
	NoMatch
)

// String returns a short lower-case name such as "no loader".
func (r Reason) String() string {
	switch r {
	case NoCgo:
		return "built without cgo"
	case NoLoader:
		return "no loader"
	case NoDriver:
		return "no driver"
	case NoPhysicalDevice:
		return "no device"
	case SoftwareOnly:
		return "software device only"
	case NoMatch:
		return "no matching device"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// NoDeviceError explains why New (or Devices) found no Vulkan device to use.
// It wraps tensor.ErrNoDevice.
type NoDeviceError struct {
	// Reason is the missing piece.
	Reason Reason
	// Detail is a sentence for people: what was tried and what to do.
	Detail string
	// Devices lists the devices found, when any were (SoftwareOnly, NoMatch).
	Devices []DeviceInfo
}

// Error returns "gpu: " followed by the detail.
func (e *NoDeviceError) Error() string { return "gpu: " + e.Detail }

// Unwrap returns tensor.ErrNoDevice.
func (e *NoDeviceError) Unwrap() error { return tensor.ErrNoDevice }

// ResultError is a failed Vulkan call. It wraps tensor.ErrOutOfMemory for the
// out-of-memory results (host, device, descriptor pool, fragmentation),
// tensor.ErrDeviceLost for VK_ERROR_DEVICE_LOST, tensor.ErrUnsupported for a
// missing layer, extension, feature or format or an incompatible driver, and
// nothing else for other results.
type ResultError struct {
	// Op names what the backend was doing, e.g. "vkAllocateMemory of 64 MiB".
	Op string
	// Code is the VkResult value.
	Code int32
}

// Error returns "gpu: <op>: <VkResult name>".
func (e *ResultError) Error() string {
	return fmt.Sprintf("gpu: %s: %s", e.Op, ResultName(e.Code))
}

// Unwrap returns the tensor sentinel the result maps to, or nil.
func (e *ResultError) Unwrap() error {
	switch e.Code {
	case -1, -2, -5, -10, -12, -1000069000, -1000161000:
		return tensor.ErrOutOfMemory
	case -4:
		return tensor.ErrDeviceLost
	case -6, -7, -8, -9, -11:
		return tensor.ErrUnsupported
	}
	return nil
}

// resultNames maps VkResult codes to their names in the Vulkan headers.
var resultNames = map[int32]string{
	0:           "VK_SUCCESS",
	1:           "VK_NOT_READY",
	2:           "VK_TIMEOUT",
	3:           "VK_EVENT_SET",
	4:           "VK_EVENT_RESET",
	5:           "VK_INCOMPLETE",
	-1:          "VK_ERROR_OUT_OF_HOST_MEMORY",
	-2:          "VK_ERROR_OUT_OF_DEVICE_MEMORY",
	-3:          "VK_ERROR_INITIALIZATION_FAILED",
	-4:          "VK_ERROR_DEVICE_LOST",
	-5:          "VK_ERROR_MEMORY_MAP_FAILED",
	-6:          "VK_ERROR_LAYER_NOT_PRESENT",
	-7:          "VK_ERROR_EXTENSION_NOT_PRESENT",
	-8:          "VK_ERROR_FEATURE_NOT_PRESENT",
	-9:          "VK_ERROR_INCOMPATIBLE_DRIVER",
	-10:         "VK_ERROR_TOO_MANY_OBJECTS",
	-11:         "VK_ERROR_FORMAT_NOT_SUPPORTED",
	-12:         "VK_ERROR_FRAGMENTED_POOL",
	-13:         "VK_ERROR_UNKNOWN",
	-1000069000: "VK_ERROR_OUT_OF_POOL_MEMORY",
	-1000072003: "VK_ERROR_INVALID_EXTERNAL_HANDLE",
	-1000161000: "VK_ERROR_FRAGMENTATION",
	-1000257000: "VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS",
	-1000011001: "VK_ERROR_VALIDATION_FAILED_EXT",
	-1000012000: "VK_ERROR_INVALID_SHADER_NV",
	1000297000:  "VK_PIPELINE_COMPILE_REQUIRED",
}

// ResultName returns the name of a VkResult code, such as
// "VK_ERROR_DEVICE_LOST", or "VkResult(n)" for a code it does not know.
func ResultName(code int32) string {
	if n, ok := resultNames[code]; ok {
		return n
	}
	return fmt.Sprintf("VkResult(%d)", code)
}

// check turns a VkResult into nil (VK_SUCCESS) or a *ResultError for op.
func check(op string, code int32) error {
	if code == 0 {
		return nil
	}
	return &ResultError{Op: op, Code: code}
}

// mib formats a byte count for messages: "64 MiB", "1.5 GiB", "300 B".
func mib(n uint64) string {
	switch {
	case n >= 1<<30:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<30)), ".0") + " GiB"
	case n >= 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MiB"
	case n >= 1<<10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<10)), ".0") + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}
