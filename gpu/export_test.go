//go:build cgo

package gpu

import (
	vk "github.com/vulkan-go/vulkan"

	"github.com/vkcnn/vkcnn/tensor"
)

// Test hooks for the external tests of package gpu_test.

// Dispatch calls the internal dispatch.
func (b *Backend) Dispatch(name string, spec, push []uint32, groups [3]uint32, bufs ...*tensor.Tensor) error {
	return b.dispatch(name, spec, push, groups, bufs...)
}

// Scratch calls the internal scratch.
func (b *Backend) Scratch(n int) (*tensor.Tensor, error) { return b.scratch(n) }

// Groups1D calls the internal groups1D.
func (b *Backend) Groups1D(n, local int) [3]uint32 { return b.groups1D(n, local) }

// MaxGroups returns the device's workgroup count limits.
func (b *Backend) MaxGroups() [3]uint32 { return b.maxGroups }

// SetMaxGroups lowers the workgroup count limits, to exercise folding.
func (b *Backend) SetMaxGroups(g [3]uint32) { b.maxGroups = g }

// MemStats reports the allocator's state.
type MemStats struct {
	Blocks    int    // live vkAllocateMemory allocations for tensors
	Used      uint64 // bytes of those allocations
	Allocs    int    // vkAllocateMemory calls so far (tensors and staging)
	Live      int    // tensors not freed
	Pending   int    // freed ranges waiting for their work to complete
	MaxTensor uint64
	BlockSize uint64
	Align     uint64
}

// Mem returns the allocator's state.
func (b *Backend) Mem() MemStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return MemStats{Blocks: len(b.mem.blocks), Used: b.mem.used, Allocs: b.mem.allocs, Live: b.mem.live,
		Pending: len(b.mem.pending), MaxTensor: b.mem.maxTensor, BlockSize: b.mem.blockSize, Align: b.mem.align}
}

// StreamStats returns the submissions made and the pipelines cached.
func (b *Backend) StreamStats() (submits, pipelines, modules int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.str.submits, len(b.pipes.pipes), len(b.pipes.modules)
}

// CreateZeroSizeBuffer makes an invalid Vulkan call (a buffer of size 0,
// VUID-VkBufferCreateInfo-size-00912) so tests can check that validation
// messages are captured. The buffer, if created, is destroyed.
func (b *Backend) CreateZeroSizeBuffer() {
	info := vk.BufferCreateInfo{SType: vk.StructureTypeBufferCreateInfo, Size: 0,
		Usage: vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit), SharingMode: vk.SharingModeExclusive}
	var buf vk.Buffer
	if vk.CreateBuffer(b.dev, &info, nil, &buf) == vk.Success && buf != nil {
		vk.DestroyBuffer(b.dev, buf, nil)
	}
	b.drain()
}

// LeakBuffer creates a buffer the backend does not track, so that Close
// leaves it alive and the validation layer reports it when the device is
// destroyed.
func (b *Backend) LeakBuffer() error {
	info := vk.BufferCreateInfo{SType: vk.StructureTypeBufferCreateInfo, Size: 256,
		Usage: vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit), SharingMode: vk.SharingModeExclusive}
	var buf vk.Buffer
	return check("vkCreateBuffer", int32(vk.CreateBuffer(b.dev, &info, nil, &buf)))
}

// SetStageChunk sets the largest staging copy in bytes and returns the old
// value.
func SetStageChunk(n int) int {
	old := stageChunk
	stageChunk = n
	return old
}

// SPIRVWrites exposes spirvWrites.
func SPIRVWrites(words []uint32) (uint64, error) { return spirvWrites(words) }

// BatchParams exposes batchParams.
func (b *Backend) BatchParams() int { return b.batchParams() }

// SetBindLimit sets the most bytes one storage-buffer binding covers, so
// that dispatches touching bigger tensors take the device-address path, and
// returns the old value. Allocation limits are not changed.
func (b *Backend) SetBindLimit(n uint64) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.mem.bindLimit
	b.mem.bindLimit = n
	return old
}

// HasAddresses reports whether the device has device addresses.
func (b *Backend) HasAddresses() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.allocFlags != nil
}

// BindLimit returns the most bytes one storage-buffer binding covers.
func (b *Backend) BindLimit() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem.bindLimit
}

// DistinctCheck returns a call of the batched optimizers' internal distinct
// check over Adam-style entries (params[i], grads[i], m[i], v[i]), with the
// entries built beforehand so that the call itself can be measured.
func (b *Backend) DistinctCheck(params, grads, m, v []*tensor.Tensor) func() error {
	es := make([]optEntry, len(params))
	for i := range params {
		es[i] = optEntry{param: params[i], grad: grads[i], m: m[i], v: v[i]}
	}
	return func() error { return b.distinct("test", es, true) }
}
