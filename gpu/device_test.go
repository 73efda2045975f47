//go:build cgo

package gpu_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// devices lists the Vulkan devices, skipping t (or failing it when Vulkan is
// required) when there are none.
func devices(t *testing.T) []gpu.DeviceInfo {
	t.Helper()
	devs, err := gpu.Devices()
	if err != nil {
		if vktest.Required() {
			t.Fatalf("Devices: %v", err)
		}
		t.Skipf("no Vulkan: %v", err)
	}
	return devs
}

func TestDevices(t *testing.T) {
	devs := devices(t)
	if len(devs) == 0 {
		t.Fatal("Devices returned no devices and no error")
	}
	for i, d := range devs {
		t.Logf("%v (Vulkan %s, host-visible %d bytes)", d, d.APIVersion, d.HostVisibleBytes)
		if d.Index != i || d.Name == "" || d.APIVersion == "" {
			t.Errorf("device %d: %+v, want index %d, a name and an API version", i, d, i)
		}
		if d.Compute && d.DeviceLocalBytes == 0 && d.HostVisibleBytes == 0 {
			t.Errorf("device %d (%s): no memory reported", i, d.Name)
		}
		lower := strings.ToLower(d.Name)
		if strings.Contains(lower, "llvmpipe") && (!d.Software || d.Type != gpu.CPUDevice) {
			t.Errorf("llvmpipe device %+v, want software and type cpu", d)
		}
	}
}

func TestNameCapsInfo(t *testing.T) {
	b := vktest.Open(t)
	if b.Name() != "vulkan" {
		t.Errorf("Name = %q, want vulkan", b.Name())
	}
	c := b.Caps()
	if !slices.Equal(c.DTypes, []tensor.DType{tensor.Float32}) || !c.Supports(tensor.Float32) || c.Supports(tensor.Float64) {
		t.Errorf("Caps.DTypes = %v, want [float32]", c.DTypes)
	}
	if c.Device != b.Info().Name || c.Software != b.Info().Software || c.Device == "" {
		t.Errorf("Caps = %+v, Info = %+v: device name or software flag differ", c, b.Info())
	}
}

// TestSoftwareNeedsAsking checks that automatic selection skips software
// devices: on a machine with only lavapipe, New without AllowSoftware fails
// with a SoftwareOnly error.
func TestSoftwareNeedsAsking(t *testing.T) {
	devs := devices(t)
	for _, d := range devs {
		if d.Compute && !d.Software {
			t.Skipf("hardware device %q present", d.Name)
		}
	}
	t.Setenv(gpu.EnvDevice, "")
	b, err := gpu.New()
	var nd *gpu.NoDeviceError
	if !errors.As(err, &nd) || nd.Reason != gpu.SoftwareOnly || !errors.Is(err, tensor.ErrNoDevice) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("New() on a software-only machine = %v, want a SoftwareOnly NoDeviceError", err)
	}
	if len(nd.Devices) != len(devs) {
		t.Errorf("error lists %d devices, want %d", len(nd.Devices), len(devs))
	}
	t.Log(err)
}

func TestDeviceSelectionEnv(t *testing.T) {
	devs := devices(t)
	last := devs[len(devs)-1]
	if !last.Compute {
		t.Skipf("device %q has no compute queue", last.Name)
	}
	// By index, software or not, through the environment.
	t.Setenv(gpu.EnvDevice, "  "+string(rune('0'+last.Index))+" ")
	if last.Index > 9 {
		t.Skip("too many devices for this test")
	}
	if got := openWithoutSoftware(t).Info(); got.Name != last.Name {
		t.Errorf("%s=%d opened %q, want %q", gpu.EnvDevice, last.Index, got.Name, last.Name)
	}
	// By a name substring in another case.
	word := strings.ToUpper(strings.Fields(last.Name)[0])
	t.Setenv(gpu.EnvDevice, word)
	if got := openWithoutSoftware(t).Info(); !strings.Contains(strings.ToUpper(got.Name), word) {
		t.Errorf("%s=%s opened %q", gpu.EnvDevice, word, got.Name)
	}
	// The option wins over the environment.
	t.Setenv(gpu.EnvDevice, "no-such-device")
	if got := openWithoutSoftware(t, gpu.Device(word)).Info(); !strings.Contains(strings.ToUpper(got.Name), word) {
		t.Errorf("Device(%q) opened %q", word, got.Name)
	}
	for _, sel := range []string{"no-such-device", "17"} {
		t.Setenv(gpu.EnvDevice, sel)
		b, err := gpu.New(gpu.AllowSoftware())
		var nd *gpu.NoDeviceError
		if !errors.As(err, &nd) || nd.Reason != gpu.NoMatch || !strings.Contains(err.Error(), sel) {
			if b != nil {
				b.Close()
			}
			t.Errorf("%s=%s: New = %v, want a NoMatch error naming the selector", gpu.EnvDevice, sel, err)
		}
	}
}

// openWithoutSoftware opens a backend with the given options but without
// AllowSoftware, capturing validation messages like vktest.Open.
func openWithoutSoftware(t *testing.T, opts ...gpu.Option) *gpu.Backend {
	t.Helper()
	var msgs []gpu.Message
	b, err := gpu.New(append(opts, gpu.Debug(func(m gpu.Message) { msgs = append(msgs, m) }))...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, m := range msgs {
		if m.ID != "Loader Message" {
			t.Errorf("vulkan %v", m)
		}
	}
	return b
}

func TestNoDriver(t *testing.T) {
	devices(t) // skip without a loader
	dir := t.TempDir()
	t.Setenv("VK_ICD_FILENAMES", dir+"/none.json")
	t.Setenv("VK_DRIVER_FILES", dir+"/none.json")
	b, err := gpu.New(gpu.AllowSoftware())
	if b != nil {
		b.Close()
	}
	var nd *gpu.NoDeviceError
	if !errors.As(err, &nd) || (nd.Reason != gpu.NoDriver && nd.Reason != gpu.NoPhysicalDevice) || !errors.Is(err, tensor.ErrNoDevice) {
		t.Fatalf("New with no driver = %v, want a NoDriver NoDeviceError", err)
	}
	t.Log(err)
	if _, err := gpu.Devices(); !errors.Is(err, tensor.ErrNoDevice) {
		t.Errorf("Devices with no driver = %v, want ErrNoDevice", err)
	}
}

// TestNoLoader runs this test binary again with the loader pointed at a file
// that does not exist: New must fail with a NoLoader error, and vktest.Open
// must skip, or fail when VKCNN_REQUIRE_VULKAN=1.
func TestNoLoader(t *testing.T) {
	if os.Getenv("VKCNN_TEST_NO_LOADER") == "1" {
		_, err := gpu.New(gpu.AllowSoftware())
		var nd *gpu.NoDeviceError
		if !errors.As(err, &nd) || nd.Reason != gpu.NoLoader || !strings.Contains(err.Error(), "/nonexistent/libvulkan.so.1") {
			t.Fatalf("New without a loader = %v, want a NoLoader error naming the library", err)
		}
		if _, err := gpu.Devices(); !errors.As(err, &nd) || nd.Reason != gpu.NoLoader {
			t.Fatalf("Devices without a loader = %v, want a NoLoader error", err)
		}
		vktest.Open(t)
		t.Fatal("vktest.Open returned without a loader")
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for _, require := range []string{"", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoLoader$", "-test.v")
		cmd.Env = append(os.Environ(), "VKCNN_TEST_NO_LOADER=1", gpu.EnvLibrary+"=/nonexistent/libvulkan.so.1",
			vktest.EnvRequire+"="+require)
		out, err := cmd.CombinedOutput()
		text := string(out)
		if require == "" {
			if err != nil || !strings.Contains(text, "--- SKIP: TestNoLoader") || !strings.Contains(text, "Vulkan loader") {
				t.Errorf("without a loader: err %v, want a skip naming the loader; output:\n%s", err, text)
			}
		} else if err == nil || !strings.Contains(text, "--- FAIL: TestNoLoader") || !strings.Contains(text, "Vulkan loader") {
			t.Errorf("without a loader and %s=1: err %v, want a failure naming the loader; output:\n%s", vktest.EnvRequire, err, text)
		}
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	b := vktest.Open(t)
	x, err := b.Alloc(tensor.Float32, tensor.Shape{4})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	calls := map[string]func() error{
		"Alloc":    func() error { _, err := b.Alloc(tensor.Float32, tensor.Shape{4}); return err },
		"Upload":   func() error { return b.Upload(x, make([]float32, 4)) },
		"Download": func() error { return b.Download(make([]float32, 4), x) },
		"Sync":     b.Sync,
		"Copy":     func() error { return b.Copy(x, x) },
		"Fill":     func() error { return b.Fill(x, 1) },
		"Dispatch": func() error { return b.Dispatch("fill", nil, []uint32{4, 0}, [3]uint32{1, 1, 1}, x) },
		"Scratch":  func() error { _, err := b.Scratch(4); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, tensor.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := x.Free(); err != nil {
		t.Errorf("Free after Close = %v, want nil", err)
	}
}

// TestValidationCaptured checks that the debug messenger reports validation
// errors, both from an invalid call and for objects still alive at Close.
func TestValidationCaptured(t *testing.T) {
	if !strings.Contains(os.Getenv("VK_INSTANCE_LAYERS"), "validation") {
		t.Skip("validation layer not enabled (set VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation)")
	}
	devices(t)
	var msgs []gpu.Message
	b, err := gpu.New(gpu.AllowSoftware(), gpu.Debug(func(m gpu.Message) { msgs = append(msgs, m) }))
	if err != nil {
		t.Fatal(err)
	}
	has := func(id string) bool {
		return slices.ContainsFunc(msgs, func(m gpu.Message) bool {
			return m.Severity == gpu.SeverityError && strings.Contains(m.ID+m.Text, id)
		})
	}
	b.CreateZeroSizeBuffer()
	if !has("VUID-VkBufferCreateInfo-size") {
		t.Errorf("no validation error for a zero-size buffer; messages: %v", msgs)
	}
	if err := b.LeakBuffer(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if !has("VkBuffer") || !has("vkDestroyDevice") {
		t.Errorf("no validation error for a buffer leaked at Close; messages: %v", msgs)
	}
}

// TestConcurrentBackends opens backends from several goroutines at once and
// runs work on each concurrently (one goroutine per backend).
func TestConcurrentBackends(t *testing.T) {
	devices(t)
	const n = 3
	errs := make(chan error, n)
	for g := range n {
		go func() {
			errs <- func() error {
				var bad []gpu.Message
				b, err := gpu.New(gpu.AllowSoftware(), gpu.Debug(func(m gpu.Message) {
					if m.ID != "Loader Message" {
						bad = append(bad, m)
					}
				}))
				if err != nil {
					return err
				}
				x, err := b.Alloc(tensor.Float32, tensor.Shape{500})
				if err == nil {
					for i := range 300 {
						if err = b.Fill(x, float64(g*1000+i)); err != nil {
							break
						}
					}
				}
				v := make([]float32, 500)
				if err == nil {
					err = b.Download(v, x)
				}
				if cerr := b.Close(); err == nil {
					err = cerr
				}
				if err == nil && v[499] != float32(g*1000+299) {
					err = fmt.Errorf("backend %d: got %v, want %d", g, v[499], g*1000+299)
				}
				if err == nil && len(bad) > 0 {
					err = fmt.Errorf("backend %d: validation messages %v", g, bad)
				}
				return err
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
