// Package vkcnn trains and runs convolutional neural networks on any GPU with
// a Vulkan driver, through GLSL compute shaders compiled to SPIR-V, with a
// goroutine-parallel CPU backend behind the same contract (tensor.Backend) as
// the fallback wherever Vulkan is missing.
//
// Open picks the backend:
//
//	b, info, err := vkcnn.Open() // Auto: a Vulkan GPU if there is one, else the CPU
//	if err != nil { ... }
//	defer b.Close()
//	log.Println(info) // e.g. "auto: using cpu: only a software Vulkan device (llvmpipe ...) was found; ..."
//
// Auto uses the Vulkan backend on the best hardware device (discrete, then
// integrated, then virtual) and falls back to the CPU backend when there is no
// Vulkan loader, no driver, no device, or only a software device such as
// lavapipe. Asking for Vulkan explicitly uses a software device too, and
// returns an error naming what is missing when there is none. The
// VKCNN_BACKEND environment variable (auto, cpu, vulkan) applies when no
// WithBackend option is given; VKCNN_DEVICE selects the Vulkan device by index
// or name (see package gpu).
//
// The packages underneath: tensor (the contract), cpu and gpu (the backends),
// shaders (the GLSL and SPIR-V), nn (layers, models, training), data and viz.
package vkcnn

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/tensor"
)

// Kind is a choice of backend.
type Kind int

// The backend choices.
const (
	// Auto uses a hardware Vulkan device when there is one, else the CPU.
	Auto Kind = iota
	// CPU uses the goroutine-parallel CPU backend (float32 and float64).
	CPU
	// Vulkan uses the Vulkan backend (float32), on a software device if that
	// is all there is.
	Vulkan
)

// EnvBackend is the environment variable that chooses the backend ("auto",
// "cpu" or "vulkan", any case) when Open gets no WithBackend option.
const EnvBackend = "VKCNN_BACKEND"

// String returns "auto", "cpu" or "vulkan".
func (k Kind) String() string {
	switch k {
	case Auto:
		return "auto"
	case CPU:
		return "cpu"
	case Vulkan:
		return "vulkan"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "auto", "cpu" or "vulkan" (any case, surrounding spaces
// ignored); "" means auto and "gpu" means vulkan. It returns a
// tensor.ErrParam error for anything else.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return Auto, nil
	case "cpu":
		return CPU, nil
	case "vulkan", "gpu":
		return Vulkan, nil
	}
	return Auto, fmt.Errorf("vkcnn: backend %q, expected auto, cpu or vulkan: %w", s, tensor.ErrParam)
}

// Info says which backend Open chose, on which device, and why.
type Info struct {
	// Backend is CPU or Vulkan, never Auto.
	Backend Kind
	// Device is the backend's device description (tensor.Caps.Device).
	Device string
	// Software is true for a software Vulkan device such as lavapipe.
	Software bool
	// Reason explains the choice, e.g. "auto: using cpu: only a software
	// Vulkan device (llvmpipe) was found; pass vkcnn.WithBackend(vkcnn.Vulkan)
	// to use it".
	Reason string
}

// String returns the reason.
func (i Info) String() string { return i.Reason }

type config struct {
	kind    Kind
	kindSet bool
	device  *string
	cpuOpts []cpu.Option
	gpuOpts []gpu.Option
}

// Option configures Open.
type Option func(*config)

// WithBackend chooses the backend, overriding VKCNN_BACKEND.
func WithBackend(k Kind) Option { return func(c *config) { c.kind, c.kindSet = k, true } }

// WithDevice selects the Vulkan device by index or case-insensitive name
// substring, overriding VKCNN_DEVICE. A selected software device is used even
// under Auto.
func WithDevice(selector string) Option { return func(c *config) { c.device = &selector } }

// WithCPUOptions passes options to cpu.New, such as cpu.Threads.
func WithCPUOptions(opts ...cpu.Option) Option {
	return func(c *config) { c.cpuOpts = append(c.cpuOpts, opts...) }
}

// WithVulkanOptions passes options to gpu.New, such as gpu.Debug.
func WithVulkanOptions(opts ...gpu.Option) Option {
	return func(c *config) { c.gpuOpts = append(c.gpuOpts, opts...) }
}

// Open returns the chosen backend and an Info saying what was chosen and why.
// The caller closes the backend. Errors: a tensor.ErrParam error for an
// unknown Kind or VKCNN_BACKEND value; with Vulkan, the *gpu.NoDeviceError
// (wrapping tensor.ErrNoDevice) naming what is missing (loader, driver,
// device) or the Vulkan error; with Auto, only a device selector that matches
// no device is an error — every other Vulkan problem falls back to the CPU.
func Open(opts ...Option) (tensor.Backend, Info, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if !c.kindSet {
		k, err := ParseKind(os.Getenv(EnvBackend))
		if err != nil {
			return nil, Info{}, fmt.Errorf("%s: %w", EnvBackend, err)
		}
		c.kind = k
	}
	gpuOpts := c.gpuOpts
	if c.device != nil {
		gpuOpts = append(gpuOpts, gpu.Device(*c.device))
	}
	switch c.kind {
	case CPU:
		b := cpu.New(c.cpuOpts...)
		return b, Info{Backend: CPU, Device: b.Caps().Device, Reason: "cpu: as asked"}, nil
	case Vulkan:
		b, err := gpu.New(append(gpuOpts, gpu.AllowSoftware())...)
		if err != nil {
			return nil, Info{}, fmt.Errorf("vkcnn: Vulkan backend: %w", err)
		}
		reason := "vulkan: as asked, on " + b.Info().Name
		if b.Info().Software {
			reason += " (a software device)"
		}
		return b, vulkanInfo(b, reason), nil
	case Auto:
		b, err := gpu.New(gpuOpts...)
		if err == nil {
			return b, vulkanInfo(b, fmt.Sprintf("auto: using vulkan on %s (%s)", b.Info().Name, b.Info().Type)), nil
		}
		var nd *gpu.NoDeviceError
		if errors.As(err, &nd) && nd.Reason == gpu.NoMatch {
			return nil, Info{}, fmt.Errorf("vkcnn: Vulkan device selection: %w", err)
		}
		cb := cpu.New(c.cpuOpts...)
		return cb, Info{Backend: CPU, Device: cb.Caps().Device, Reason: "auto: using cpu: " + fallbackReason(err)}, nil
	}
	return nil, Info{}, fmt.Errorf("vkcnn: backend kind %v, expected Auto, CPU or Vulkan: %w", c.kind, tensor.ErrParam)
}

func vulkanInfo(b *gpu.Backend, reason string) Info {
	return Info{Backend: Vulkan, Device: b.Info().Name, Software: b.Info().Software, Reason: reason}
}

// fallbackReason says in words why Auto did not use Vulkan.
func fallbackReason(err error) string {
	var nd *gpu.NoDeviceError
	if !errors.As(err, &nd) {
		return "opening Vulkan failed: " + err.Error()
	}
	if nd.Reason == gpu.SoftwareOnly {
		var names []string
		for _, d := range nd.Devices {
			if d.Software && d.Compute {
				names = append(names, d.Name)
			}
		}
		return fmt.Sprintf("only a software Vulkan device (%s) was found; pass vkcnn.WithBackend(vkcnn.Vulkan) or set %s=vulkan to use it",
			strings.Join(names, ", "), EnvBackend)
	}
	return strings.TrimPrefix(nd.Error(), "gpu: ")
}
