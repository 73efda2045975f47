//go:build cgo

package gpu

/*
#cgo nocallback vkcnn_present_record
#include <stdint.h>
#include <stdlib.h>

typedef void (*vkcnn_pfn)(void);
typedef vkcnn_pfn (*vkcnn_present_proc)(void*, const char*);

// The structures of VK_KHR_surface and VK_KHR_swapchain the presenter fills,
// laid out as in vulkan_core.h (non-dispatchable handles are 64-bit).
typedef struct { uint32_t width, height; } vkcnn_extent;
typedef struct {
	uint32_t minImageCount, maxImageCount;
	vkcnn_extent currentExtent, minImageExtent, maxImageExtent;
	uint32_t maxImageArrayLayers, supportedTransforms, currentTransform, supportedCompositeAlpha, supportedUsageFlags;
} vkcnn_surface_caps;
typedef struct { int32_t format, colorSpace; } vkcnn_surface_format;
typedef struct {
	int32_t sType; const void* pNext; uint32_t flags; uint64_t surface; uint32_t minImageCount;
	int32_t imageFormat; int32_t imageColorSpace; vkcnn_extent imageExtent; uint32_t imageArrayLayers;
	uint32_t imageUsage; int32_t imageSharingMode; uint32_t queueFamilyIndexCount; const uint32_t* pQueueFamilyIndices;
	uint32_t preTransform; uint32_t compositeAlpha; int32_t presentMode; uint32_t clipped; uint64_t oldSwapchain;
} vkcnn_swapchain_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t waitSemaphoreCount; const uint64_t* pWaitSemaphores;
	uint32_t swapchainCount; const uint64_t* pSwapchains; const uint32_t* pImageIndices; int32_t* pResults;
} vkcnn_present_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t srcAccessMask, dstAccessMask; int32_t oldLayout, newLayout;
	uint32_t srcQueueFamilyIndex, dstQueueFamilyIndex; uint64_t image;
	uint32_t aspectMask, baseMipLevel, levelCount, baseArrayLayer, layerCount;
} vkcnn_image_barrier;
typedef struct {
	uint64_t bufferOffset; uint32_t bufferRowLength, bufferImageHeight;
	uint32_t aspectMask, mipLevel, baseArrayLayer, layerCount;
	int32_t x, y, z; uint32_t width, height, depth;
} vkcnn_buffer_image_copy;
typedef struct { int32_t sType; const void* pNext; uint32_t flags; } vkcnn_fence_info;

// vkcnn_present_fns holds the surface and swapchain commands, fetched per
// presenter so that they belong to the presenter's instance and device.
typedef struct {
	void* instance;
	void* phys;
	void* device;
	int32_t (*surfaceSupport)(void*, uint32_t, uint64_t, uint32_t*);
	int32_t (*surfaceCaps)(void*, uint64_t, vkcnn_surface_caps*);
	int32_t (*surfaceFormats)(void*, uint64_t, uint32_t*, vkcnn_surface_format*);
	int32_t (*presentModes)(void*, uint64_t, uint32_t*, int32_t*);
	void (*destroySurface)(void*, uint64_t, const void*);
	int32_t (*createSwapchain)(void*, const vkcnn_swapchain_info*, const void*, uint64_t*);
	void (*destroySwapchain)(void*, uint64_t, const void*);
	int32_t (*swapchainImages)(void*, uint64_t, uint32_t*, uint64_t*);
	int32_t (*acquire)(void*, uint64_t, uint64_t, uint64_t, uint64_t, uint32_t*);
	int32_t (*queuePresent)(void*, const vkcnn_present_info*);
	void (*cmdPipelineBarrier)(void*, uint32_t, uint32_t, uint32_t, uint32_t, const void*, uint32_t, const void*, uint32_t, const vkcnn_image_barrier*);
	void (*cmdCopyBufferToImage)(void*, uint64_t, uint64_t, int32_t, uint32_t, const vkcnn_buffer_image_copy*);
	int32_t (*createFence)(void*, const vkcnn_fence_info*, const void*, uint64_t*);
	void (*destroyFence)(void*, uint64_t, const void*);
	int32_t (*waitForFences)(void*, uint32_t, const uint64_t*, uint32_t, uint64_t);
	int32_t (*resetFences)(void*, uint32_t, const uint64_t*);
	int32_t (*queueWaitIdle)(void*);
} vkcnn_present_fns;

// vkcnn_present_load fills f; it returns the name of a missing command or NULL.
static const char* vkcnn_present_load(void* gipa, void* instance, void* phys, void* device, vkcnn_present_fns* f) {
	vkcnn_present_proc gi = (vkcnn_present_proc)gipa;
	vkcnn_present_proc gd = (vkcnn_present_proc)gi(instance, "vkGetDeviceProcAddr");
	if (gd == NULL) return "vkGetDeviceProcAddr";
	f->instance = instance;
	f->phys = phys;
	f->device = device;
#define INST(field, name) f->field = (void*)gi(instance, name); if (f->field == NULL) return name;
#define DEV(field, name) f->field = (void*)gd(device, name); if (f->field == NULL) return name;
	INST(surfaceSupport, "vkGetPhysicalDeviceSurfaceSupportKHR")
	INST(surfaceCaps, "vkGetPhysicalDeviceSurfaceCapabilitiesKHR")
	INST(surfaceFormats, "vkGetPhysicalDeviceSurfaceFormatsKHR")
	INST(presentModes, "vkGetPhysicalDeviceSurfacePresentModesKHR")
	INST(destroySurface, "vkDestroySurfaceKHR")
	DEV(createSwapchain, "vkCreateSwapchainKHR")
	DEV(destroySwapchain, "vkDestroySwapchainKHR")
	DEV(swapchainImages, "vkGetSwapchainImagesKHR")
	DEV(acquire, "vkAcquireNextImageKHR")
	DEV(queuePresent, "vkQueuePresentKHR")
	DEV(cmdPipelineBarrier, "vkCmdPipelineBarrier")
	DEV(cmdCopyBufferToImage, "vkCmdCopyBufferToImage")
	DEV(createFence, "vkCreateFence")
	DEV(destroyFence, "vkDestroyFence")
	DEV(waitForFences, "vkWaitForFences")
	DEV(resetFences, "vkResetFences")
	DEV(queueWaitIdle, "vkQueueWaitIdle")
#undef INST
#undef DEV
	return NULL;
}

// vkcnn_present_surface_only loads what destroying a surface needs, for a
// presenter whose device lacks the swapchain commands.
static void vkcnn_present_surface_only(void* gipa, void* instance, vkcnn_present_fns* f) {
	f->instance = instance;
	f->destroySurface = (void*)((vkcnn_present_proc)gipa)(instance, "vkDestroySurfaceKHR");
}

static int32_t vkcnn_surface_support(const vkcnn_present_fns* f, uint32_t family, uint64_t surface, uint32_t* ok) {
	return f->surfaceSupport(f->phys, family, surface, ok);
}

static int32_t vkcnn_get_surface_caps(const vkcnn_present_fns* f, uint64_t surface, vkcnn_surface_caps* caps) {
	return f->surfaceCaps(f->phys, surface, caps);
}

static int32_t vkcnn_surface_formats(const vkcnn_present_fns* f, uint64_t surface, uint32_t* n, vkcnn_surface_format* out) {
	return f->surfaceFormats(f->phys, surface, n, out);
}

static int32_t vkcnn_present_modes(const vkcnn_present_fns* f, uint64_t surface, uint32_t* n, int32_t* out) {
	return f->presentModes(f->phys, surface, n, out);
}

static void vkcnn_destroy_surface(const vkcnn_present_fns* f, uint64_t surface) {
	if (f->destroySurface != NULL && surface != 0) f->destroySurface(f->instance, surface, NULL);
}

static int32_t vkcnn_create_swapchain(const vkcnn_present_fns* f, vkcnn_swapchain_info* info, uint64_t* out) {
	info->sType = 1000001000; // VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR
	return f->createSwapchain(f->device, info, NULL, out);
}

static void vkcnn_destroy_swapchain(const vkcnn_present_fns* f, uint64_t swapchain) {
	if (swapchain != 0) f->destroySwapchain(f->device, swapchain, NULL);
}

static int32_t vkcnn_swapchain_images(const vkcnn_present_fns* f, uint64_t swapchain, uint32_t* n, uint64_t* out) {
	return f->swapchainImages(f->device, swapchain, n, out);
}

static int32_t vkcnn_create_present_fence(const vkcnn_present_fns* f, uint64_t* fence) {
	vkcnn_fence_info info = {8, NULL, 0}; // VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
	return f->createFence(f->device, &info, NULL, fence);
}

static void vkcnn_destroy_present_fence(const vkcnn_present_fns* f, uint64_t fence) {
	if (fence != 0) f->destroyFence(f->device, fence, NULL);
}

// vkcnn_acquire acquires the next image, signalling fence; on success it
// waits for the fence and resets it.
static int32_t vkcnn_acquire(const vkcnn_present_fns* f, uint64_t swapchain, uint64_t timeout, uint64_t fence, uint32_t* index) {
	int32_t r = f->acquire(f->device, swapchain, timeout, 0, fence, index);
	if (r != 0 && r != 1000001003) return r; // VK_SUBOPTIMAL_KHR still acquires
	int32_t w = f->waitForFences(f->device, 1, &fence, 1, UINT64_MAX);
	if (w != 0) return w;
	w = f->resetFences(f->device, 1, &fence);
	return w != 0 ? w : r;
}

enum {
	P_STAGE_TOP = 0x1, P_STAGE_COMPUTE = 0x800, P_STAGE_TRANSFER = 0x1000, P_STAGE_BOTTOM = 0x2000,
	P_ACCESS_SHADER_WRITE = 0x40, P_ACCESS_TRANSFER_READ = 0x800, P_ACCESS_TRANSFER_WRITE = 0x1000,
	P_LAYOUT_UNDEFINED = 0, P_LAYOUT_TRANSFER_DST = 7, P_LAYOUT_PRESENT = 1000001002,
};

// vkcnn_present_record records the copy of a width×height image of packed
// 4-byte pixels at buf+off into the swapchain image, between the layout
// transitions to transfer destination and to presentation.
static void vkcnn_present_record(const vkcnn_present_fns* f, void* cmd, uint64_t buf, uint64_t off, uint64_t image,
		uint32_t width, uint32_t height) {
	vkcnn_image_barrier b = {45, NULL, 0, P_ACCESS_TRANSFER_WRITE, P_LAYOUT_UNDEFINED, P_LAYOUT_TRANSFER_DST,
		~0u, ~0u, image, 1, 0, 1, 0, 1}; // VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, colour aspect
	// Earlier compute and transfer writes of buf are made visible to the copy
	// by the barrier the caller records before (Backend.barrierFor).
	f->cmdPipelineBarrier(cmd, P_STAGE_TOP, P_STAGE_TRANSFER, 0, 0, NULL, 0, NULL, 1, &b);
	vkcnn_buffer_image_copy c = {off, width, height, 1, 0, 0, 1, 0, 0, 0, width, height, 1};
	f->cmdCopyBufferToImage(cmd, buf, image, P_LAYOUT_TRANSFER_DST, 1, &c);
	b.srcAccessMask = P_ACCESS_TRANSFER_WRITE;
	b.dstAccessMask = 0;
	b.oldLayout = P_LAYOUT_TRANSFER_DST;
	b.newLayout = P_LAYOUT_PRESENT;
	f->cmdPipelineBarrier(cmd, P_STAGE_TRANSFER, P_STAGE_BOTTOM, 0, 0, NULL, 0, NULL, 1, &b);
}

static int32_t vkcnn_queue_present(const vkcnn_present_fns* f, void* queue, uint64_t swapchain, uint32_t index) {
	int32_t result = 0;
	vkcnn_present_info info = {1000001001, NULL, 0, NULL, 1, &swapchain, &index, &result}; // VK_STRUCTURE_TYPE_PRESENT_INFO_KHR
	int32_t r = f->queuePresent(queue, &info);
	return r != 0 ? r : result;
}

static int32_t vkcnn_present_wait_idle(const vkcnn_present_fns* f, void* queue) { return f->queueWaitIdle(queue); }
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/vkcnn/vkcnn/tensor"
)

// SwapchainExtension is the device extension NewPresenter needs; pass it to
// DeviceExtensions.
const SwapchainExtension = "VK_KHR_swapchain"

// VkResult codes of VK_KHR_surface and VK_KHR_swapchain.
const (
	resultSuboptimal  = 1000001003
	resultOutOfDate   = -1000001004
	resultSurfaceLost = -1000000000
)

// Vulkan formats a presenter can copy packed 8-bit pixels into, in order of
// preference, and whether each stores blue first.
var presentFormats = []struct {
	format int32
	bgra   bool
}{
	{44, true},  // VK_FORMAT_B8G8R8A8_UNORM
	{37, false}, // VK_FORMAT_R8G8B8A8_UNORM
	{50, true},  // VK_FORMAT_B8G8R8A8_SRGB
	{43, false}, // VK_FORMAT_R8G8B8A8_SRGB
	{51, false}, // VK_FORMAT_A8B8G8R8_UNORM_PACK32 (bytes R, G, B, A)
}

// acquireTimeout bounds the wait for a free swapchain image, in nanoseconds;
// a frame that would wait longer is skipped rather than stalling the caller.
const acquireTimeout = 100_000_000

// enableExtensions appends the NUL-terminated names of extra to enable,
// skipping blanks and names already there. It returns an ErrUnsupported error
// naming the first extension that offered lacks; who says whose list that is.
func enableExtensions(enable, extra []string, offered map[string]bool, who string) ([]string, error) {
	for _, name := range extra {
		name = strings.TrimSpace(name)
		if name == "" || slices.Contains(enable, cstr(name)) {
			continue
		}
		if !offered[name] {
			return nil, fmt.Errorf("gpu: %s does not offer the extension %q: %w", who, name, tensor.ErrUnsupported)
		}
		enable = append(enable, cstr(name))
	}
	return enable, nil
}

// Extensions returns the extra instance and device extensions enabled with
// InstanceExtensions and DeviceExtensions (all of them: New fails when one
// is missing), so that a caller can tell whether the backend can present to
// a window before creating a surface on it.
func (b *Backend) Extensions() []string {
	var out []string
	for _, name := range append(append([]string(nil), b.instanceExts...), b.deviceExts...) {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// wantsPresent reports whether the swapchain extension was asked for.
func (b *Backend) wantsPresent() bool { return slices.Contains(b.Extensions(), SwapchainExtension) }

// choosePresentFamily switches the backend to a queue family with graphics
// and compute when presentation was asked for and the device has one: such a
// family can present on every desktop platform, a compute-only one often not.
func (b *Backend) choosePresentFamily() {
	if b.wantsPresent() && b.phys.universal >= 0 {
		b.phys.family = uint32(b.phys.universal)
	}
}

// Instance returns the backend's VkInstance handle, for a windowing library
// that creates a VkSurfaceKHR on it (such as glfwCreateWindowSurface), or nil
// after Close. The backend owns the instance: it stays valid until Close.
func (b *Backend) Instance() unsafe.Pointer {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.in == nil {
		return nil
	}
	return unsafe.Pointer(b.in.inst)
}

// ComposeWords is the number of push-constant words of the view_compose
// shader; Compose pads shorter lists with zeros.
const ComposeWords = 32

// Compose records one dispatch of the view_compose shader
// (shaders/view_compose.comp, which documents the push-constant words, the
// ops and their dispatch sizes): it draws into img, a float32 tensor whose
// elements hold packed 8-bit pixels, reading src. The shader checks every
// access against the buffers' sizes, so any words are memory-safe. Errors
// wrap ErrParam for more than ComposeWords words or too many workgroups,
// ErrShape, ErrFreed, ErrBackend or ErrDType for bad tensors, ErrUnsupported
// for a tensor larger than one storage-buffer binding covers
// (maxStorageBufferRange: the shader has no device-address variant), and
// ErrClosed after Close.
func (b *Backend) Compose(push []uint32, groups [3]uint32, img, src *tensor.Tensor) error {
	const op = "compose"
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "image", T: img}, tensor.Arg{Name: "source", T: src}); err != nil {
		return err
	}
	if len(push) > ComposeWords {
		return fmt.Errorf("gpu: compose: %d push-constant words, expected at most %d: %w", len(push), ComposeWords, tensor.ErrParam)
	}
	var words [ComposeWords]uint32
	copy(words[:], push)
	return b.dispatch("view_compose", nil, words[:], groups, img, src)
}

// Presenter shows images in a window through a Vulkan swapchain on the
// backend's device and queue. It belongs to the backend: its methods lock the
// backend, so they may run while other goroutines use the backend, but one
// Presenter is for one goroutine at a time (Size and BGRA read state that
// Present and Resize change). Close it before the window goes away; the
// backend's Close closes it too.
type Presenter struct {
	b         *Backend
	fns       *C.vkcnn_present_fns
	surface   C.uint64_t
	swapchain C.uint64_t
	images    []C.uint64_t
	fence     C.uint64_t
	format    int32
	space     int32
	bgra      bool
	mode      int32
	width     int // the swapchain's extent; 0 while the surface has no area
	height    int
	wantW     int // the size asked for, used where the surface leaves it open
	wantH     int
	stale     bool // recreate the swapchain before the next frame
	closed    bool
}

// NewPresenter makes a presenter for surface, a VkSurfaceKHR created on the
// backend's instance (see Instance), with a swapchain of about width×height
// pixels (the surface decides: on most platforms it is the window's size).
// The presenter takes ownership of the surface and destroys it on Close, or
// at once when NewPresenter fails. The backend must have been opened with
// DeviceExtensions(SwapchainExtension) and the instance extensions that
// created the surface. Errors wrap ErrParam for a zero surface or a size
// below 1, ErrUnsupported when the swapchain extension is not enabled, the
// device's queue cannot present to the surface or the surface offers no
// 8-bit RGBA or BGRA format, ErrClosed after Close, and *ResultError for a
// failed Vulkan call.
func (b *Backend) NewPresenter(surface uint64, width, height int) (*Presenter, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked("new presenter"); err != nil {
		return nil, err
	}
	if surface == 0 {
		return nil, fmt.Errorf("gpu: new presenter: surface is VK_NULL_HANDLE, expected a VkSurfaceKHR: %w", tensor.ErrParam)
	}
	p := &Presenter{b: b, surface: C.uint64_t(surface), wantW: width, wantH: height}
	p.fns = (*C.vkcnn_present_fns)(C.calloc(1, C.size_t(unsafe.Sizeof(C.vkcnn_present_fns{}))))
	if p.fns == nil {
		return nil, fmt.Errorf("gpu: allocating the presenter's command table: %w", tensor.ErrOutOfMemory)
	}
	fail := func(err error) (*Presenter, error) {
		p.destroy()
		return nil, err
	}
	if width < 1 || height < 1 {
		C.vkcnn_present_surface_only(loader.gipa, unsafe.Pointer(b.in.inst), p.fns)
		return fail(fmt.Errorf("gpu: new presenter: size %d×%d, expected at least 1×1 pixels: %w", width, height, tensor.ErrParam))
	}
	if !b.wantsPresent() {
		C.vkcnn_present_surface_only(loader.gipa, unsafe.Pointer(b.in.inst), p.fns)
		return fail(fmt.Errorf("gpu: new presenter: the backend was opened without %s; pass gpu.DeviceExtensions(gpu.SwapchainExtension) to gpu.New: %w",
			SwapchainExtension, tensor.ErrUnsupported))
	}
	if name := C.vkcnn_present_load(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(b.phys.pd), unsafe.Pointer(b.dev), p.fns); name != nil {
		C.vkcnn_present_surface_only(loader.gipa, unsafe.Pointer(b.in.inst), p.fns)
		return fail(fmt.Errorf("gpu: new presenter: the driver does not provide %s (enable the surface extensions with gpu.InstanceExtensions): %w",
			C.GoString(name), tensor.ErrUnsupported))
	}
	var ok C.uint32_t
	if err := check("vkGetPhysicalDeviceSurfaceSupportKHR", int32(C.vkcnn_surface_support(p.fns, C.uint32_t(b.phys.family), p.surface, &ok))); err != nil {
		return fail(err)
	}
	if ok == 0 {
		return fail(fmt.Errorf("gpu: new presenter: queue family %d of %q cannot present to this surface: %w", b.phys.family, b.info.Name, tensor.ErrUnsupported))
	}
	if err := p.chooseFormat(); err != nil {
		return fail(err)
	}
	if err := check("vkCreateFence", int32(C.vkcnn_create_present_fence(p.fns, &p.fence))); err != nil {
		return fail(err)
	}
	if err := p.recreate(); err != nil {
		return fail(err)
	}
	b.presenters = append(b.presenters, p)
	b.drain()
	return p, nil
}

// chooseFormat picks the surface format and the present mode.
func (p *Presenter) chooseFormat() error {
	var n C.uint32_t
	if err := check("vkGetPhysicalDeviceSurfaceFormatsKHR", int32(C.vkcnn_surface_formats(p.fns, p.surface, &n, nil))); err != nil {
		return err
	}
	formats := make([]C.vkcnn_surface_format, n+1)
	if err := check("vkGetPhysicalDeviceSurfaceFormatsKHR", int32(C.vkcnn_surface_formats(p.fns, p.surface, &n, &formats[0]))); err != nil {
		return err
	}
	formats = formats[:n]
	found := false
	for _, want := range presentFormats {
		for _, f := range formats {
			if int32(f.format) == want.format {
				p.format, p.space, p.bgra, found = want.format, int32(f.colorSpace), want.bgra, true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		var have []string
		for _, f := range formats {
			have = append(have, fmt.Sprint(int32(f.format)))
		}
		return fmt.Errorf("gpu: new presenter: the surface offers formats %s, expected one of 8-bit BGRA or RGBA (VkFormat 44, 37, 50, 43, 51): %w",
			strings.Join(have, ", "), tensor.ErrUnsupported)
	}
	if err := check("vkGetPhysicalDeviceSurfacePresentModesKHR", int32(C.vkcnn_present_modes(p.fns, p.surface, &n, nil))); err != nil {
		return err
	}
	modes := make([]C.int32_t, n+1)
	if err := check("vkGetPhysicalDeviceSurfacePresentModesKHR", int32(C.vkcnn_present_modes(p.fns, p.surface, &n, &modes[0]))); err != nil {
		return err
	}
	// Mailbox never blocks the caller on the display's refresh; FIFO is the
	// mode every device has.
	p.mode = 2 // VK_PRESENT_MODE_FIFO_KHR
	for _, m := range modes[:n] {
		if m == 1 { // VK_PRESENT_MODE_MAILBOX_KHR
			p.mode = 1
		}
	}
	return nil
}

// recreate builds the swapchain for the surface's current size, replacing the
// old one. A surface without area (a minimized window) leaves the presenter
// without a swapchain and stale, to try again at the next frame.
func (p *Presenter) recreate() error {
	b := p.b
	p.stale = true // until a swapchain is made
	var caps C.vkcnn_surface_caps
	if err := check("vkGetPhysicalDeviceSurfaceCapabilitiesKHR", int32(C.vkcnn_get_surface_caps(p.fns, p.surface, &caps))); err != nil {
		return err
	}
	w, h := uint32(caps.currentExtent.width), uint32(caps.currentExtent.height)
	if w == 0xFFFFFFFF {
		w = min(max(uint32(p.wantW), uint32(caps.minImageExtent.width)), uint32(caps.maxImageExtent.width))
		h = min(max(uint32(p.wantH), uint32(caps.minImageExtent.height)), uint32(caps.maxImageExtent.height))
	}
	const transferDst = 0x2 // VK_IMAGE_USAGE_TRANSFER_DST_BIT
	if caps.supportedUsageFlags&transferDst == 0 {
		return fmt.Errorf("gpu: presenter: the surface's images cannot be copied into (usage %#x lacks TRANSFER_DST): %w",
			uint32(caps.supportedUsageFlags), tensor.ErrUnsupported)
	}
	// Wait until no recorded or queued work uses the old images.
	if err := b.flush(); err != nil {
		return err
	}
	if err := check("vkQueueWaitIdle", int32(C.vkcnn_present_wait_idle(p.fns, unsafe.Pointer(b.queue)))); err != nil {
		return b.fail(err)
	}
	if w == 0 || h == 0 {
		C.vkcnn_destroy_swapchain(p.fns, p.swapchain)
		p.swapchain, p.images, p.width, p.height = 0, nil, 0, 0
		return nil
	}
	count := max(uint32(caps.minImageCount)+1, 2)
	if caps.maxImageCount > 0 {
		count = min(count, uint32(caps.maxImageCount))
	}
	alpha := uint32(1) // VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
	if a := uint32(caps.supportedCompositeAlpha); a&alpha == 0 {
		alpha = a & -a // the lowest supported mode
	}
	info := C.vkcnn_swapchain_info{
		surface:          p.surface,
		minImageCount:    C.uint32_t(count),
		imageFormat:      C.int32_t(p.format),
		imageColorSpace:  C.int32_t(p.space),
		imageExtent:      C.vkcnn_extent{width: C.uint32_t(w), height: C.uint32_t(h)},
		imageArrayLayers: 1,
		imageUsage:       transferDst,
		imageSharingMode: 0, // VK_SHARING_MODE_EXCLUSIVE
		preTransform:     caps.currentTransform,
		compositeAlpha:   C.uint32_t(alpha),
		presentMode:      C.int32_t(p.mode),
		clipped:          1,
		oldSwapchain:     p.swapchain,
	}
	var sc C.uint64_t
	err := check("vkCreateSwapchainKHR", int32(C.vkcnn_create_swapchain(p.fns, &info, &sc)))
	C.vkcnn_destroy_swapchain(p.fns, p.swapchain) // retired either way
	p.swapchain, p.images, p.width, p.height = 0, nil, 0, 0
	if err != nil {
		return err
	}
	p.swapchain = sc
	var n C.uint32_t
	if err := check("vkGetSwapchainImagesKHR", int32(C.vkcnn_swapchain_images(p.fns, sc, &n, nil))); err != nil {
		return err
	}
	images := make([]C.uint64_t, n+1)
	if err := check("vkGetSwapchainImagesKHR", int32(C.vkcnn_swapchain_images(p.fns, sc, &n, &images[0]))); err != nil {
		return err
	}
	p.images, p.width, p.height, p.stale = images[:n], int(w), int(h), false
	b.drain()
	return nil
}

// Size returns the swapchain's size in pixels: the size of the images Present
// takes. It is 0×0 while the window has no area (minimized).
func (p *Presenter) Size() (width, height int) { return p.width, p.height }

// BGRA reports the byte order of the pixels Present takes: true for blue,
// green, red, alpha in memory (the packed uint32 A<<24|R<<16|G<<8|B), false
// for red, green, blue, alpha (A<<24|B<<16|G<<8|R).
func (p *Presenter) BGRA() bool { return p.bgra }

// Resize tells the presenter that the window is now width×height pixels:
// it rebuilds the swapchain at the surface's new size (or at width×height
// where the surface leaves the size to the application). A size already
// asked for does nothing. Errors wrap ErrParam for a size below 1, and
// otherwise are as for Present.
func (p *Presenter) Resize(width, height int) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.ready("resize"); err != nil {
		return err
	}
	if width < 1 || height < 1 {
		return fmt.Errorf("gpu: presenter resize: size %d×%d, expected at least 1×1 pixels: %w", width, height, tensor.ErrParam)
	}
	if !p.stale && width == p.wantW && height == p.wantH {
		return nil
	}
	p.wantW, p.wantH = width, height
	return p.recreate()
}

// ready returns an error when the presenter or its backend is closed or
// failed. The caller holds the backend's mutex.
func (p *Presenter) ready(op string) error {
	if p.closed {
		return fmt.Errorf("gpu: presenter %s: presenter closed: %w", op, tensor.ErrClosed)
	}
	return p.b.usableLocked("presenter " + op)
}

// Present waits for the backend's recorded work, copies img into the next
// swapchain image and presents it. img is a float32 tensor of this backend
// with Size() elements, each a packed pixel in BGRA() order, rows top to
// bottom. It returns false without error when it showed nothing: the window
// has no area, no swapchain image became free within 100 ms, or the window
// changed size, in which case the swapchain has been rebuilt and the caller
// should compose again at the new Size. Errors wrap ErrShape for an img of
// another size, ErrFreed, ErrBackend or ErrDType for a bad img, ErrClosed
// after Close, and *ResultError for a failed Vulkan call (a lost surface
// included).
func (p *Presenter) Present(img *tensor.Tensor) (bool, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.ready("present"); err != nil {
		return false, err
	}
	if _, err := tensor.CheckArgs(p.b, "present", tensor.Arg{Name: "image", T: img}); err != nil {
		return false, err
	}
	s, err := p.b.storageOf(img)
	if err != nil {
		return false, err
	}
	return p.frame(img.Len(), func() (C.uint64_t, C.uint64_t, error) { return h64(s.blk.buf), C.uint64_t(s.off), nil })
}

// PresentPixels is Present for pixels in host memory: it uploads pix, Size()
// packed pixels in BGRA() order, through the backend's staging buffer.
func (p *Presenter) PresentPixels(pix []uint32) (bool, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.ready("present"); err != nil {
		return false, err
	}
	return p.frame(len(pix), func() (C.uint64_t, C.uint64_t, error) {
		n := uint64(len(pix)) * 4
		off, err := p.b.stageSpace(n)
		if err != nil {
			return 0, 0, err
		}
		copy(unsafe.Slice((*uint32)(unsafe.Add(p.b.mem.stage.ptr, off)), len(pix)), pix)
		return h64(p.b.mem.stage.buf), C.uint64_t(off), nil
	})
}

// frame shows n pixels from the buffer range source returns.
func (p *Presenter) frame(n int, source func() (buf, off C.uint64_t, err error)) (bool, error) {
	b := p.b
	if p.stale {
		if err := p.recreate(); err != nil {
			return false, err
		}
		if p.width == 0 || n != p.width*p.height {
			return false, nil
		}
	}
	if p.width == 0 {
		return false, nil
	}
	if n != p.width*p.height {
		return false, fmt.Errorf("gpu: present: the image has %d pixels, expected %d×%d = %d (Presenter.Size): %w",
			n, p.width, p.height, p.width*p.height, tensor.ErrShape)
	}
	var index C.uint32_t
	r := int32(C.vkcnn_acquire(p.fns, p.swapchain, acquireTimeout, p.fence, &index))
	switch r {
	case 0, resultSuboptimal:
	case 1, 2: // VK_NOT_READY, VK_TIMEOUT
		return false, nil
	case resultOutOfDate:
		return false, p.recreate()
	default:
		return false, p.fail("vkAcquireNextImageKHR", r)
	}
	suboptimal := r == resultSuboptimal
	buf, off, err := source()
	if err == nil {
		var bt *batch
		if bt, err = b.cmd(); err == nil {
			b.barrierFor(bt, access{buf: uint64(buf), off: uint64(off), end: uint64(off) + 4*uint64(p.width*p.height)})
			C.vkcnn_present_record(p.fns, unsafe.Pointer(bt.cmd), buf, off, p.images[index], C.uint32_t(p.width), C.uint32_t(p.height))
			err = b.recorded(bt)
		}
	}
	if err == nil {
		err = b.flush()
	}
	if err != nil {
		// The image is acquired; it must still be presented, but a device
		// error leaves nothing sensible to do with it.
		return false, err
	}
	r = int32(C.vkcnn_queue_present(p.fns, unsafe.Pointer(b.queue), p.swapchain, index))
	b.drain()
	switch r {
	case 0:
	case resultSuboptimal:
		suboptimal = true
	case resultOutOfDate:
		p.stale = true
		return false, nil
	default:
		return false, p.fail("vkQueuePresentKHR", r)
	}
	if suboptimal {
		p.stale = true
	}
	return true, nil
}

// fail turns a failed presentation call into an error; device errors are
// recorded on the backend, surface errors only concern this presenter.
func (p *Presenter) fail(op string, r int32) error {
	err := check(op, r)
	if r == resultSurfaceLost {
		return fmt.Errorf("gpu: presenter: the window's surface is gone: %w", err)
	}
	if errors.Is(err, tensor.ErrDeviceLost) {
		return p.b.fail(err)
	}
	return err
}

// Close waits for the device, then destroys the swapchain and the surface.
// Closing twice, or after the backend's Close, is a no-op. It returns the
// device error of earlier work, if any.
func (p *Presenter) Close() error {
	b := p.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.closed {
		return nil
	}
	var err error
	if !b.closed && b.dev != nil {
		err = b.flush()
		if r := int32(C.vkcnn_present_wait_idle(p.fns, unsafe.Pointer(b.queue))); r != 0 && err == nil {
			err = check("vkQueueWaitIdle", r)
		}
	}
	p.destroy()
	b.presenters = slices.DeleteFunc(b.presenters, func(x *Presenter) bool { return x == p })
	b.drain()
	return err
}

// destroy releases the presenter's Vulkan objects; nothing may use them.
func (p *Presenter) destroy() {
	if p.closed {
		return
	}
	p.closed = true
	if p.fns == nil {
		return
	}
	if p.fns.device != nil {
		C.vkcnn_destroy_swapchain(p.fns, p.swapchain)
		C.vkcnn_destroy_present_fence(p.fns, p.fence)
	}
	C.vkcnn_destroy_surface(p.fns, p.surface)
	C.free(unsafe.Pointer(p.fns))
	p.fns, p.swapchain, p.fence, p.surface, p.images = nil, 0, 0, 0, nil
}

// closePresenters destroys the presenters still open; the device is idle.
func (b *Backend) closePresenters() {
	for _, p := range b.presenters {
		p.destroy()
	}
	b.presenters = nil
}
