package gpu

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestChooseDevice(t *testing.T) {
	lvp := DeviceInfo{Name: "llvmpipe (LLVM 15.0.6, 256 bits)", Type: CPUDevice, Software: true, Compute: true}
	igpu := DeviceInfo{Name: "Intel(R) UHD Graphics 620", Type: IntegratedGPU, Compute: true}
	dgpu := DeviceInfo{Name: "NVIDIA GeForce RTX 3080", Type: DiscreteGPU, Compute: true}
	vgpu := DeviceInfo{Name: "Virtio-GPU Venus", Type: VirtualGPU, Compute: true}
	noCompute := DeviceInfo{Name: "Display Only", Type: DiscreteGPU}
	list := func(ds ...DeviceInfo) []DeviceInfo {
		for i := range ds {
			ds[i].Index = i
		}
		return ds
	}
	cases := []struct {
		name     string
		devs     []DeviceInfo
		selector string
		software bool
		want     string // chosen device name, or "" for an error
		reason   Reason
	}{
		{"discrete before integrated", list(lvp, igpu, dgpu), "", false, dgpu.Name, 0},
		{"integrated before virtual", list(vgpu, igpu), "", false, igpu.Name, 0},
		{"virtual before software", list(lvp, vgpu), "", true, vgpu.Name, 0},
		{"software only", list(lvp), "", false, "", SoftwareOnly},
		{"software allowed", list(lvp), "", true, lvp.Name, 0},
		{"no compute queue skipped", list(noCompute, igpu), "", false, igpu.Name, 0},
		{"only a device without compute", list(noCompute), "", true, "", NoPhysicalDevice},
		{"no devices", nil, "", true, "", NoPhysicalDevice},
		{"index selects software", list(dgpu, lvp), "1", false, lvp.Name, 0},
		{"index out of range", list(dgpu, lvp), "2", false, "", NoMatch},
		{"negative index", list(dgpu), "-1", false, "", NoMatch},
		{"name substring, any case", list(dgpu, lvp), "LLVMPIPE", false, lvp.Name, 0},
		{"name matches several: best ranked", list(igpu, DeviceInfo{Name: "Intel(R) Arc A770", Type: DiscreteGPU, Compute: true}), "intel", false, "Intel(R) Arc A770", 0},
		{"name matches none", list(dgpu, lvp), "radeon", true, "", NoMatch},
		{"named device without compute", list(noCompute, dgpu), "display", false, "", NoMatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := chooseDevice(c.devs, c.selector, c.software)
			if c.want != "" {
				if err != nil || got.Name != c.want {
					t.Fatalf("chooseDevice(%q, software %v) = %q, %v; want %q", c.selector, c.software, got.Name, err, c.want)
				}
				return
			}
			var nd *NoDeviceError
			if !errors.As(err, &nd) || nd.Reason != c.reason || !errors.Is(err, tensor.ErrNoDevice) {
				t.Fatalf("chooseDevice(%q, software %v) = %q, %v; want a NoDeviceError with reason %v wrapping ErrNoDevice",
					c.selector, c.software, got.Name, err, c.reason)
			}
			if c.reason == NoMatch && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.selector)) {
				t.Errorf("error %q does not name the selector %q", err, c.selector)
			}
		})
	}
}

func TestSoftwareOnlyMessage(t *testing.T) {
	_, err := chooseDevice([]DeviceInfo{{Name: "llvmpipe (LLVM 15)", Type: CPUDevice, Software: true, Compute: true}}, "", false)
	for _, want := range []string{"only a software Vulkan device", "llvmpipe", EnvDevice, "AllowSoftware"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestResultError(t *testing.T) {
	cases := []struct {
		code int32
		name string
		is   error
	}{
		{-1, "VK_ERROR_OUT_OF_HOST_MEMORY", tensor.ErrOutOfMemory},
		{-2, "VK_ERROR_OUT_OF_DEVICE_MEMORY", tensor.ErrOutOfMemory},
		{-1000069000, "VK_ERROR_OUT_OF_POOL_MEMORY", tensor.ErrOutOfMemory},
		{-4, "VK_ERROR_DEVICE_LOST", tensor.ErrDeviceLost},
		{-7, "VK_ERROR_EXTENSION_NOT_PRESENT", tensor.ErrUnsupported},
		{-3, "VK_ERROR_INITIALIZATION_FAILED", nil},
		{-424242, "VkResult(-424242)", nil},
	}
	for _, c := range cases {
		err := check("vkDoThing", c.code)
		if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), "vkDoThing") {
			t.Errorf("check(%d) = %v, want an error naming vkDoThing and %s", c.code, err, c.name)
		}
		for _, s := range []error{tensor.ErrOutOfMemory, tensor.ErrDeviceLost, tensor.ErrUnsupported} {
			if errors.Is(err, s) != (s == c.is) {
				t.Errorf("check(%d): errors.Is(%v) = %v, want %v", c.code, s, errors.Is(err, s), s == c.is)
			}
		}
	}
	if err := check("ok", 0); err != nil {
		t.Errorf("check(VK_SUCCESS) = %v, want nil", err)
	}
}

func TestMib(t *testing.T) {
	for n, want := range map[uint64]string{300: "300 B", 2048: "2 KiB", 64 << 20: "64 MiB", 3 << 29: "1.5 GiB"} {
		if got := mib(n); got != want {
			t.Errorf("mib(%d) = %q, want %q", n, got, want)
		}
	}
}
