//go:build cgo

package gpu

/*
#cgo linux LDFLAGS: -ldl
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

typedef void (*vkcnn_fn)(void);
typedef vkcnn_fn (*vkcnn_gipa_fn)(void* instance, const char* name);

// vkcnn_load opens the Vulkan loader library at path and returns its
// vkGetInstanceProcAddr in *gipa, or an error text (static storage).
static const char* vkcnn_load(const char* path, void** gipa) {
#ifdef _WIN32
	HMODULE lib = LoadLibraryA(path);
	if (lib == NULL) return "LoadLibrary failed";
	*gipa = (void*)GetProcAddress(lib, "vkGetInstanceProcAddr");
	if (*gipa == NULL) return "vkGetInstanceProcAddr not exported";
	return NULL;
#else
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		const char* e = dlerror();
		return e ? e : "dlopen failed";
	}
	*gipa = dlsym(lib, "vkGetInstanceProcAddr");
	if (*gipa == NULL) {
		dlclose(lib);
		return "vkGetInstanceProcAddr not exported";
	}
	return NULL;
#endif
}

// VkDebugUtilsMessengerCreateInfoEXT.
typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	uint32_t messageSeverity;
	uint32_t messageType;
	void* pfnUserCallback;
	void* pUserData;
} vkcnn_messenger_info;

// The head of VkDebugUtilsMessengerCallbackDataEXT.
typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	const char* pMessageIdName;
	int32_t messageIdNumber;
	const char* pMessage;
} vkcnn_callback_data;

typedef struct vkcnn_msg {
	struct vkcnn_msg* next;
	uint32_t severity;
	char* id;
	char* text;
} vkcnn_msg;

// vkcnn_sink queues the messages of one instance until Go drains them; the
// callback may run on any thread.
typedef struct {
	atomic_flag lock;
	vkcnn_msg* head;
	vkcnn_msg* tail;
	uint64_t messenger;
	vkcnn_messenger_info info;
} vkcnn_sink;

static char* vkcnn_strdup(const char* s) {
	if (s == NULL) s = "";
	size_t n = strlen(s) + 1;
	char* d = malloc(n);
	if (d) memcpy(d, s, n);
	return d;
}

static uint32_t vkcnn_debug_cb(uint32_t severity, uint32_t types, const vkcnn_callback_data* data, void* user) {
	vkcnn_sink* s = user;
	vkcnn_msg* m = calloc(1, sizeof *m);
	if (m == NULL) return 0;
	m->severity = severity;
	m->id = vkcnn_strdup(data ? data->pMessageIdName : NULL);
	m->text = vkcnn_strdup(data ? data->pMessage : NULL);
	while (atomic_flag_test_and_set(&s->lock)) {}
	if (s->tail) s->tail->next = m; else s->head = m;
	s->tail = m;
	atomic_flag_clear(&s->lock);
	return 0;
}

static vkcnn_sink* vkcnn_sink_new(void) {
	vkcnn_sink* s = calloc(1, sizeof *s);
	if (s == NULL) return NULL;
	atomic_flag_clear(&s->lock);
	s->info.sType = 1000128004; // VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
	s->info.messageSeverity = 0x100 | 0x1000; // warning | error
	s->info.messageType = 0x1 | 0x2 | 0x4; // general | validation | performance
	s->info.pfnUserCallback = (void*)vkcnn_debug_cb;
	s->info.pUserData = s;
	return s;
}

static vkcnn_msg* vkcnn_sink_pop(vkcnn_sink* s) {
	while (atomic_flag_test_and_set(&s->lock)) {}
	vkcnn_msg* m = s->head;
	if (m) {
		s->head = m->next;
		if (s->head == NULL) s->tail = NULL;
	}
	atomic_flag_clear(&s->lock);
	return m;
}

static void vkcnn_msg_free(vkcnn_msg* m) {
	free(m->id);
	free(m->text);
	free(m);
}

typedef int32_t (*vkcnn_create_messenger_fn)(void*, const vkcnn_messenger_info*, const void*, uint64_t*);
typedef void (*vkcnn_destroy_messenger_fn)(void*, uint64_t, const void*);

static int32_t vkcnn_messenger_create(void* gipa, void* instance, vkcnn_sink* s) {
	vkcnn_create_messenger_fn f = (vkcnn_create_messenger_fn)((vkcnn_gipa_fn)gipa)(instance, "vkCreateDebugUtilsMessengerEXT");
	if (f == NULL) return -7; // VK_ERROR_EXTENSION_NOT_PRESENT
	return f(instance, &s->info, NULL, &s->messenger);
}

static void vkcnn_messenger_destroy(void* gipa, void* instance, vkcnn_sink* s) {
	vkcnn_destroy_messenger_fn f = (vkcnn_destroy_messenger_fn)((vkcnn_gipa_fn)gipa)(instance, "vkDestroyDebugUtilsMessengerEXT");
	if (f != NULL && s->messenger != 0) f(instance, s->messenger, NULL);
	s->messenger = 0;
}

// VkExtensionProperties and VkQueueFamilyProperties.
typedef struct { char name[256]; uint32_t specVersion; } vkcnn_ext;
typedef struct { uint32_t flags; uint32_t count; uint32_t timestampBits; uint32_t granularity[3]; } vkcnn_queue_family;

typedef int32_t (*vkcnn_instance_exts_fn)(const char*, uint32_t*, vkcnn_ext*);
typedef int32_t (*vkcnn_device_exts_fn)(void*, const char*, uint32_t*, vkcnn_ext*);
typedef void (*vkcnn_queue_families_fn)(void*, uint32_t*, vkcnn_queue_family*);

// vkcnn_extensions lists the extensions of the loader and implicit layers
// (phys == NULL) or of a physical device, the usual two-call way.
static int32_t vkcnn_extensions(void* gipa, void* instance, void* phys, uint32_t* n, vkcnn_ext* out) {
	if (phys == NULL) {
		vkcnn_instance_exts_fn f = (vkcnn_instance_exts_fn)((vkcnn_gipa_fn)gipa)(NULL, "vkEnumerateInstanceExtensionProperties");
		if (f == NULL) return -3;
		return f(NULL, n, out);
	}
	vkcnn_device_exts_fn f = (vkcnn_device_exts_fn)((vkcnn_gipa_fn)gipa)(instance, "vkEnumerateDeviceExtensionProperties");
	if (f == NULL) return -3;
	return f(phys, NULL, n, out);
}

static int32_t vkcnn_queue_families(void* gipa, void* instance, void* phys, uint32_t* n, vkcnn_queue_family* out) {
	vkcnn_queue_families_fn f = (vkcnn_queue_families_fn)((vkcnn_gipa_fn)gipa)(instance, "vkGetPhysicalDeviceQueueFamilyProperties");
	if (f == NULL) return -3;
	f(phys, n, out);
	return 0;
}

typedef void (*vkcnn_props2_fn)(void*, void*);

// vkcnn_max_allocation returns VkPhysicalDeviceMaintenance3Properties::
// maxMemoryAllocationSize (Vulkan 1.1), or 0 when it cannot be queried, and,
// when maintenance4 is set (the device offers VK_KHR_maintenance4),
// VkPhysicalDeviceMaintenance4Properties::maxBufferSize in *maxBuffer (else
// 0).
static uint64_t vkcnn_max_allocation(void* gipa, void* instance, void* phys, int maintenance4, uint64_t* maxBuffer) {
	*maxBuffer = 0;
	vkcnn_props2_fn f = (vkcnn_props2_fn)((vkcnn_gipa_fn)gipa)(instance, "vkGetPhysicalDeviceProperties2");
	if (f == NULL) return 0;
	struct { int32_t sType; void* pNext; uint64_t maxBufferSize; } m4;
	struct { int32_t sType; void* pNext; uint32_t maxPerSetDescriptors; uint64_t maxMemoryAllocationSize; } m3;
	struct { int32_t sType; void* pNext; uint8_t properties[2048]; } p2;
	memset(&m4, 0, sizeof m4);
	memset(&m3, 0, sizeof m3);
	memset(&p2, 0, sizeof p2);
	m4.sType = 1000413001; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES
	m3.sType = 1000168000; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
	p2.sType = 1000059001; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
	p2.pNext = &m3;
	if (maintenance4) m3.pNext = &m4;
	f(phys, &p2);
	*maxBuffer = m4.maxBufferSize;
	return m3.maxMemoryAllocationSize;
}

typedef void (*vkcnn_features2_fn)(void*, void*);

// VkPhysicalDeviceBufferDeviceAddressFeatures.
typedef struct { int32_t sType; void* pNext; uint32_t bufferDeviceAddress, captureReplay, multiDevice; } vkcnn_bda_features;

// vkcnn_has_bda reports whether the device supports the bufferDeviceAddress
// feature (VK_KHR_buffer_device_address).
static int vkcnn_has_bda(void* gipa, void* instance, void* phys) {
	vkcnn_features2_fn f = (vkcnn_features2_fn)((vkcnn_gipa_fn)gipa)(instance, "vkGetPhysicalDeviceFeatures2");
	if (f == NULL) return 0;
	vkcnn_bda_features bda;
	struct { int32_t sType; void* pNext; uint32_t features[64]; } f2;
	memset(&bda, 0, sizeof bda);
	memset(&f2, 0, sizeof f2);
	bda.sType = 1000257000; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_BUFFER_DEVICE_ADDRESS_FEATURES
	f2.sType = 1000059000;  // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
	f2.pNext = &bda;
	f(phys, &f2);
	return bda.bufferDeviceAddress != 0;
}

// vkcnn_bda_enable returns a feature struct, in C memory, that turns
// bufferDeviceAddress on in vkCreateDevice's pNext chain; the caller frees it.
static void* vkcnn_bda_enable(void) {
	vkcnn_bda_features* f = calloc(1, sizeof *f);
	if (f == NULL) return NULL;
	f->sType = 1000257000;
	f->bufferDeviceAddress = 1;
	return f;
}

// VkMemoryAllocateFlagsInfo.
typedef struct { int32_t sType; const void* pNext; uint32_t flags; uint32_t deviceMask; } vkcnn_alloc_flags;

// vkcnn_alloc_address returns, in C memory, the vkAllocateMemory pNext
// struct that lets buffers bound to the memory have device addresses; the
// caller frees it.
static void* vkcnn_alloc_address(void) {
	vkcnn_alloc_flags* f = calloc(1, sizeof *f);
	if (f == NULL) return NULL;
	f->sType = 1000060000; // VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO
	f->flags = 0x2;        // VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT
	return f;
}

typedef void* (*vkcnn_gdpa_fn)(void*, const char*);
typedef uint64_t (*vkcnn_buffer_address_fn)(void*, const void*);

// vkcnn_buffer_address returns the device address of buf
// (vkGetBufferDeviceAddressKHR), or 0 when the command is missing.
static uint64_t vkcnn_buffer_address(void* gipa, void* instance, void* device, uint64_t buf) {
	vkcnn_gdpa_fn gdpa = (vkcnn_gdpa_fn)((vkcnn_gipa_fn)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) return 0;
	vkcnn_buffer_address_fn f = (vkcnn_buffer_address_fn)gdpa(device, "vkGetBufferDeviceAddressKHR");
	if (f == NULL) return 0;
	struct { int32_t sType; const void* pNext; uint64_t buffer; } info = {1000244001, NULL, buf}; // VkBufferDeviceAddressInfo
	return f(device, &info);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"github.com/vkcnn/vkcnn/tensor"
)

// loader is the process-wide Vulkan loader. vulkan-go keeps its function
// pointers in C globals, so instance creation is serialized by mu too.
var loader struct {
	mu   sync.Mutex
	gipa unsafe.Pointer // vkGetInstanceProcAddr, nil until loaded
}

// defaultLibrary is the file name of the Vulkan loader on this system.
func defaultLibrary() string {
	switch runtime.GOOS {
	case "windows":
		return "vulkan-1.dll"
	case "darwin", "ios":
		return "libvulkan.1.dylib"
	}
	return "libvulkan.so.1"
}

// loadVulkan opens the loader once per process. A failed attempt is retried
// by the next call. The caller holds loader.mu.
func loadVulkan(path string) error {
	if loader.gipa != nil {
		return nil
	}
	if path == "" {
		path = defaultLibrary()
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var gipa unsafe.Pointer
	if msg := C.vkcnn_load(cpath, &gipa); msg != nil {
		return &NoDeviceError{Reason: NoLoader,
			Detail: fmt.Sprintf("the Vulkan loader %s was not found (%s); install it (Debian: libvulkan1) or set %s",
				path, C.GoString(msg), EnvLibrary)}
	}
	vk.SetGetInstanceProcAddr(gipa)
	if err := vk.Init(); err != nil {
		return &NoDeviceError{Reason: NoLoader, Detail: fmt.Sprintf("the Vulkan loader %s did not initialize: %v", path, err)}
	}
	loader.gipa = gipa
	return nil
}

// instance is a VkInstance with its optional debug messenger.
type instance struct {
	inst vk.Instance
	sink *C.vkcnn_sink // nil without Debug
}

// cstr returns s NUL-terminated, as vulkan-go passes Go string bytes to C.
func cstr(s string) string { return s + "\x00" }

// newInstance loads the loader and creates a Vulkan 1.1 instance; with debug
// it enables VK_EXT_debug_utils and creates a messenger. It also enables the
// extra extensions, failing with ErrUnsupported when one is not on offer.
func newInstance(debug bool, extra []string) (*instance, error) {
	loader.mu.Lock()
	defer loader.mu.Unlock()
	if err := loadVulkan(os.Getenv(EnvLibrary)); err != nil {
		return nil, err
	}
	exts, err := extensions(nil, nil)
	if err != nil {
		return nil, &NoDeviceError{Reason: NoDriver, Detail: fmt.Sprintf("the Vulkan loader cannot list its extensions: %v", err)}
	}
	in := &instance{}
	var enable []string
	var flags vk.InstanceCreateFlags
	if debug && exts["VK_EXT_debug_utils"] {
		in.sink = C.vkcnn_sink_new()
		if in.sink == nil {
			return nil, fmt.Errorf("gpu: allocating the debug message queue: %w", tensor.ErrOutOfMemory)
		}
		enable = append(enable, cstr("VK_EXT_debug_utils"))
	}
	if exts["VK_KHR_portability_enumeration"] {
		enable = append(enable, cstr("VK_KHR_portability_enumeration"))
		flags |= 1 // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
	}
	enable, err = enableExtensions(enable, extra, exts, "the Vulkan loader")
	if err != nil {
		in.freeSink()
		return nil, err
	}
	app := vk.ApplicationInfo{
		SType:            vk.StructureTypeApplicationInfo,
		PApplicationName: cstr("vkcnn"),
		PEngineName:      cstr("vkcnn"),
		ApiVersion:       vk.MakeVersion(1, 1, 0),
	}
	info := vk.InstanceCreateInfo{
		SType:                   vk.StructureTypeInstanceCreateInfo,
		Flags:                   flags,
		PApplicationInfo:        &app,
		EnabledExtensionCount:   uint32(len(enable)),
		PpEnabledExtensionNames: enable,
	}
	if in.sink != nil {
		info.PNext = unsafe.Pointer(&in.sink.info)
	}
	defer info.Free()
	var inst vk.Instance
	res := vk.CreateInstance(&info, nil, &inst)
	if res != vk.Success {
		in.freeSink()
		e := check("vkCreateInstance (Vulkan 1.1)", int32(res))
		if errors.Is(e, tensor.ErrOutOfMemory) {
			return nil, e
		}
		return nil, &NoDeviceError{Reason: NoDriver,
			Detail: fmt.Sprintf("no Vulkan driver could create a Vulkan 1.1 instance (vkCreateInstance returned %s); install a driver (ICD), e.g. Debian's mesa-vulkan-drivers",
				ResultName(int32(res)))}
	}
	in.inst = inst
	if err := vk.InitInstance(inst); err != nil {
		in.destroy()
		in.freeSink()
		return nil, &NoDeviceError{Reason: NoDriver, Detail: fmt.Sprintf("loading the Vulkan instance functions: %v", err)}
	}
	if in.sink != nil {
		if err := check("vkCreateDebugUtilsMessengerEXT", int32(C.vkcnn_messenger_create(loader.gipa, unsafe.Pointer(inst), in.sink))); err != nil {
			in.destroy()
			in.freeSink()
			return nil, err
		}
	}
	return in, nil
}

// extensions returns the names of the extensions on offer: the instance
// extensions when phys is nil, else the device's. The caller holds loader.mu
// or has an instance.
func extensions(inst vk.Instance, phys vk.PhysicalDevice) (map[string]bool, error) {
	for {
		var n C.uint32_t
		if err := check("vkEnumerateExtensionProperties", int32(C.vkcnn_extensions(loader.gipa, unsafe.Pointer(inst), unsafe.Pointer(phys), &n, nil))); err != nil {
			return nil, err
		}
		props := make([]C.vkcnn_ext, n+1)
		r := int32(C.vkcnn_extensions(loader.gipa, unsafe.Pointer(inst), unsafe.Pointer(phys), &n, &props[0]))
		if r == int32(vk.Incomplete) {
			continue // the list grew between the calls
		}
		if err := check("vkEnumerateExtensionProperties", r); err != nil {
			return nil, err
		}
		names := make(map[string]bool, n)
		for i := range props[:n] {
			names[C.GoString(&props[i].name[0])] = true
		}
		return names, nil
	}
}

// drain delivers the queued messages to fn (or drops them when fn is nil).
func (in *instance) drain(fn func(Message)) {
	if in == nil || in.sink == nil {
		return
	}
	for m := C.vkcnn_sink_pop(in.sink); m != nil; m = C.vkcnn_sink_pop(in.sink) {
		msg := Message{Severity: Severity(m.severity), ID: C.GoString(m.id), Text: C.GoString(m.text)}
		C.vkcnn_msg_free(m)
		if fn != nil {
			fn(msg)
		}
	}
}

// destroy destroys the messenger and the instance. Queued messages stay in
// the sink until freeSink.
func (in *instance) destroy() {
	if in.inst == nil {
		return
	}
	if in.sink != nil {
		C.vkcnn_messenger_destroy(loader.gipa, unsafe.Pointer(in.inst), in.sink)
	}
	vk.DestroyInstance(in.inst, nil)
	in.inst = nil
}

func (in *instance) freeSink() {
	if in.sink == nil {
		return
	}
	in.drain(nil)
	C.free(unsafe.Pointer(in.sink))
	in.sink = nil
}

// physical is a physical device with what New needs to know about it.
type physical struct {
	pd     vk.PhysicalDevice
	info   DeviceInfo
	limits vk.PhysicalDeviceLimits
	mem    vk.PhysicalDeviceMemoryProperties
	family uint32 // a queue family with compute
	exts   map[string]bool
	// tsBits is each queue family's timestampValidBits.
	tsBits []uint32
	// universal is a queue family with graphics and compute, which can
	// present on desktop platforms, or -1 (present.go).
	universal int
}

// physicalDevices lists the instance's devices in enumeration order. A
// driver that fails to enumerate gives a NoDriver error.
func (in *instance) physicalDevices() ([]physical, error) {
	var pds []vk.PhysicalDevice
	for {
		var n uint32
		r := vk.EnumeratePhysicalDevices(in.inst, &n, nil)
		if r == vk.Success && n > 0 {
			pds = make([]vk.PhysicalDevice, n)
			r = vk.EnumeratePhysicalDevices(in.inst, &n, pds)
			pds = pds[:n]
		}
		if r == vk.Incomplete {
			continue // a device appeared between the calls
		}
		if err := check("vkEnumeratePhysicalDevices", int32(r)); err != nil {
			if errors.Is(err, tensor.ErrOutOfMemory) {
				return nil, err
			}
			return nil, &NoDeviceError{Reason: NoDriver, Detail: fmt.Sprintf("the Vulkan driver cannot list its devices: %v", err)}
		}
		break
	}
	out := make([]physical, 0, len(pds))
	for i, pd := range pds {
		p := physical{pd: pd, universal: -1}
		var props vk.PhysicalDeviceProperties
		vk.GetPhysicalDeviceProperties(pd, &props)
		props.Deref()
		props.Limits.Deref()
		props.Free()
		p.limits = props.Limits
		vk.GetPhysicalDeviceMemoryProperties(pd, &p.mem)
		p.mem.Deref()
		for t := range p.mem.MemoryTypes {
			p.mem.MemoryTypes[t].Deref()
		}
		for h := range p.mem.MemoryHeaps {
			p.mem.MemoryHeaps[h].Deref()
		}
		p.mem.Free()
		name := vk.ToString(props.DeviceName[:])
		lower := strings.ToLower(name)
		p.info = DeviceInfo{
			Index:      i,
			Name:       name,
			Type:       DeviceType(props.DeviceType),
			APIVersion: vk.Version(props.ApiVersion).String(),
			Software: props.DeviceType == vk.PhysicalDeviceTypeCpu || strings.Contains(lower, "llvmpipe") ||
				strings.Contains(lower, "lavapipe") || strings.Contains(lower, "swiftshader"),
		}
		hostHeaps := map[uint32]bool{}
		for t := uint32(0); t < p.mem.MemoryTypeCount; t++ {
			if p.mem.MemoryTypes[t].PropertyFlags&vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit) != 0 {
				hostHeaps[p.mem.MemoryTypes[t].HeapIndex] = true
			}
		}
		for h := uint32(0); h < p.mem.MemoryHeapCount; h++ {
			heap := p.mem.MemoryHeaps[h]
			if heap.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0 {
				p.info.DeviceLocalBytes += uint64(heap.Size)
			}
			if hostHeaps[h] {
				p.info.HostVisibleBytes += uint64(heap.Size)
			}
		}
		var nq C.uint32_t
		C.vkcnn_queue_families(loader.gipa, unsafe.Pointer(in.inst), unsafe.Pointer(pd), &nq, nil)
		qs := make([]C.vkcnn_queue_family, nq+1)
		C.vkcnn_queue_families(loader.gipa, unsafe.Pointer(in.inst), unsafe.Pointer(pd), &nq, &qs[0])
		best := -1
		for q := range qs[:nq] {
			p.tsBits = append(p.tsBits, uint32(qs[q].timestampBits))
			flags := vk.QueueFlags(qs[q].flags)
			if flags&vk.QueueFlags(vk.QueueComputeBit) == 0 || qs[q].count == 0 {
				continue
			}
			if flags&vk.QueueFlags(vk.QueueGraphicsBit) != 0 && p.universal < 0 {
				p.universal = q
			}
			// A compute queue without graphics is usually the dedicated one.
			if best < 0 || flags&vk.QueueFlags(vk.QueueGraphicsBit) == 0 {
				best = q
			}
		}
		if best >= 0 && props.ApiVersion >= vk.MakeVersion(1, 1, 0) {
			p.info.Compute = true
			p.family = uint32(best)
		}
		exts, err := extensions(in.inst, pd)
		if err != nil {
			return nil, err
		}
		p.exts = exts
		out = append(out, p)
	}
	return out, nil
}

// Devices lists the Vulkan devices in enumeration order, software ones
// included. It returns a *NoDeviceError (wrapping tensor.ErrNoDevice) when the
// loader or a driver is missing.
func Devices() ([]DeviceInfo, error) {
	in, err := newInstance(false, nil)
	if err != nil {
		return nil, err
	}
	defer in.freeSink()
	defer in.destroy()
	ps, err := in.physicalDevices()
	if err != nil {
		return nil, err
	}
	out := make([]DeviceInfo, len(ps))
	for i, p := range ps {
		out[i] = p.info
	}
	return out, nil
}

// Backend is the Vulkan backend. It implements tensor.Backend for float32
// tensors: Alloc of any other dtype returns an ErrDType error.
//
// Every method is safe to call from many goroutines at once. One mutex per
// backend serializes what the device state needs serialized: recording into
// the command buffer, submission, fence waits and batch recycling, the
// allocator (Alloc, Free, the scratch tensors of ops), the staging buffer
// (Upload and Download hold it from the copy into staging to the copy out
// of it), the pipeline cache and the descriptor pools. Argument checks run
// outside it. Every dispatch is followed by a barrier that orders it before
// every later command, so ops of several goroutines interleave in one queue
// and each gets the result it gets alone. While Download or Sync waits for
// the device, other goroutines' calls wait for the mutex.
type Backend struct {
	// mu guards every field below that changes after New: the stream, the
	// allocator, the pipeline cache, err, closed and presenters. Methods
	// that end in Locked, and the internal helpers their comments name,
	// expect the caller to hold it.
	mu sync.Mutex

	info   DeviceInfo
	in     *instance
	phys   physical
	dev    vk.Device
	queue  vk.Queue
	debug  func(Message)
	closed bool
	err    error // sticky device error, reported by Sync and Download
	// label is the op being recorded, set by usable, for profiling.
	label string
	// profile asks for timestamps (the Profile option, VKCNN_PROFILE).
	profile bool
	// tsBits is the queue family's timestampValidBits.
	tsBits uint32
	// arrayIndexing is true when shaderStorageBufferArrayDynamicIndexing is
	// enabled.
	arrayIndexing bool

	// maxGroups is the device's maxComputeWorkGroupCount.
	maxGroups [3]uint32
	// maxBindings is the most storage buffers one dispatch may bind.
	maxBindings int
	// maxPush is the most push-constant words one dispatch may pass.
	maxPush int

	mem   allocator
	pipes pipelines
	str   stream

	// instanceExts and deviceExts are the extra extensions asked for
	// (InstanceExtensions, DeviceExtensions); New fails unless all are on.
	instanceExts []string
	deviceExts   []string
	// presenters are the live presenters (present.go), closed with the
	// backend.
	presenters []*Presenter
}

// New opens a Vulkan device: the one named by the Device option or
// VKCNN_DEVICE, else the best hardware device (discrete, integrated,
// virtual), else, with AllowSoftware, a software device. It returns a
// *NoDeviceError wrapping tensor.ErrNoDevice that says what is missing (the
// loader, a driver, a device, or a hardware device), or a *ResultError when a
// Vulkan call fails.
func New(opts ...Option) (*Backend, error) {
	cfg := newConfig(opts)
	in, err := newInstance(cfg.debug != nil, cfg.instanceExts)
	if err != nil {
		return nil, err
	}
	b := &Backend{in: in, debug: cfg.debug, instanceExts: cfg.instanceExts, deviceExts: cfg.deviceExts, profile: cfg.profile}
	b.mem.budget = cfg.budget
	fail := func(err error) (*Backend, error) {
		b.destroy()
		return nil, err
	}
	ps, err := in.physicalDevices()
	if err != nil {
		return fail(err)
	}
	infos := make([]DeviceInfo, len(ps))
	for i, p := range ps {
		infos[i] = p.info
	}
	chosen, err := chooseDevice(infos, cfg.device, cfg.allowSoftware)
	if err != nil {
		return fail(err)
	}
	b.phys = ps[chosen.Index]
	b.info = chosen
	if err := b.openDevice(); err != nil {
		return fail(err)
	}
	b.drain()
	return b, nil
}

// openDevice creates the logical device and everything that hangs off it.
func (b *Backend) openDevice() error {
	p := &b.phys
	var enable []string
	if p.exts["VK_KHR_portability_subset"] {
		enable = append(enable, cstr("VK_KHR_portability_subset"))
	}
	enable, err := enableExtensions(enable, b.deviceExts, p.exts, fmt.Sprintf("device %q", b.info.Name))
	if err != nil {
		return err
	}
	b.choosePresentFamily()
	// Dynamically uniform indexing into arrays of storage buffers lets one
	// dispatch update many parameters (optim_batch.comp); it is enabled where
	// the device has it.
	var feats vk.PhysicalDeviceFeatures
	vk.GetPhysicalDeviceFeatures(p.pd, &feats)
	feats.Deref()
	b.arrayIndexing = feats.ShaderStorageBufferArrayDynamicIndexing == vk.True
	enabled := []vk.PhysicalDeviceFeatures{{ShaderStorageBufferArrayDynamicIndexing: feats.ShaderStorageBufferArrayDynamicIndexing}}
	// Device addresses let a shader reach a tensor bigger than one binding
	// may cover (maxStorageBufferRange): the _addr shader variants
	// (shaders/buf.glsl) run the dispatches that touch one. They are enabled
	// where the device has them (VK_KHR_buffer_device_address: Vulkan 1.2
	// drivers, lavapipe, NVIDIA, AMD, Intel); without them such tensors are
	// refused at allocation.
	var next unsafe.Pointer
	if p.exts[addressExtension] && C.vkcnn_has_bda(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(p.pd)) != 0 {
		if next = C.vkcnn_bda_enable(); next == nil {
			return fmt.Errorf("gpu: allocating a feature struct: %w", tensor.ErrOutOfMemory)
		}
		defer C.free(next)
		if b.mem.allocFlags = C.vkcnn_alloc_address(); b.mem.allocFlags == nil {
			return fmt.Errorf("gpu: allocating a memory flags struct: %w", tensor.ErrOutOfMemory)
		}
		if !slices.Contains(enable, cstr(addressExtension)) {
			enable = append(enable, cstr(addressExtension))
		}
	}
	info := vk.DeviceCreateInfo{
		SType:                vk.StructureTypeDeviceCreateInfo,
		QueueCreateInfoCount: 1,
		PQueueCreateInfos: []vk.DeviceQueueCreateInfo{{
			SType:            vk.StructureTypeDeviceQueueCreateInfo,
			QueueFamilyIndex: p.family,
			QueueCount:       1,
			PQueuePriorities: []float32{1},
		}},
		EnabledExtensionCount:   uint32(len(enable)),
		PpEnabledExtensionNames: enable,
		PEnabledFeatures:        enabled,
		PNext:                   next,
	}
	defer info.Free()
	var dev vk.Device
	if err := check("vkCreateDevice", int32(vk.CreateDevice(p.pd, &info, nil, &dev))); err != nil {
		return err
	}
	b.dev = dev
	var q vk.Queue
	vk.GetDeviceQueue(dev, p.family, 0, &q)
	b.queue = q

	l := p.limits
	b.maxGroups = l.MaxComputeWorkGroupCount
	b.maxBindings = min(int(l.MaxPerStageDescriptorStorageBuffers), int(l.MaxDescriptorSetStorageBuffers), maxBindings)
	b.maxPush = min(int(l.MaxPushConstantsSize)/4, maxPushWords)
	b.initPipelines()
	if int(p.family) < len(p.tsBits) {
		b.tsBits = p.tsBits[p.family]
	}
	var maxBuffer C.uint64_t
	maxAlloc := uint64(C.vkcnn_max_allocation(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(p.pd),
		cbool(p.exts["VK_KHR_maintenance4"]), &maxBuffer))
	if err := b.initMemory(maxAlloc, uint64(maxBuffer)); err != nil {
		return err
	}
	if err := b.initStream(); err != nil {
		return err
	}
	b.initProfiler(b.profile, b.tsBits, l.TimestampPeriod)
	return nil
}

// bufferAddress returns the device address of buf, which was created with
// device addresses, or 0 when the driver gives none.
func (b *Backend) bufferAddress(buf vk.Buffer) uint64 {
	return uint64(C.vkcnn_buffer_address(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(b.dev), h64(buf)))
}

// destroy releases every Vulkan object in reverse order of creation; it is
// safe on a partly built backend.
func (b *Backend) destroy() {
	if b.dev != nil {
		vk.DeviceWaitIdle(b.dev)
		b.closePresenters()
		b.closeStream()
		b.closePipelines()
		b.closeMemory()
		vk.DestroyDevice(b.dev, nil)
		b.dev = nil
	}
	if b.mem.allocFlags != nil {
		C.free(b.mem.allocFlags)
		b.mem.allocFlags = nil
	}
	if b.in != nil {
		b.drain()
		b.in.destroy()
		b.drain()
		b.in.freeSink()
		b.in = nil
	}
}

// drain delivers queued debug messages to the Debug callback.
func (b *Backend) drain() {
	if b.in != nil {
		b.in.drain(b.debug)
	}
}

// Name returns "vulkan".
func (b *Backend) Name() string { return "vulkan" }

// Caps reports float32 as the only dtype, the device name, and whether the
// device is a software renderer.
func (b *Backend) Caps() tensor.Caps {
	return tensor.Caps{DTypes: []tensor.DType{tensor.Float32}, Device: b.info.Name, Software: b.info.Software}
}

// Info describes the device the backend runs on.
func (b *Backend) Info() DeviceInfo { return b.info }

// Close waits for the device to finish, then destroys every Vulkan object the
// backend created, the instance last. Tensors of the backend become unusable;
// freeing them afterwards is a no-op. Closing twice is a no-op. Close returns
// the device error of earlier work, if one is pending.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	err := b.err
	if err == nil && b.dev != nil {
		if e := b.flush(); e != nil {
			err = e
		}
	}
	b.closed = true
	b.destroy()
	return err
}

// usable returns an error when the backend is closed or its device failed.
// Ops call it first, without holding b.mu; op names the commands they record
// in profiles. With several goroutines recording at once, a command may be
// charged to the op that another goroutine began last.
func (b *Backend) usable(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usableLocked(op)
}

// usableLocked is usable for a caller that holds b.mu.
func (b *Backend) usableLocked(op string) error {
	if err := b.alive(op); err != nil {
		return err
	}
	b.label = op
	return nil
}

// alive is usable for internal steps, which keep the calling op's label. The
// caller holds b.mu.
func (b *Backend) alive(op string) error {
	if b.closed {
		return fmt.Errorf("gpu: %s: %w", op, tensor.ErrClosed)
	}
	return b.err
}

// fail records a device error; every later op returns it. The caller holds
// b.mu.
func (b *Backend) fail(err error) error {
	if b.err == nil {
		b.err = err
	}
	return err
}
