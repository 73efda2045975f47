//go:build cgo

package gpu

/*
#cgo noescape vkcnn_dispatch
#cgo nocallback vkcnn_dispatch
#cgo nocallback vkcnn_fill
#cgo nocallback vkcnn_copy
#include <stdint.h>
#include <stdlib.h>

typedef void (*vkcnn_fn)(void);
typedef vkcnn_fn (*vkcnn_proc_fn)(void*, const char*);

// The Vulkan structures the recording path fills, laid out as in vulkan_core.h
// (non-dispatchable handles are 64-bit).
typedef struct { int32_t sType; const void* pNext; uint64_t pool; uint32_t count; const uint64_t* layouts; } vkcnn_set_alloc_info;
typedef struct { uint64_t buffer; uint64_t offset; uint64_t range; } vkcnn_buffer_info;
typedef struct {
	int32_t sType; const void* pNext; uint64_t dstSet; uint32_t dstBinding; uint32_t dstArrayElement;
	uint32_t descriptorCount; int32_t descriptorType; const void* pImageInfo;
	const vkcnn_buffer_info* pBufferInfo; const void* pTexelBufferView;
} vkcnn_write;
typedef struct { int32_t sType; const void* pNext; uint32_t srcAccessMask; uint32_t dstAccessMask; } vkcnn_barrier;
typedef struct { uint64_t srcOffset; uint64_t dstOffset; uint64_t size; } vkcnn_copy_region;
typedef struct { int32_t sType; const void* pNext; uint32_t flags; const void* pInheritanceInfo; } vkcnn_begin_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t waitSemaphoreCount; const uint64_t* pWaitSemaphores;
	const uint32_t* pWaitDstStageMask; uint32_t commandBufferCount; void* const* pCommandBuffers;
	uint32_t signalSemaphoreCount; const uint64_t* pSignalSemaphores;
} vkcnn_submit_info;

// vkcnn_fns holds the device-level commands of the recording path, fetched
// with vkGetDeviceProcAddr so that one cgo call records a whole dispatch.
typedef struct {
	int32_t (*allocateDescriptorSets)(void*, const vkcnn_set_alloc_info*, uint64_t*);
	void (*updateDescriptorSets)(void*, uint32_t, const vkcnn_write*, uint32_t, const void*);
	void (*cmdBindPipeline)(void*, int32_t, uint64_t);
	void (*cmdBindDescriptorSets)(void*, int32_t, uint64_t, uint32_t, uint32_t, const uint64_t*, uint32_t, const uint32_t*);
	void (*cmdPushConstants)(void*, uint64_t, uint32_t, uint32_t, uint32_t, const void*);
	void (*cmdDispatch)(void*, uint32_t, uint32_t, uint32_t);
	void (*cmdPipelineBarrier)(void*, uint32_t, uint32_t, uint32_t, uint32_t, const vkcnn_barrier*, uint32_t, const void*, uint32_t, const void*);
	void (*cmdFillBuffer)(void*, uint64_t, uint64_t, uint64_t, uint32_t);
	void (*cmdCopyBuffer)(void*, uint64_t, uint64_t, uint32_t, const vkcnn_copy_region*);
	int32_t (*beginCommandBuffer)(void*, const vkcnn_begin_info*);
	int32_t (*endCommandBuffer)(void*);
	int32_t (*resetCommandBuffer)(void*, uint32_t);
	int32_t (*queueSubmit)(void*, uint32_t, const vkcnn_submit_info*, uint64_t);
	int32_t (*waitForFences)(void*, uint32_t, const uint64_t*, uint32_t, uint64_t);
	int32_t (*getFenceStatus)(void*, uint64_t);
	int32_t (*resetFences)(void*, uint32_t, const uint64_t*);
	int32_t (*resetDescriptorPool)(void*, uint64_t, uint32_t);
	void (*cmdResetQueryPool)(void*, uint64_t, uint32_t, uint32_t);
	void (*cmdWriteTimestamp)(void*, uint32_t, uint64_t, uint32_t);
	int32_t (*getQueryPoolResults)(void*, uint64_t, uint32_t, uint32_t, size_t, void*, uint64_t, uint32_t);
} vkcnn_fns;

// vkcnn_load_fns fills f; it returns the name of a missing command or NULL.
static const char* vkcnn_load_fns(void* gipa, void* instance, void* device, vkcnn_fns* f) {
	vkcnn_proc_fn gdpa = (vkcnn_proc_fn)((vkcnn_proc_fn)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) return "vkGetDeviceProcAddr";
#define LOAD(field, name) f->field = (void*)gdpa(device, name); if (f->field == NULL) return name;
	LOAD(allocateDescriptorSets, "vkAllocateDescriptorSets")
	LOAD(updateDescriptorSets, "vkUpdateDescriptorSets")
	LOAD(cmdBindPipeline, "vkCmdBindPipeline")
	LOAD(cmdBindDescriptorSets, "vkCmdBindDescriptorSets")
	LOAD(cmdPushConstants, "vkCmdPushConstants")
	LOAD(cmdDispatch, "vkCmdDispatch")
	LOAD(cmdPipelineBarrier, "vkCmdPipelineBarrier")
	LOAD(cmdFillBuffer, "vkCmdFillBuffer")
	LOAD(cmdCopyBuffer, "vkCmdCopyBuffer")
	LOAD(beginCommandBuffer, "vkBeginCommandBuffer")
	LOAD(endCommandBuffer, "vkEndCommandBuffer")
	LOAD(resetCommandBuffer, "vkResetCommandBuffer")
	LOAD(queueSubmit, "vkQueueSubmit")
	LOAD(waitForFences, "vkWaitForFences")
	LOAD(getFenceStatus, "vkGetFenceStatus")
	LOAD(resetFences, "vkResetFences")
	LOAD(resetDescriptorPool, "vkResetDescriptorPool")
	LOAD(cmdResetQueryPool, "vkCmdResetQueryPool")
	LOAD(cmdWriteTimestamp, "vkCmdWriteTimestamp")
	LOAD(getQueryPoolResults, "vkGetQueryPoolResults")
#undef LOAD
	return NULL;
}

enum {
	STAGE_BOTTOM = 0x2000, STAGE_COMPUTE = 0x800, STAGE_TRANSFER = 0x1000, STAGE_HOST = 0x4000,
	ACCESS_SHADER_READ = 0x20, ACCESS_SHADER_WRITE = 0x40, ACCESS_TRANSFER_READ = 0x800,
	ACCESS_TRANSFER_WRITE = 0x1000, ACCESS_HOST_READ = 0x2000,
};

// vkcnn_barrier_all makes the writes of every earlier shader or transfer command
// visible to every later one.
static void vkcnn_barrier_all(const vkcnn_fns* f, void* cmd) {
	vkcnn_barrier mb = {46, NULL, ACCESS_SHADER_WRITE | ACCESS_TRANSFER_WRITE,
		ACCESS_SHADER_READ | ACCESS_SHADER_WRITE | ACCESS_TRANSFER_READ | ACCESS_TRANSFER_WRITE};
	f->cmdPipelineBarrier(cmd, STAGE_COMPUTE | STAGE_TRANSFER, STAGE_COMPUTE | STAGE_TRANSFER, 0, 1, &mb, 0, NULL, 0, NULL);
}

// vkcnn_barrier_host makes every earlier write visible to host reads.
static void vkcnn_barrier_host(const vkcnn_fns* f, void* cmd) {
	vkcnn_barrier mb = {46, NULL, ACCESS_SHADER_WRITE | ACCESS_TRANSFER_WRITE, ACCESS_HOST_READ};
	f->cmdPipelineBarrier(cmd, STAGE_COMPUTE | STAGE_TRANSFER, STAGE_HOST, 0, 1, &mb, 0, NULL, 0, NULL);
}

// vkcnn_mark records, when qpool is not 0, a timestamp written once every
// earlier command has completed.
static void vkcnn_mark(const vkcnn_fns* f, void* cmd, uint64_t qpool, uint32_t query) {
	if (qpool != 0) f->cmdWriteTimestamp(cmd, STAGE_BOTTOM, qpool, query);
}

// vkcnn_dispatch allocates and writes a descriptor set (bufs[i] is element
// i % arr of binding i / arr), then records a barrier (when barrier is set),
// bind, push constants and dispatch. It returns the VkResult of the descriptor
// set allocation; on failure nothing is recorded.
static int32_t vkcnn_dispatch(const vkcnn_fns* f, void* dev, void* cmd, uint64_t pool, uint64_t setLayout,
		uint64_t pipe, uint64_t pipeLayout, uint32_t nbuf, const vkcnn_buffer_info* bufs,
		uint32_t npush, const uint32_t* push, uint32_t gx, uint32_t gy, uint32_t gz,
		uint32_t arr, int barrier) {
	uint64_t set = 0;
	vkcnn_write w[64];
	if (nbuf > 64 || arr == 0) return -1000069000;
	if (nbuf > 0) {
		vkcnn_set_alloc_info ai = {34, NULL, pool, 1, &setLayout};
		int32_t r = f->allocateDescriptorSets(dev, &ai, &set);
		if (r != 0) return r;
		for (uint32_t i = 0; i < nbuf; i++) {
			vkcnn_write x = {35, NULL, set, i / arr, i % arr, 1, 7, NULL, &bufs[i], NULL};
			w[i] = x;
		}
		f->updateDescriptorSets(dev, nbuf, w, 0, NULL);
	}
	if (barrier) vkcnn_barrier_all(f, cmd);
	f->cmdBindPipeline(cmd, 1, pipe);
	if (nbuf > 0) f->cmdBindDescriptorSets(cmd, 1, pipeLayout, 0, 1, &set, 0, NULL);
	if (npush > 0) f->cmdPushConstants(cmd, pipeLayout, 0x20, 0, 4 * npush, push);
	f->cmdDispatch(cmd, gx, gy, gz);
	return 0;
}

// vkcnn_begin begins a one-time-submit command buffer; when qpool is not 0 it
// resets its nquery queries and writes the first timestamp.
static int32_t vkcnn_begin(const vkcnn_fns* f, void* cmd, uint64_t qpool, uint32_t nquery) {
	vkcnn_begin_info bi = {42, NULL, 1, NULL};
	int32_t r = f->beginCommandBuffer(cmd, &bi);
	if (r != 0 || qpool == 0) return r;
	f->cmdResetQueryPool(cmd, qpool, 0, nquery);
	vkcnn_mark(f, cmd, qpool, 0);
	return 0;
}

// vkcnn_timestamps reads n 64-bit timestamps of a completed batch.
static int32_t vkcnn_timestamps(const vkcnn_fns* f, void* dev, uint64_t qpool, uint32_t n, uint64_t* out) {
	return f->getQueryPoolResults(dev, qpool, 0, n, 8 * (size_t)n, out, 8, 0x1 | 0x2); // 64-bit, wait
}

// vkcnn_submit records the host barrier, ends cmd and submits it with fence.
// It returns the first failing VkResult.
static int32_t vkcnn_submit(const vkcnn_fns* f, void* queue, void* cmd, uint64_t fence) {
	vkcnn_barrier_host(f, cmd);
	int32_t r = f->endCommandBuffer(cmd);
	if (r != 0) return r;
	vkcnn_submit_info si = {4, NULL, 0, NULL, NULL, 1, &cmd, 0, NULL};
	return f->queueSubmit(queue, 1, &si, fence);
}

// vkcnn_poll returns VK_SUCCESS when fence is signaled and VK_NOT_READY when
// not; with wait it waits without timeout first.
static int32_t vkcnn_poll(const vkcnn_fns* f, void* dev, uint64_t fence, int wait) {
	if (wait) return f->waitForFences(dev, 1, &fence, 1, UINT64_MAX);
	return f->getFenceStatus(dev, fence);
}

// vkcnn_reset readies a completed batch for reuse: fence, command buffer and
// descriptor pools.
static int32_t vkcnn_reset(const vkcnn_fns* f, void* dev, uint64_t fence, void* cmd, const uint64_t* pools, uint32_t npools) {
	int32_t r = f->resetFences(dev, 1, &fence);
	if (r != 0) return r;
	r = f->resetCommandBuffer(cmd, 0);
	if (r != 0) return r;
	for (uint32_t i = 0; i < npools; i++) {
		r = f->resetDescriptorPool(dev, pools[i], 0);
		if (r != 0) return r;
	}
	return 0;
}

// vkcnn_fill records a barrier (when barrier is set) and a fill of a 4-byte
// pattern.
static void vkcnn_fill(const vkcnn_fns* f, void* cmd, uint64_t buf, uint64_t off, uint64_t size, uint32_t data, int barrier) {
	if (barrier) vkcnn_barrier_all(f, cmd);
	f->cmdFillBuffer(cmd, buf, off, size, data);
}

// vkcnn_copy records a barrier (when barrier is set) and a copy of one region.
static void vkcnn_copy(const vkcnn_fns* f, void* cmd, uint64_t src, uint64_t srcOff, uint64_t dst, uint64_t dstOff, uint64_t size,
		int barrier) {
	if (barrier) vkcnn_barrier_all(f, cmd);
	vkcnn_copy_region r = {srcOff, dstOff, size};
	f->cmdCopyBuffer(cmd, src, dst, 1, &r);
}
*/
import "C"

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"github.com/vkcnn/vkcnn/shaders"
	"github.com/vkcnn/vkcnn/tensor"
)

const (
	// batchSize is the number of commands recorded before a submit.
	batchSize = 256
	// maxInflight bounds the submitted batches the device may still run;
	// submitting one more first waits for the oldest.
	maxInflight = 3
	// poolSets and poolBuffers size each descriptor pool.
	poolSets    = batchSize
	poolBuffers = 8 * batchSize
)

// batch is one command buffer with its fence and the descriptor pools its
// dispatches took sets from.
type batch struct {
	id    uint64
	cmd   vk.CommandBuffer
	fence vk.Fence
	pools []vk.DescriptorPool
	n     int
	// qpool holds the batch's timestamps when profiling (profile.go), and
	// labels the op of each command after the first stamp.
	qpool  vk.QueryPool
	labels []string
}

// stream records commands into batches and submits them in order. Its
// methods expect the caller to hold the backend's mutex (b.mu).
type stream struct {
	fns       *C.vkcnn_fns
	cmdPool   vk.CommandPool
	rec       *batch   // being recorded, or nil
	inflight  []*batch // submitted, oldest first
	spare     []*batch
	all       []*batch
	freePools []vk.DescriptorPool
	poolIDs   []C.uint64_t // recycle's argument list for vkcnn_reset
	allPools  []vk.DescriptorPool
	nextID    uint64 // id of the next batch to begin
	doneID    uint64 // every batch with id ≤ doneID has completed
	submits   int    // for tests
	stats     counters
	hz        hazards
	acc       []access  // scratch for dispatch
	prof      *profiler // nil unless profiling
}

// h64 returns a non-dispatchable Vulkan handle as the 64-bit value C expects.
func h64[T any](h T) C.uint64_t { return *(*C.uint64_t)(unsafe.Pointer(&h)) }

func (b *Backend) initStream() error {
	s := &b.str
	s.nextID = 1
	s.fns = (*C.vkcnn_fns)(C.calloc(1, C.size_t(unsafe.Sizeof(C.vkcnn_fns{}))))
	if s.fns == nil {
		return fmt.Errorf("gpu: allocating the command table: %w", tensor.ErrOutOfMemory)
	}
	if name := C.vkcnn_load_fns(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(b.dev), s.fns); name != nil {
		return fmt.Errorf("gpu: the driver does not provide %s: %w", C.GoString(name), tensor.ErrUnsupported)
	}
	info := vk.CommandPoolCreateInfo{
		SType:            vk.StructureTypeCommandPoolCreateInfo,
		Flags:            vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: b.phys.family,
	}
	defer info.Free()
	var pool vk.CommandPool
	if err := check("vkCreateCommandPool", int32(vk.CreateCommandPool(b.dev, &info, nil, &pool))); err != nil {
		return err
	}
	s.cmdPool = pool
	return nil
}

// closeStream destroys the batches, pools and command table; the device is
// idle.
func (b *Backend) closeStream() {
	s := &b.str
	for _, bt := range s.all {
		vk.DestroyFence(b.dev, bt.fence, nil)
		if bt.qpool != nil {
			vk.DestroyQueryPool(b.dev, bt.qpool, nil)
		}
	}
	for _, p := range s.allPools {
		vk.DestroyDescriptorPool(b.dev, p, nil)
	}
	if s.cmdPool != nil {
		vk.DestroyCommandPool(b.dev, s.cmdPool, nil)
	}
	if s.fns != nil {
		C.free(unsafe.Pointer(s.fns))
	}
	*s = stream{}
}

// cmd returns the batch being recorded, beginning one when there is none.
func (b *Backend) cmd() (*batch, error) {
	s := &b.str
	if s.rec != nil {
		return s.rec, nil
	}
	var bt *batch
	if n := len(s.spare); n > 0 {
		bt, s.spare = s.spare[n-1], s.spare[:n-1]
	} else {
		info := vk.CommandBufferAllocateInfo{
			SType:              vk.StructureTypeCommandBufferAllocateInfo,
			CommandPool:        s.cmdPool,
			Level:              vk.CommandBufferLevelPrimary,
			CommandBufferCount: 1,
		}
		defer info.Free()
		cmds := make([]vk.CommandBuffer, 1)
		if err := check("vkAllocateCommandBuffers", int32(vk.AllocateCommandBuffers(b.dev, &info, cmds))); err != nil {
			return nil, err
		}
		var fence vk.Fence
		finfo := vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}
		defer finfo.Free()
		if err := check("vkCreateFence", int32(vk.CreateFence(b.dev, &finfo, nil, &fence))); err != nil {
			vk.FreeCommandBuffers(b.dev, s.cmdPool, 1, cmds)
			return nil, err
		}
		bt = &batch{cmd: cmds[0], fence: fence}
		s.all = append(s.all, bt)
	}
	qp, err := b.queryPool(bt)
	if err != nil {
		s.spare = append(s.spare, bt)
		return nil, err
	}
	if err := check("vkBeginCommandBuffer", int32(C.vkcnn_begin(s.fns, unsafe.Pointer(bt.cmd), h64(qp), queriesPerBatch))); err != nil {
		s.spare = append(s.spare, bt)
		return nil, err
	}
	bt.id = s.nextID
	s.nextID++
	s.rec = bt
	return bt, nil
}

// useMark returns the id of the last batch that may use memory freed now:
// the one being recorded, else the last submitted.
func (b *Backend) useMark() uint64 {
	if b.str.rec != nil {
		return b.str.rec.id
	}
	return b.str.nextID - 1
}

// recorded counts a command of the current batch and submits the batch once
// it is full.
func (b *Backend) recorded(bt *batch) error {
	b.mark(bt)
	bt.n++
	if bt.n < batchSize {
		return nil
	}
	if err := b.submit(); err != nil {
		return err
	}
	return b.retire(false)
}

// submit ends and submits the batch being recorded, if any. With maxInflight
// batches already on the device it first waits for the oldest.
func (b *Backend) submit() error {
	s := &b.str
	bt := s.rec
	if bt == nil {
		return nil
	}
	s.rec = nil
	if len(s.inflight) >= maxInflight {
		if err := b.waitOldest(); err != nil {
			b.abandon(bt)
			return err
		}
	}
	if err := check("vkQueueSubmit", int32(C.vkcnn_submit(s.fns, unsafe.Pointer(b.queue), unsafe.Pointer(bt.cmd), h64(bt.fence)))); err != nil {
		b.abandon(bt)
		return b.fail(err)
	}
	s.submits++
	s.stats.submits++
	s.inflight = append(s.inflight, bt)
	b.drain()
	return nil
}

// abandon recycles a batch that could not be submitted, after waiting for
// the queue to drain (or fail), together with every batch in flight, and
// reclaims their memory as if they had run. Reset errors are ignored: the
// submit error is already recorded.
func (b *Backend) abandon(bt *batch) {
	s := &b.str
	vk.QueueWaitIdle(b.queue)
	for _, x := range s.inflight {
		b.recycle(x)
	}
	s.inflight = s.inflight[:0]
	b.recycle(bt)
	s.doneID = bt.id
	b.reclaim(bt.id)
}

// recycle resets a completed batch (or one never submitted) for reuse.
func (b *Backend) recycle(bt *batch) error {
	s := &b.str
	s.poolIDs = s.poolIDs[:0] // reused: C reads it during the call only
	for _, p := range bt.pools {
		s.poolIDs = append(s.poolIDs, h64(p))
	}
	s.poolIDs = append(s.poolIDs, 0) // never empty, for &pools[0]
	pools := s.poolIDs
	err := check("resetting a command batch", int32(C.vkcnn_reset(s.fns, unsafe.Pointer(b.dev), h64(bt.fence),
		unsafe.Pointer(bt.cmd), &pools[0], C.uint32_t(len(bt.pools)))))
	s.freePools = append(s.freePools, bt.pools...)
	bt.pools = bt.pools[:0]
	bt.labels = bt.labels[:0]
	bt.n = 0
	s.spare = append(s.spare, bt)
	return err
}

// waitOldest waits for the oldest submitted batch and retires it.
func (b *Backend) waitOldest() error {
	bt := b.str.inflight[0]
	if err := check("waiting for the device (vkWaitForFences)", int32(C.vkcnn_poll(b.str.fns, unsafe.Pointer(b.dev), h64(bt.fence), 1))); err != nil {
		return b.fail(err)
	}
	return b.retire(false)
}

// retire recycles the submitted batches that have completed, oldest first,
// waiting for all of them when wait is set, and reclaims the memory freed
// before them.
func (b *Backend) retire(wait bool) error {
	s := &b.str
	for len(s.inflight) > 0 {
		bt := s.inflight[0]
		w := 0
		if wait {
			w = 1
		}
		r := vk.Result(C.vkcnn_poll(s.fns, unsafe.Pointer(b.dev), h64(bt.fence), C.int(w)))
		if r == vk.NotReady || r == vk.Timeout {
			break
		}
		if err := check("waiting for the device (vkWaitForFences)", int32(r)); err != nil {
			return b.fail(err)
		}
		// Shift rather than reslice, so that the next submit's append reuses
		// the array instead of allocating a new one.
		s.inflight = s.inflight[:copy(s.inflight, s.inflight[1:])]
		s.doneID = bt.id
		if err := b.harvest(bt); err != nil {
			b.recycle(bt)
			return b.fail(err)
		}
		if err := b.recycle(bt); err != nil {
			return b.fail(err)
		}
	}
	b.reclaim(s.doneID)
	if s.rec == nil && len(s.inflight) == 0 {
		b.mem.stage.used = 0
	}
	b.drain()
	return nil
}

// flush submits the recorded work and waits for everything submitted.
func (b *Backend) flush() error {
	if b.err != nil {
		return b.err
	}
	if err := b.submit(); err != nil {
		return err
	}
	return b.retire(true)
}

// Sync waits until every op issued so far has finished and returns the first
// device error among them, or ErrClosed after Close.
func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked("sync"); err != nil {
		return err
	}
	return b.flush()
}

// descriptorPool returns a pool with room for the batch's next set: its last
// pool, unless fresh is set or it has none, in which case it adds one.
func (b *Backend) descriptorPool(bt *batch, fresh bool) (vk.DescriptorPool, error) {
	s := &b.str
	if n := len(bt.pools); n > 0 && !fresh {
		return bt.pools[n-1], nil
	}
	var p vk.DescriptorPool
	if n := len(s.freePools); n > 0 {
		p, s.freePools = s.freePools[n-1], s.freePools[:n-1]
	} else {
		info := vk.DescriptorPoolCreateInfo{
			SType:         vk.StructureTypeDescriptorPoolCreateInfo,
			MaxSets:       poolSets,
			PoolSizeCount: 1,
			PPoolSizes:    []vk.DescriptorPoolSize{{Type: vk.DescriptorTypeStorageBuffer, DescriptorCount: poolBuffers}},
		}
		defer info.Free()
		if err := check("vkCreateDescriptorPool", int32(vk.CreateDescriptorPool(b.dev, &info, nil, &p))); err != nil {
			return nil, err
		}
		s.allPools = append(s.allPools, p)
	}
	bt.pools = append(bt.pools, p)
	return p, nil
}

// dispatch records one dispatch of shader `name` (shaders/<name>.spv, entry
// "main") into the current batch, followed by a barrier that orders it before
// every later shader or transfer command, and submits when the batch fills.
//
//   - spec: values of the specialization constants constant_id 0..len(spec)-1
//     (4-byte words; pass float32 through math.Float32bits). A pipeline is
//     built once per (name, len(bufs), spec) and cached.
//   - push: push-constant words (at most 32), the shader's push_constant block
//     of 4-byte members in order.
//   - groups: workgroup counts, each ≤ b.maxGroups; a zero count records
//     nothing.
//   - bufs: tensors bound to set 0, binding i = bufs[i], each a storage buffer
//     covering exactly the tensor's bytes. When one of them is larger than a
//     binding may cover (b.mem.bindLimit, the device's maxStorageBufferRange)
//     the dispatch runs shaders/<name>_addr.spv instead, which binds nothing
//     and finds tensor i at the device address in push words 32−2n+2i (low)
//     and 32−2n+2i+1 (high) for n tensors (shaders/buf.glsl); push must then
//     leave those words free.
//
// It returns an ErrParam error for too many push words or bindings or too many
// groups, ErrShape/ErrFreed/ErrBackend errors for bad tensors, ErrUnsupported
// for an unknown shader or a tensor past the binding range that the shader
// cannot reach (no _addr variant, arrays of buffers, or no device addresses),
// and *ResultError for failed Vulkan calls.
//
// dispatch holds the backend's mutex for its whole run, so every op made of
// dispatches (and scratch tensors) is safe for concurrent use without locking
// of its own.
func (b *Backend) dispatch(name string, spec, push []uint32, groups [3]uint32, bufs ...*tensor.Tensor) error {
	return b.dispatchArrays(name, spec, push, groups, 1, bufs...)
}

// dispatchArrays is dispatch for shaders whose bindings are arrays of arr
// storage buffers: bufs[i] is element i % arr of binding i / arr, and
// len(bufs) is a multiple of arr. Arrays indexed by a dynamically uniform
// value need b.arrayIndexing.
func (b *Backend) dispatchArrays(name string, spec, push []uint32, groups [3]uint32, arr int, bufs ...*tensor.Tensor) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.alive(name); err != nil {
		return err
	}
	if len(push) > b.maxPush {
		return fmt.Errorf("gpu: dispatch %s: %d push-constant words, expected at most %d: %w", name, len(push), b.maxPush, tensor.ErrParam)
	}
	if len(bufs) > b.maxBindings {
		return fmt.Errorf("gpu: dispatch %s: %d buffers, expected at most %d: %w", name, len(bufs), b.maxBindings, tensor.ErrParam)
	}
	for i, g := range groups {
		if g > b.maxGroups[i] {
			return fmt.Errorf("gpu: dispatch %s: %d workgroups along axis %d, expected at most %d: %w", name, g, i, b.maxGroups[i], tensor.ErrParam)
		}
	}
	var infos [maxBindings]C.vkcnn_buffer_info
	var addrs [maxBindings]uint64
	addressed := false
	acc := b.str.acc[:0]
	for i, t := range bufs {
		if t == nil {
			return fmt.Errorf("gpu: dispatch %s: buffer %d is nil: %w", name, i, tensor.ErrShape)
		}
		if t.Freed() {
			return fmt.Errorf("gpu: dispatch %s: buffer %d %v was freed: %w", name, i, t, tensor.ErrFreed)
		}
		s, err := b.storageOf(t)
		if err != nil {
			return err
		}
		infos[i] = C.vkcnn_buffer_info{buffer: h64(s.blk.buf), offset: C.uint64_t(s.off), _range: C.uint64_t(s.size)}
		addrs[i] = s.blk.addr + s.off
		addressed = addressed || s.size > b.mem.bindLimit
		acc = append(acc, access{buf: uint64(h64(s.blk.buf)), off: s.off, end: s.off + s.size})
	}
	b.str.acc = acc
	if groups[0] == 0 || groups[1] == 0 || groups[2] == 0 {
		return nil
	}
	if arr < 1 || len(bufs)%arr != 0 {
		return fmt.Errorf("gpu: dispatch %s: %d buffers in arrays of %d: %w", name, len(bufs), arr, tensor.ErrParam)
	}
	nbind := len(bufs)
	if addressed {
		// A tensor larger than one binding's range: run the shader's
		// variant that reaches every tensor through its device address,
		// passed in the last push-constant words (shaders/buf.glsl).
		var err error
		if push, err = b.addressPush(name, push, arr, addrs[:len(bufs)], bufs); err != nil {
			return err
		}
		name, nbind = name+addrSuffix, 0
	}
	p, err := b.pipeline(name, spec, nbind, arr)
	if err != nil {
		return err
	}
	bt, err := b.cmd()
	if err != nil {
		return err
	}
	var pushPtr *C.uint32_t
	if len(push) > 0 {
		pushPtr = (*C.uint32_t)(unsafe.Pointer(&push[0]))
	}
	for i := range acc {
		acc[i].write = p.writes&(1<<(i/arr)) != 0
	}
	barrier := b.order(acc)
	for fresh := false; ; fresh = true {
		var pool vk.DescriptorPool
		if nbind > 0 {
			if pool, err = b.descriptorPool(bt, fresh); err != nil {
				return err
			}
		}
		r := int32(C.vkcnn_dispatch(b.str.fns, unsafe.Pointer(b.dev), unsafe.Pointer(bt.cmd), h64(pool), h64(p.layout.set),
			h64(p.pipe), h64(p.layout.pipe), C.uint32_t(nbind), &infos[0],
			C.uint32_t(len(push)), pushPtr, C.uint32_t(groups[0]), C.uint32_t(groups[1]), C.uint32_t(groups[2]), C.uint32_t(arr), cbool(barrier)))
		if r == 0 {
			break
		}
		// A full pool: take a fresh one once.
		if fresh || r != int32(vk.ErrorOutOfPoolMemory) && r != int32(vk.ErrorFragmentedPool) {
			return check(fmt.Sprintf("vkAllocateDescriptorSets for shader %q", name), r)
		}
	}
	b.str.stats.dispatches++
	if addressed {
		b.str.stats.addressed++
	}
	b.drain()
	return b.recorded(bt)
}

// addrSuffix names the variant of a shader that reaches its tensors through
// device addresses (shaders/buf.glsl).
const addrSuffix = "_addr"

// addressPush returns the push constants of an addressed dispatch of shader
// name: push padded to the full 128-byte range, the device addresses of bufs
// (low word first) in its last 2·len(bufs) words. It returns an
// ErrUnsupported error naming the biggest tensor when the device has no
// device addresses, the shader binds arrays or has no addressed variant, and
// an ErrParam error when push leaves no room for the addresses.
func (b *Backend) addressPush(name string, push []uint32, arr int, addrs []uint64, bufs []*tensor.Tensor) ([]uint32, error) {
	big := 0
	for i, t := range bufs {
		if t.Len() > bufs[big].Len() {
			big = i
		}
	}
	why := ""
	switch {
	case b.mem.allocFlags == nil:
		why = "the device has no device addresses (" + addressExtension + ")"
	case arr != 1:
		why = "the shader binds arrays of buffers"
	case !slices.Contains(shaders.Names(), name+addrSuffix):
		why = "the shader has no " + name + addrSuffix + " variant (shaders/buf.glsl)"
	}
	if why != "" {
		return nil, fmt.Errorf("gpu: %s (shader %s): buffer %d %v holds %s, more than one storage-buffer binding covers on %q (maxStorageBufferRange %s), and %s: %w",
			b.label, name, big, bufs[big], mib(uint64(bufs[big].Len())*4), b.info.Name, mib(b.mem.bindLimit), why, tensor.ErrUnsupported)
	}
	words := make([]uint32, maxPushWords)
	first := maxPushWords - 2*len(addrs)
	if len(push) > first || b.maxPush < maxPushWords {
		return nil, fmt.Errorf("gpu: dispatch %s: %d push-constant words and %d addresses, expected at most %d words in all: %w",
			name, len(push), len(addrs), b.maxPush, tensor.ErrParam)
	}
	copy(words, push)
	for i, a := range addrs {
		words[first+2*i], words[first+2*i+1] = uint32(a), uint32(a>>32)
	}
	return words, nil
}

// order returns whether a command with accesses acc needs a barrier before
// it (hazard.go), counting it.
func (b *Backend) order(acc []access) bool {
	if !b.str.hz.order(acc) {
		return false
	}
	b.str.stats.barriers++
	return true
}

// barrierFor records a barrier into bt when a command with accesses acc,
// recorded next by other code (present.go), needs one.
func (b *Backend) barrierFor(bt *batch, acc ...access) {
	if b.order(acc) {
		C.vkcnn_barrier_all(b.str.fns, unsafe.Pointer(bt.cmd))
	}
}

// fillBuffer records vkCmdFillBuffer of a 4-byte pattern, after a barrier
// when an earlier command uses the range. The caller holds b.mu.
func (b *Backend) fillBuffer(buf vk.Buffer, off, size uint64, word uint32) error {
	bt, err := b.cmd()
	if err != nil {
		return err
	}
	barrier := b.order([]access{{buf: uint64(h64(buf)), off: off, end: off + size, write: true}})
	C.vkcnn_fill(b.str.fns, unsafe.Pointer(bt.cmd), h64(buf), C.uint64_t(off), C.uint64_t(size), C.uint32_t(word), cbool(barrier))
	b.str.stats.transfers++
	return b.recorded(bt)
}

// copyBuffer records vkCmdCopyBuffer of one region, after a barrier when an
// earlier command uses either range. The caller holds b.mu.
func (b *Backend) copyBuffer(src vk.Buffer, srcOff uint64, dst vk.Buffer, dstOff, size uint64) error {
	bt, err := b.cmd()
	if err != nil {
		return err
	}
	barrier := b.order([]access{{buf: uint64(h64(src)), off: srcOff, end: srcOff + size},
		{buf: uint64(h64(dst)), off: dstOff, end: dstOff + size, write: true}})
	C.vkcnn_copy(b.str.fns, unsafe.Pointer(bt.cmd), h64(src), C.uint64_t(srcOff), h64(dst), C.uint64_t(dstOff), C.uint64_t(size), cbool(barrier))
	b.str.stats.transfers++
	return b.recorded(bt)
}

// writeTimestamp records timestamp query q of bt's pool (profile.go).
func (s *stream) writeTimestamp(bt *batch, q int) {
	C.vkcnn_mark(s.fns, unsafe.Pointer(bt.cmd), h64(bt.qpool), C.uint32_t(q))
}

// readTimestamps reads the first len(out) timestamps of a completed batch.
func (s *stream) readTimestamps(dev vk.Device, bt *batch, out []uint64) error {
	r := C.vkcnn_timestamps(s.fns, unsafe.Pointer(dev), h64(bt.qpool), C.uint32_t(len(out)), (*C.uint64_t)(unsafe.Pointer(&out[0])))
	return check("vkGetQueryPoolResults", int32(r))
}

// cbool converts a bool to a C int flag.
func cbool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}

// groups1D returns the workgroup counts covering n invocations with local
// invocations per workgroup, folding into y (and z) when n/local exceeds
// maxGroups[0]. Shaders compute the flat index as
// gl_GlobalInvocationID.x + gl_GlobalInvocationID.y*(gl_NumWorkGroups.x*local)
// + gl_GlobalInvocationID.z*(gl_NumWorkGroups.x*local*gl_NumWorkGroups.y) and
// bounds-check it against n.
func (b *Backend) groups1D(n, local int) [3]uint32 {
	if n <= 0 || local <= 0 {
		return [3]uint32{0, 1, 1}
	}
	g := (uint64(n) + uint64(local) - 1) / uint64(local)
	x := min(g, uint64(b.maxGroups[0]))
	rest := (g + x - 1) / x
	y := min(rest, uint64(b.maxGroups[1]))
	z := (rest + y - 1) / y
	return [3]uint32{uint32(x), uint32(y), uint32(z)}
}

// Fill sets every element of dst to v, rounded to float32, with the fill
// shader (bit-exact, NaN and subnormals included). Errors wrap ErrShape,
// ErrFreed, ErrBackend or ErrDType for a bad dst, ErrClosed after Close, and
// ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) Fill(dst *tensor.Tensor, v float64) error {
	const op = "fill"
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "destination", T: dst}); err != nil {
		return err
	}
	n := dst.Len()
	return b.dispatch("fill", nil, []uint32{uint32(n), math.Float32bits(float32(v))}, b.groups1D(n, 256), dst)
}

// Copy copies src into dst (same element count, any shapes) bit for bit
// with the copy shader; dst may alias src. Errors wrap ErrShape for different
// element counts, ErrFreed, ErrBackend or ErrDType for bad tensors, ErrClosed
// after Close, and ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) Copy(dst, src *tensor.Tensor) error {
	const op = "copy"
	if err := b.usable(op); err != nil {
		return err
	}
	n, err := tensor.CheckElementwise(b, op, tensor.Arg{Name: "destination", T: dst}, tensor.Arg{Name: "source", T: src})
	if err != nil {
		return err
	}
	return b.dispatch("copy", nil, []uint32{uint32(n)}, b.groups1D(n, 256), dst, src)
}
