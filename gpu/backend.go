// Package gpu is vkcnn's Vulkan backend: a tensor.Backend that runs every op
// as a GLSL compute shader (compiled to SPIR-V, embedded by package shaders)
// on any Vulkan 1.1 device.
//
// New opens a device. Auto-selection prefers a discrete GPU, then an
// integrated one, then a virtual one; software devices (lavapipe "llvmpipe",
// SwiftShader) are used only when asked for with AllowSoftware, or when named
// by the Device option or the VKCNN_DEVICE environment variable (a device
// index from Devices, or a case-insensitive substring of its name).
//
// The backend holds float32 tensors in pooled device memory (64 MiB blocks,
// sub-allocated; bigger tensors get their own allocation). A dispatch that
// touches a tensor larger than one storage-buffer binding covers
// (maxStorageBufferRange) runs the shader's _addr variant, which reaches its
// tensors through device addresses (VK_KHR_buffer_device_address) instead of
// bindings. The backend records ops into a
// command buffer with a barrier only before a command whose buffer ranges
// conflict with an earlier unordered one (hazard.go), and submits when a
// batch fills, on Download and on Sync. Stats counts what was recorded and,
// with the Profile option or VKCNN_PROFILE=1, the device time of each op. Pipelines are built once per shader and
// specialization constants and cached. Errors from the device surface at the
// next Download or Sync. A Backend may be used from many goroutines at once:
// a per-backend mutex serializes recording, submission and memory management
// (see Backend).
//
// The Vulkan loader (libvulkan.so.1, or the file named by VKCNN_VULKAN_LIBRARY)
// is opened at run time, so building needs only a C compiler. Without cgo, New
// and Devices return a *NoDeviceError.
package gpu

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variables read by New and Devices.
const (
	// EnvDevice selects the device when no Device option is given: an index
	// from Devices or a case-insensitive substring of the device name.
	EnvDevice = "VKCNN_DEVICE"
	// EnvLibrary overrides the path or file name of the Vulkan loader library
	// (default libvulkan.so.1). It is read until the loader has been loaded
	// once; later changes have no effect in the same process.
	EnvLibrary = "VKCNN_VULKAN_LIBRARY"
	// EnvProfile turns profiling on when set to "1", as the Profile option
	// does.
	EnvProfile = "VKCNN_PROFILE"
)

// DeviceType is the kind of a Vulkan physical device.
type DeviceType int

// The Vulkan physical device types, with VkPhysicalDeviceType's values.
const (
	OtherDevice DeviceType = iota
	IntegratedGPU
	DiscreteGPU
	VirtualGPU
	CPUDevice
)

// String returns "discrete", "integrated", "virtual", "cpu" or "other".
func (t DeviceType) String() string {
	switch t {
	case IntegratedGPU:
		return "integrated"
	case DiscreteGPU:
		return "discrete"
	case VirtualGPU:
		return "virtual"
	case CPUDevice:
		return "cpu"
	}
	return "other"
}

// DeviceInfo describes one Vulkan device, as listed by Devices.
type DeviceInfo struct {
	// Index is the device's position in Vulkan's enumeration order; it is what
	// the Device option and VKCNN_DEVICE accept.
	Index int
	// Name is the driver's device name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
	Name string
	// Type is the kind of device.
	Type DeviceType
	// Software is true for a CPU-emulated device (lavapipe, SwiftShader).
	Software bool
	// APIVersion is the Vulkan version the device supports, e.g. "1.3.230".
	APIVersion string
	// DeviceLocalBytes is the total size in bytes of the device-local heaps.
	DeviceLocalBytes uint64
	// HostVisibleBytes is the total size in bytes of the heaps the host can
	// map.
	HostVisibleBytes uint64
	// Compute is true when the device can run vkcnn: it supports Vulkan 1.1
	// and has a compute queue. Other devices are listed but never chosen.
	Compute bool
}

// String formats the device as "0: llvmpipe (...) [cpu, software, 2 GiB]".
func (d DeviceInfo) String() string {
	tags := []string{d.Type.String()}
	if d.Software {
		tags = append(tags, "software")
	}
	if !d.Compute {
		tags = append(tags, "unusable: needs Vulkan 1.1 and a compute queue")
	}
	tags = append(tags, mib(d.DeviceLocalBytes))
	return fmt.Sprintf("%d: %s [%s]", d.Index, d.Name, strings.Join(tags, ", "))
}

// Severity is the importance of a message from the Vulkan layers.
type Severity int

// The message severities, with VkDebugUtilsMessageSeverityFlagBitsEXT's values.
const (
	SeverityVerbose Severity = 0x1
	SeverityInfo    Severity = 0x10
	SeverityWarning Severity = 0x100
	SeverityError   Severity = 0x1000
)

// String returns "verbose", "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case SeverityVerbose:
		return "verbose"
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("Severity(%#x)", int(s))
}

// Message is a warning or error reported by the Vulkan loader or a layer
// (typically VK_LAYER_KHRONOS_validation) through VK_EXT_debug_utils.
type Message struct {
	// Severity is SeverityWarning or SeverityError.
	Severity Severity
	// ID is the message identifier, e.g. a validation VUID.
	ID string
	// Text is the message.
	Text string
}

// String formats the message as "error: [ID] text".
func (m Message) String() string { return fmt.Sprintf("%v: [%s] %s", m.Severity, m.ID, m.Text) }

// config collects the options of New.
type config struct {
	device        string
	deviceSet     bool
	allowSoftware bool
	debug         func(Message)
	profile       bool
	budget        uint64
	instanceExts  []string
	deviceExts    []string
}

// Option configures New.
type Option func(*config)

// Device selects the device by index (as listed by Devices) or by a
// case-insensitive substring of its name, overriding VKCNN_DEVICE. Naming a
// software device this way selects it even without AllowSoftware. An empty
// selector means automatic selection.
func Device(selector string) Option {
	return func(c *config) { c.device, c.deviceSet = selector, true }
}

// AllowSoftware lets automatic selection fall back to a software device
// (lavapipe, SwiftShader) when no hardware device exists.
func AllowSoftware() Option {
	return func(c *config) { c.allowSoftware = true }
}

// Debug enables VK_EXT_debug_utils (when the loader offers it) and calls fn
// for each warning or error message the loader and layers report about the
// backend, from instance creation to the end of Close. fn runs on the
// goroutine that called into the backend, while that call holds the
// backend's lock: fn must not call the backend. Validation layers are
// enabled the usual way, e.g. VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation.
func Debug(fn func(Message)) Option {
	return func(c *config) { c.debug = fn }
}

// MemoryBudget caps the device memory, in bytes, that the backend allocates
// for tensors in total (pooled blocks and dedicated allocations; the staging
// buffer is not counted). Allocations beyond it fail with an
// ErrOutOfMemory error, after the backend has waited for pending frees. Zero
// means no cap beyond the device's own.
func MemoryBudget(bytes uint64) Option {
	return func(c *config) { c.budget = bytes }
}

// InstanceExtensions enables extra Vulkan instance extensions by name, such
// as the surface extensions a windowing library needs to show images
// ("VK_KHR_surface", "VK_KHR_xcb_surface"; GLFW lists them). None are enabled
// by default. New returns an error wrapping tensor.ErrUnsupported that names
// the first extension the Vulkan loader does not offer.
func InstanceExtensions(names ...string) Option {
	return func(c *config) { c.instanceExts = append(c.instanceExts, names...) }
}

// DeviceExtensions enables extra device extensions by name. None are enabled
// by default. Asking for "VK_KHR_swapchain" (what NewPresenter needs) also
// makes the backend run on a queue family with graphics and compute, the kind
// that can present to a window, instead of a compute-only one. New returns an
// error wrapping tensor.ErrUnsupported that names the first extension the
// chosen device does not offer.
func DeviceExtensions(names ...string) Option {
	return func(c *config) { c.deviceExts = append(c.deviceExts, names...) }
}

// Profile turns on timestamp queries around every recorded command, so that
// Stats reports the device time of each op; without it (and without
// VKCNN_PROFILE=1) Stats has the counts only. Timestamps cost one query write
// per command and a read of the results per completed batch.
func Profile() Option {
	return func(c *config) { c.profile = true }
}

func newConfig(opts []Option) config {
	c := config{profile: os.Getenv(EnvProfile) == "1"}
	for _, o := range opts {
		o(&c)
	}
	if !c.deviceSet {
		c.device = os.Getenv(EnvDevice)
	}
	c.device = strings.TrimSpace(c.device)
	return c
}

// rank orders device types for automatic selection: lower is better.
func rank(d DeviceInfo) int {
	switch {
	case d.Software:
		return 4
	case d.Type == DiscreteGPU:
		return 0
	case d.Type == IntegratedGPU:
		return 1
	case d.Type == VirtualGPU:
		return 2
	}
	return 3
}

// chooseDevice picks the device to open from devs: the one the selector names
// (an index or a name substring; the best-ranked match wins), or else the
// best-ranked device with a compute queue, skipping software devices unless
// allowSoftware.
func chooseDevice(devs []DeviceInfo, selector string, allowSoftware bool) (DeviceInfo, error) {
	list := func() string {
		var s []string
		for _, d := range devs {
			s = append(s, d.String())
		}
		return strings.Join(s, "; ")
	}
	if len(devs) == 0 {
		return DeviceInfo{}, &NoDeviceError{Reason: NoPhysicalDevice,
			Detail: "the Vulkan driver exposes no physical device"}
	}
	best := -1
	if selector != "" {
		if idx, err := strconv.Atoi(selector); err == nil {
			if idx < 0 || idx >= len(devs) {
				return DeviceInfo{}, &NoDeviceError{Reason: NoMatch, Devices: devs,
					Detail: fmt.Sprintf("device index %d out of range, expected 0 to %d (devices: %s)", idx, len(devs)-1, list())}
			}
			best = idx
		} else {
			for i, d := range devs {
				if strings.Contains(strings.ToLower(d.Name), strings.ToLower(selector)) &&
					(best < 0 || rank(d) < rank(devs[best])) {
					best = i
				}
			}
			if best < 0 {
				return DeviceInfo{}, &NoDeviceError{Reason: NoMatch, Devices: devs,
					Detail: fmt.Sprintf("no device name contains %q (devices: %s)", selector, list())}
			}
		}
		if !devs[best].Compute {
			return DeviceInfo{}, &NoDeviceError{Reason: NoMatch, Devices: devs,
				Detail: fmt.Sprintf("device %q cannot be used: it needs Vulkan 1.1 and a compute queue", devs[best].Name)}
		}
		return devs[best], nil
	}
	var software []string
	for i, d := range devs {
		if !d.Compute {
			continue
		}
		if d.Software && !allowSoftware {
			software = append(software, d.Name)
			continue
		}
		if best < 0 || rank(d) < rank(devs[best]) {
			best = i
		}
	}
	if best >= 0 {
		return devs[best], nil
	}
	if len(software) > 0 {
		return DeviceInfo{}, &NoDeviceError{Reason: SoftwareOnly, Devices: devs,
			Detail: fmt.Sprintf("only a software Vulkan device (%s) was found; pass gpu.AllowSoftware() or set %s to use it",
				strings.Join(software, ", "), EnvDevice)}
	}
	return DeviceInfo{}, &NoDeviceError{Reason: NoPhysicalDevice, Devices: devs,
		Detail: fmt.Sprintf("no Vulkan device supports Vulkan 1.1 with a compute queue (devices: %s)", list())}
}
