//go:build cgo

package gpu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// The presenter itself needs a window; viewer's window test (build tag
// "view", run under Xvfb) covers it. These tests cover what needs none.

func TestExtensionOptions(t *testing.T) {
	// Every loader with a display driver offers VK_KHR_surface, and lavapipe
	// offers VK_KHR_swapchain.
	b := vktest.Open(t, gpu.InstanceExtensions("VK_KHR_surface", " ", "VK_KHR_surface"), gpu.DeviceExtensions(gpu.SwapchainExtension))
	if b.Instance() == nil {
		t.Error("Instance() is nil")
	}
	if got := b.Extensions(); !slices.Equal(got, []string{"VK_KHR_surface", gpu.SwapchainExtension}) {
		t.Errorf("Extensions() = %q, want VK_KHR_surface and %s", got, gpu.SwapchainExtension)
	}
	if got := vktest.Open(t).Extensions(); len(got) != 0 {
		t.Errorf("Extensions() without options = %q, want none", got)
	}
	x, err := b.Alloc(tensor.Float32, tensor.Shape{3})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fill(x, 2); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3)
	if err := b.Download(got, x); err != nil || got[2] != 2 {
		t.Errorf("a backend with extensions computes %v, %v; want 2s", got, err)
	}
	for _, c := range []struct {
		opt  gpu.Option
		name string
	}{
		{gpu.InstanceExtensions("VK_vkcnn_no_such_instance_extension"), "VK_vkcnn_no_such_instance_extension"},
		{gpu.DeviceExtensions("VK_vkcnn_no_such_device_extension"), "VK_vkcnn_no_such_device_extension"},
	} {
		nb, err := gpu.New(gpu.AllowSoftware(), c.opt)
		if err == nil {
			nb.Close()
			t.Fatalf("New with %s succeeded, want an error", c.name)
		}
		if !errors.Is(err, tensor.ErrUnsupported) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("New with %s: %v, want ErrUnsupported naming it", c.name, err)
		}
	}
}

func TestNewPresenterErrors(t *testing.T) {
	b := vktest.Open(t)
	if _, err := b.NewPresenter(0, 100, 100); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("NewPresenter(0, …) = %v, want ErrParam", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NewPresenter(1, 100, 100); !errors.Is(err, tensor.ErrClosed) {
		t.Errorf("NewPresenter after Close = %v, want ErrClosed", err)
	}
	if b.Instance() != nil {
		t.Error("Instance() after Close is not nil")
	}
}

// TestCompose draws a rectangle with the view_compose shader.
func TestCompose(t *testing.T) {
	b := vktest.Open(t)
	const w, h = 5, 3
	img, err := b.Alloc(tensor.Float32, tensor.Shape{w * h})
	if err != nil {
		t.Fatal(err)
	}
	// op 0 (rect), a 5×3 image, BGRA, clip [1, 3) × [1, 9), colour 0x102030.
	push := []uint32{0, w, h, 1, 1, 1, 3, 9, 0x102030}
	if err := b.Compose(push, [3]uint32{1, 1, 1}, img, img); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, w*h)
	if err := b.Download(got, img); err != nil {
		t.Fatal(err)
	}
	pix := unsafe.Slice((*uint32)(unsafe.Pointer(&got[0])), len(got))
	for i, p := range pix {
		x, y := i%w, i/w
		want := uint32(0)
		if x >= 1 && x < 3 && y >= 1 {
			want = 0xff102030
		}
		if p != want {
			t.Errorf("pixel (%d, %d) = %#x, want %#x", x, y, p, want)
		}
	}
	if err := b.Compose(make([]uint32, gpu.ComposeWords+1), [3]uint32{1, 1, 1}, img, img); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Compose with %d words: %v, want ErrParam", gpu.ComposeWords+1, err)
	}
}
