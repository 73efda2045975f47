package vkcnn_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// open calls vkcnn.Open with validation messages failing t, and closes the
// backend at the end of t.
func open(t *testing.T, opts ...vkcnn.Option) (tensor.Backend, vkcnn.Info, error) {
	t.Helper()
	debug := gpu.Debug(func(m gpu.Message) {
		if m.ID != "Loader Message" {
			t.Errorf("vulkan %v", m)
		}
	})
	b, info, err := vkcnn.Open(append([]vkcnn.Option{vkcnn.WithVulkanOptions(debug)}, opts...)...)
	if err == nil {
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	return b, info, err
}

// vulkanDevices returns the Vulkan devices, or nil when Vulkan is missing
// (which fails t when VKCNN_REQUIRE_VULKAN=1).
func vulkanDevices(t *testing.T) []gpu.DeviceInfo {
	devs, err := gpu.Devices()
	if err != nil && vktest.Required() {
		t.Fatalf("Devices: %v", err)
	}
	return devs
}

func TestOpenCPU(t *testing.T) {
	t.Setenv(vkcnn.EnvBackend, "vulkan") // the option wins
	b, info, err := open(t, vkcnn.WithBackend(vkcnn.CPU), vkcnn.WithCPUOptions(cpu.Threads(1)))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "cpu" || info.Backend != vkcnn.CPU || info.Device != b.Caps().Device || !strings.HasPrefix(info.Reason, "cpu:") {
		t.Errorf("Open(CPU) = %s backend, info %+v", b.Name(), info)
	}
}

func TestOpenAuto(t *testing.T) {
	t.Setenv(gpu.EnvDevice, "")
	t.Setenv(vkcnn.EnvBackend, "")
	devs := vulkanDevices(t)
	hardware, software := false, false
	for _, d := range devs {
		if d.Compute {
			hardware = hardware || !d.Software
			software = software || d.Software
		}
	}
	b, info, err := open(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(info)
	switch {
	case hardware:
		if info.Backend != vkcnn.Vulkan || b.Name() != "vulkan" || info.Software {
			t.Errorf("with a hardware device Auto chose %+v", info)
		}
	case software:
		if info.Backend != vkcnn.CPU || b.Name() != "cpu" || !strings.Contains(info.Reason, "only a software Vulkan device") ||
			!strings.Contains(info.Reason, devs[0].Name) {
			t.Errorf("with only a software device Auto chose %+v, want cpu and the reason", info)
		}
	default:
		if info.Backend != vkcnn.CPU || !strings.HasPrefix(info.Reason, "auto: using cpu: ") {
			t.Errorf("without Vulkan Auto chose %+v", info)
		}
	}
}

func TestOpenVulkan(t *testing.T) {
	devs := vulkanDevices(t)
	if len(devs) == 0 {
		t.Skip("no Vulkan device")
	}
	t.Setenv(gpu.EnvDevice, "")
	b, info, err := open(t, vkcnn.WithBackend(vkcnn.Vulkan))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "vulkan" || info.Backend != vkcnn.Vulkan || info.Device != b.Caps().Device || !strings.HasPrefix(info.Reason, "vulkan: as asked") {
		t.Errorf("Open(Vulkan) = %s, %+v", b.Name(), info)
	}
	// Naming the device selects it under Auto too, software or not.
	t.Setenv(vkcnn.EnvBackend, "AUTO")
	b2, info2, err := open(t, vkcnn.WithDevice(devs[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	if b2.Name() != "vulkan" || info2.Device != devs[0].Name {
		t.Errorf("Auto with device %q chose %+v", devs[0].Name, info2)
	}
	// A selector that matches nothing is an error, not a fallback.
	if _, _, err := open(t, vkcnn.WithDevice("no-such-device")); !errors.Is(err, tensor.ErrNoDevice) || !strings.Contains(err.Error(), "no-such-device") {
		t.Errorf("Auto with an unknown device = %v, want an ErrNoDevice error naming it", err)
	}
}

// TestNoDriver points the loader at no driver: Vulkan fails naming it, Auto
// falls back to the CPU and says why.
func TestNoDriver(t *testing.T) {
	if len(vulkanDevices(t)) == 0 {
		t.Skip("no Vulkan loader or driver to begin with")
	}
	dir := t.TempDir()
	t.Setenv("VK_ICD_FILENAMES", dir+"/none.json")
	t.Setenv("VK_DRIVER_FILES", dir+"/none.json")
	t.Setenv(gpu.EnvDevice, "")
	_, _, err := open(t, vkcnn.WithBackend(vkcnn.Vulkan))
	if !errors.Is(err, tensor.ErrNoDevice) || !strings.Contains(err.Error(), "driver") {
		t.Errorf("Open(Vulkan) without a driver = %v, want an ErrNoDevice error naming the driver", err)
	}
	b, info, err := open(t)
	if err != nil || b.Name() != "cpu" || !strings.Contains(info.Reason, "driver") {
		t.Errorf("Open(Auto) without a driver = %v, %+v; want cpu with the reason", err, info)
	}
}

func TestBadKind(t *testing.T) {
	if _, _, err := open(t, vkcnn.WithBackend(vkcnn.Kind(7))); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Open(Kind(7)) = %v, want ErrParam", err)
	}
	t.Setenv(vkcnn.EnvBackend, "tpu")
	if _, _, err := open(t); !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "tpu") {
		t.Errorf("VKCNN_BACKEND=tpu: %v, want an ErrParam error naming it", err)
	}
	for s, want := range map[string]vkcnn.Kind{" CPU ": vkcnn.CPU, "Vulkan": vkcnn.Vulkan, "": vkcnn.Auto, "auto": vkcnn.Auto} {
		if k, err := vkcnn.ParseKind(s); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", s, k, err, want)
		}
	}
	if vkcnn.Vulkan.String() != "vulkan" || vkcnn.Kind(9).String() != "Kind(9)" {
		t.Errorf("Kind.String: %q, %q", vkcnn.Vulkan, vkcnn.Kind(9))
	}
}
