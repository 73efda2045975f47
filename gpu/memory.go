//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"github.com/vkcnn/vkcnn/tensor"
)

const (
	// blockSize is the size of the device memory blocks tensors are
	// sub-allocated from; a tensor of half a block or more gets its own
	// allocation.
	blockSize = 64 << 20
	// minAlign is the least alignment of a tensor's offset in its block.
	minAlign = 64
)

// stageChunk bounds one staging copy in bytes, so that uploading or
// downloading a huge tensor does not need a staging buffer as big as the
// tensor. Tests lower it.
var stageChunk = 64 << 20

// span is a byte range of a block.
type span struct{ off, size uint64 }

// block is one vkAllocateMemory with one VkBuffer covering all of it.
type block struct {
	buf       vk.Buffer
	mem       vk.DeviceMemory
	addr      uint64 // device address of the buffer, 0 without device addresses
	size      uint64
	free      []span // sorted by offset, coalesced
	live      int    // spans handed out and not yet given back
	dedicated bool   // holds a single tensor; destroyed when it is freed
}

// pendingFree is a span given back by Free that recorded or submitted work may
// still use; it returns to its block once batch `at` has completed.
type pendingFree struct {
	blk *block
	sp  span
	at  uint64
}

// staging is the host-visible buffer that uploads and downloads go through.
// Space is handed out linearly and recycled when the device is idle.
type staging struct {
	buf  vk.Buffer
	mem  vk.DeviceMemory
	ptr  unsafe.Pointer
	size uint64
	used uint64
}

// allocator is the backend's pooling memory allocator. Its state is guarded
// by the backend's mutex (b.mu), which every method that uses it expects the
// caller to hold.
type allocator struct {
	memType   uint32 // memory type of tensor blocks
	stageType uint32 // memory type of the staging buffer
	align     uint64 // offset alignment of tensors
	blockSize uint64
	maxTensor uint64 // largest tensor in bytes
	limitText string // why maxTensor is what it is, for error messages
	// bindLimit is the most bytes one storage-buffer binding covers
	// (maxStorageBufferRange, lowered by tests): a dispatch that touches a
	// bigger tensor runs the shader's _addr variant through device
	// addresses.
	bindLimit uint64
	// allocFlags is the VkMemoryAllocateFlagsInfo (C memory) that gives
	// tensor memory device addresses, or nil when the device has none.
	allocFlags unsafe.Pointer
	blocks     []*block
	used       uint64        // bytes of all blocks
	budget     uint64        // cap on used, 0 for none (MemoryBudget)
	pending    []pendingFree // in order of at
	stage      staging
	allocs     int // vkAllocateMemory calls, for tests
	live       int // tensors allocated and not freed, for tests
}

// storage is the tensor.Storage of the Vulkan backend: a range of a block.
type storage struct {
	b    *Backend
	blk  *block
	off  uint64
	size uint64 // bytes of the tensor
	sp   span   // reserved range, size aligned
}

// Release gives the range back to the allocator once the work that may use it
// has completed. After Close it does nothing. Tensor.Free calls it; it locks
// the backend, so tensors may be freed while other goroutines use the backend.
func (s *storage) Release() error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	return s.releaseLocked()
}

// releaseLocked is Release for a caller that holds b.mu.
func (s *storage) releaseLocked() error {
	b := s.b
	if b.closed {
		return nil
	}
	b.mem.live--
	at := b.useMark()
	if at <= b.str.doneID {
		b.giveBack(s.blk, s.sp)
		return nil
	}
	b.mem.pending = append(b.mem.pending, pendingFree{blk: s.blk, sp: s.sp, at: at})
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// maxIndexed is the largest tensor in bytes that the shaders' 32-bit signed
// element indices reach.
const maxIndexed = (1<<31 - 1) * 4

// initMemory picks the memory types and limits. maxAlloc is the device's
// maxMemoryAllocationSize and maxBuffer its maxBufferSize, each 0 when
// unknown.
func (b *Backend) initMemory(maxAlloc, maxBuffer uint64) error {
	a := &b.mem
	const usage = vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit
	bits, err := b.memoryTypeBits(usage)
	if err != nil {
		return err
	}
	stageBits, err := b.memoryTypeBits(vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit)
	if err != nil {
		return err
	}
	mp := &b.phys.mem
	heapOf := func(t uint32) uint64 { return uint64(mp.MemoryHeaps[mp.MemoryTypes[t].HeapIndex].Size) }
	has := func(t uint32, f vk.MemoryPropertyFlagBits) bool {
		return mp.MemoryTypes[t].PropertyFlags&vk.MemoryPropertyFlags(f) == vk.MemoryPropertyFlags(f)
	}
	// Tensors: the device-local type on the biggest heap; without one
	// (unified memory), any type on the biggest heap.
	best, bestScore := -1, [2]uint64{}
	for t := uint32(0); t < mp.MemoryTypeCount; t++ {
		if bits&(1<<t) == 0 {
			continue
		}
		score := [2]uint64{0, heapOf(t)}
		if has(t, vk.MemoryPropertyDeviceLocalBit) {
			score[0] = 1
		}
		if best < 0 || score[0] > bestScore[0] || score[0] == bestScore[0] && score[1] > bestScore[1] {
			best, bestScore = int(t), score
		}
	}
	// Staging: host-visible and coherent, cached when possible (fast reads).
	stage := -1
	for t := uint32(0); t < mp.MemoryTypeCount; t++ {
		if stageBits&(1<<t) == 0 || !has(t, vk.MemoryPropertyHostVisibleBit|vk.MemoryPropertyHostCoherentBit) {
			continue
		}
		if stage < 0 || has(t, vk.MemoryPropertyHostCachedBit) && !has(uint32(stage), vk.MemoryPropertyHostCachedBit) {
			stage = int(t)
		}
	}
	if best < 0 || stage < 0 {
		return fmt.Errorf("gpu: device %q offers no memory type for storage buffers (%#x) or host-coherent staging (%#x): %w",
			b.info.Name, bits, stageBits, tensor.ErrUnsupported)
	}
	a.memType, a.stageType = uint32(best), uint32(stage)
	l := &b.phys.limits
	a.align = max(uint64(l.MinStorageBufferOffsetAlignment), minAlign)
	heap := heapOf(a.memType)
	a.bindLimit = uint64(l.MaxStorageBufferRange) &^ 3
	// A tensor bigger than one binding's range is reached through device
	// addresses; without them the binding range is the limit.
	a.maxTensor = maxIndexed
	a.limitText = fmt.Sprintf("%s, what 32-bit shader indices reach", mib(maxIndexed))
	if a.allocFlags == nil && a.bindLimit < a.maxTensor {
		a.maxTensor = a.bindLimit
		a.limitText = fmt.Sprintf("maxStorageBufferRange %s, without device addresses (%s) for bigger tensors",
			mib(a.bindLimit), addressExtension)
	}
	if maxBuffer > 0 && maxBuffer < a.maxTensor {
		a.maxTensor = maxBuffer
		a.limitText = fmt.Sprintf("maxBufferSize %s", mib(maxBuffer))
	}
	if maxAlloc > 0 && maxAlloc < a.maxTensor {
		a.maxTensor = maxAlloc
		a.limitText = fmt.Sprintf("maxMemoryAllocationSize %s", mib(maxAlloc))
	}
	if heap < a.maxTensor {
		a.maxTensor = heap
		a.limitText = fmt.Sprintf("memory heap of %s", mib(heap))
	}
	a.maxTensor &^= 3
	a.blockSize = blockSize
	if maxAlloc > 0 {
		a.blockSize = min(a.blockSize, maxAlloc)
	}
	a.blockSize = min(a.blockSize, heap/4) &^ (a.align - 1)
	return nil
}

// memoryTypeBits returns the memory types a buffer with usage may live in
// (the same for every size, per the Vulkan spec).
func (b *Backend) memoryTypeBits(usage vk.BufferUsageFlagBits) (uint32, error) {
	info := vk.BufferCreateInfo{SType: vk.StructureTypeBufferCreateInfo, Size: 4096,
		Usage: vk.BufferUsageFlags(usage), SharingMode: vk.SharingModeExclusive}
	defer info.Free()
	var buf vk.Buffer
	if err := check("vkCreateBuffer", int32(vk.CreateBuffer(b.dev, &info, nil, &buf))); err != nil {
		return 0, err
	}
	defer vk.DestroyBuffer(b.dev, buf, nil)
	return b.requirements(buf).MemoryTypeBits, nil
}

// requirements returns the memory requirements of buf.
func (b *Backend) requirements(buf vk.Buffer) vk.MemoryRequirements {
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(b.dev, buf, &req)
	req.Deref()
	req.Free()
	return req
}

// newBuffer creates a buffer of size bytes with its own memory of type
// memType, bound at offset 0. With addressed (only where the device has
// device addresses) the buffer has a device address.
func (b *Backend) newBuffer(size uint64, usage vk.BufferUsageFlagBits, memType uint32, addressed bool) (vk.Buffer, vk.DeviceMemory, error) {
	if addressed {
		usage |= bufferUsageDeviceAddress
	}
	info := vk.BufferCreateInfo{SType: vk.StructureTypeBufferCreateInfo, Size: vk.DeviceSize(size),
		Usage: vk.BufferUsageFlags(usage), SharingMode: vk.SharingModeExclusive}
	defer info.Free()
	var buf vk.Buffer
	if err := check(fmt.Sprintf("vkCreateBuffer of %s", mib(size)), int32(vk.CreateBuffer(b.dev, &info, nil, &buf))); err != nil {
		return nil, nil, err
	}
	req := b.requirements(buf)
	if req.MemoryTypeBits&(1<<memType) == 0 {
		vk.DestroyBuffer(b.dev, buf, nil)
		return nil, nil, fmt.Errorf("gpu: a buffer of %s cannot use memory type %d (allowed %#x): %w",
			mib(size), memType, req.MemoryTypeBits, tensor.ErrUnsupported)
	}
	alloc := vk.MemoryAllocateInfo{SType: vk.StructureTypeMemoryAllocateInfo, AllocationSize: req.Size, MemoryTypeIndex: memType}
	if addressed {
		alloc.PNext = b.mem.allocFlags
	}
	defer alloc.Free()
	var mem vk.DeviceMemory
	if err := check(fmt.Sprintf("vkAllocateMemory of %s", mib(uint64(req.Size))), int32(vk.AllocateMemory(b.dev, &alloc, nil, &mem))); err != nil {
		vk.DestroyBuffer(b.dev, buf, nil)
		return nil, nil, err
	}
	b.mem.allocs++
	if err := check("vkBindBufferMemory", int32(vk.BindBufferMemory(b.dev, buf, mem, 0))); err != nil {
		vk.DestroyBuffer(b.dev, buf, nil)
		vk.FreeMemory(b.dev, mem, nil)
		return nil, nil, err
	}
	return buf, mem, nil
}

const tensorUsage = vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit

// bufferUsageDeviceAddress is VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT.
const bufferUsageDeviceAddress vk.BufferUsageFlagBits = 0x20000

// addressExtension is the device extension of device addresses.
const addressExtension = "VK_KHR_buffer_device_address"

// newBlock allocates a block of size bytes.
func (b *Backend) newBlock(size uint64, dedicated bool) (*block, error) {
	if a := &b.mem; a.budget > 0 && a.used+size > a.budget {
		return nil, fmt.Errorf("gpu: %s more device memory would exceed the budget of %s (%s in use): %w",
			mib(size), mib(a.budget), mib(a.used), tensor.ErrOutOfMemory)
	}
	addressed := b.mem.allocFlags != nil
	buf, mem, err := b.newBuffer(size, tensorUsage, b.mem.memType, addressed)
	if err != nil {
		return nil, err
	}
	blk := &block{buf: buf, mem: mem, size: size, dedicated: dedicated}
	if addressed {
		if blk.addr = b.bufferAddress(buf); blk.addr == 0 {
			vk.DestroyBuffer(b.dev, buf, nil)
			vk.FreeMemory(b.dev, mem, nil)
			return nil, fmt.Errorf("gpu: vkGetBufferDeviceAddressKHR gave no address for a buffer of %s: %w", mib(size), tensor.ErrUnsupported)
		}
	}
	if !dedicated {
		blk.free = []span{{0, size}}
	}
	b.mem.blocks = append(b.mem.blocks, blk)
	b.mem.used += size
	return blk, nil
}

// destroyBlock frees a block that no work uses any more.
func (b *Backend) destroyBlock(blk *block) {
	vk.DestroyBuffer(b.dev, blk.buf, nil)
	vk.FreeMemory(b.dev, blk.mem, nil)
	b.mem.used -= blk.size
	bs := b.mem.blocks
	for i, x := range bs {
		if x == blk {
			b.mem.blocks = append(bs[:i], bs[i+1:]...)
			break
		}
	}
}

// take carves n bytes out of the first pooled block with room.
func (a *allocator) take(n uint64) (*block, span, bool) {
	for _, blk := range a.blocks {
		if blk.dedicated {
			continue
		}
		for i, f := range blk.free {
			if f.size < n {
				continue
			}
			sp := span{f.off, n}
			if f.size == n {
				blk.free = append(blk.free[:i], blk.free[i+1:]...)
			} else {
				blk.free[i] = span{f.off + n, f.size - n}
			}
			blk.live++
			return blk, sp, true
		}
	}
	return nil, span{}, false
}

// giveBack returns a span to its block, destroying dedicated blocks and all
// but one empty pooled block.
func (b *Backend) giveBack(blk *block, sp span) {
	blk.live--
	if blk.dedicated {
		b.destroyBlock(blk)
		return
	}
	fs := blk.free
	i := 0
	for i < len(fs) && fs[i].off < sp.off {
		i++
	}
	fs = append(fs, span{})
	copy(fs[i+1:], fs[i:])
	fs[i] = sp
	if i+1 < len(fs) && fs[i].off+fs[i].size == fs[i+1].off {
		fs[i].size += fs[i+1].size
		fs = append(fs[:i+1], fs[i+2:]...)
	}
	if i > 0 && fs[i-1].off+fs[i-1].size == fs[i].off {
		fs[i-1].size += fs[i].size
		fs = append(fs[:i], fs[i+1:]...)
	}
	blk.free = fs
	if blk.live == 0 {
		for _, o := range b.mem.blocks {
			if o != blk && !o.dedicated && o.live == 0 {
				b.destroyBlock(blk)
				return
			}
		}
	}
}

// reclaim returns the pending frees whose work has completed (batch ≤ done).
func (b *Backend) reclaim(done uint64) {
	a := &b.mem
	n := 0
	for n < len(a.pending) && a.pending[n].at <= done {
		b.giveBack(a.pending[n].blk, a.pending[n].sp)
		n++
	}
	if n > 0 {
		a.pending = append(a.pending[:0], a.pending[n:]...)
	}
}

// alloc reserves device memory for a tensor of size bytes. It first reuses
// freed ranges whose work has completed, then allocates a new block, and
// only when the device is out of memory waits for all work, releases empty
// blocks and retries.
func (b *Backend) alloc(size uint64) (*storage, error) {
	a := &b.mem
	if size > a.maxTensor {
		return nil, fmt.Errorf("gpu: alloc of %s: larger than the device allows (%s on %q): %w",
			mib(size), a.limitText, b.info.Name, tensor.ErrOutOfMemory)
	}
	n := alignUp(size, a.align)
	for attempt := 0; ; attempt++ {
		var blk *block
		var sp span
		var err error
		if n >= a.blockSize/2 {
			blk, err = b.newBlock(n, true)
			if err == nil {
				blk.live = 1
				sp = span{0, n}
			}
		} else {
			var ok bool
			if blk, sp, ok = a.take(n); !ok {
				if attempt == 0 {
					// Free ranges whose work finished, without waiting.
					if err := b.retire(false); err != nil {
						return nil, err
					}
					continue
				}
				if blk, err = b.newBlock(a.blockSize, false); err == nil {
					blk, sp, _ = a.take(n)
				}
			}
		}
		if err == nil {
			a.live++
			return &storage{b: b, blk: blk, off: sp.off, size: size, sp: sp}, nil
		}
		if attempt >= 2 || !errorIsOOM(err) {
			return nil, fmt.Errorf("gpu: alloc of %s: %w", mib(size), err)
		}
		// Out of memory: wait for all work so that pending frees come back,
		// give empty blocks back to the device, and retry.
		if err := b.flush(); err != nil {
			return nil, err
		}
		for _, blk := range append([]*block(nil), a.blocks...) {
			if !blk.dedicated && blk.live == 0 {
				b.destroyBlock(blk)
			}
		}
	}
}

func errorIsOOM(err error) bool { return errors.Is(err, tensor.ErrOutOfMemory) }

// stageSpace reserves n bytes of the staging buffer and returns their offset.
// When the buffer is full it waits for the device and starts over; when n is
// bigger than the buffer it grows it.
func (b *Backend) stageSpace(n uint64) (uint64, error) {
	st := &b.mem.stage
	n = alignUp(n, minAlign)
	if st.used+n > st.size {
		if st.used > 0 {
			if err := b.flush(); err != nil {
				return 0, err
			}
		}
		if n > st.size {
			b.freeStaging()
			size := max(n, 2*st.size, 1<<20)
			buf, mem, err := b.newBuffer(size, vk.BufferUsageTransferSrcBit|vk.BufferUsageTransferDstBit, b.mem.stageType, false)
			if err != nil {
				return 0, err
			}
			var ptr unsafe.Pointer
			if err := check("vkMapMemory", int32(vk.MapMemory(b.dev, mem, 0, vk.DeviceSize(size), 0, &ptr))); err != nil {
				vk.DestroyBuffer(b.dev, buf, nil)
				vk.FreeMemory(b.dev, mem, nil)
				return 0, err
			}
			*st = staging{buf: buf, mem: mem, ptr: ptr, size: size}
		}
	}
	off := st.used
	st.used += n
	return off, nil
}

func (b *Backend) freeStaging() {
	st := &b.mem.stage
	if st.buf == nil {
		return
	}
	vk.UnmapMemory(b.dev, st.mem)
	vk.DestroyBuffer(b.dev, st.buf, nil)
	vk.FreeMemory(b.dev, st.mem, nil)
	*st = staging{}
}

// closeMemory frees every block and the staging buffer; the device is idle.
func (b *Backend) closeMemory() {
	b.freeStaging()
	for len(b.mem.blocks) > 0 {
		b.destroyBlock(b.mem.blocks[len(b.mem.blocks)-1])
	}
	b.mem.pending = nil
}

// storageOf returns the device range of a tensor of this backend.
func (b *Backend) storageOf(t *tensor.Tensor) (*storage, error) {
	s, ok := t.Storage().(*storage)
	if !ok || s.b != b {
		return nil, fmt.Errorf("gpu: tensor %v is not a live tensor of this backend: %w", t, tensor.ErrBackend)
	}
	return s, nil
}

// newTensor allocates a float32 tensor; zero records a fill with zeros. The
// caller holds b.mu.
func (b *Backend) newTensor(shape tensor.Shape, zero bool) (*tensor.Tensor, error) {
	if err := shape.Validate(); err != nil {
		return nil, fmt.Errorf("gpu: alloc: %w", err)
	}
	s, err := b.alloc(uint64(shape.Len()) * 4)
	if err != nil {
		return nil, err
	}
	if zero {
		if err := b.fillBuffer(s.blk.buf, s.off, s.size, 0); err != nil {
			s.releaseLocked()
			return nil, err
		}
	}
	return tensor.NewTensor(b, tensor.Float32, shape, s), nil
}

// Alloc returns a zero-filled float32 tensor in device memory. It returns an
// ErrDType error for any other dtype, an ErrShape error for an invalid shape,
// an ErrOutOfMemory error when the tensor is bigger than the device allows
// or the memory is exhausted, and ErrClosed after Close.
func (b *Backend) Alloc(dt tensor.DType, shape tensor.Shape) (*tensor.Tensor, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked("alloc"); err != nil {
		return nil, err
	}
	if dt != tensor.Float32 {
		return nil, fmt.Errorf("gpu: alloc: dtype %v is not supported by the Vulkan backend, expected float32: %w", dt, tensor.ErrDType)
	}
	return b.newTensor(shape, true)
}

// scratch returns a temporary float32 tensor of n elements, with undefined
// contents, for one op's intermediate results. The caller frees it right after
// recording the dispatches that use it; its memory is reused only once that
// work has completed. It locks the backend for its own run only: ops that
// use scratch tensors need no lock of their own.
func (b *Backend) scratch(n int) (*tensor.Tensor, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.alive("scratch"); err != nil {
		return nil, err
	}
	return b.newTensor(tensor.Shape{n}, false)
}

// Upload copies src, a []float32 with dst's element count, into dst. The copy
// goes through the staging buffer and is ordered before later ops; src may be
// reused as soon as Upload returns. Errors wrap ErrDType or ErrShape for bad
// host data, ErrFreed or ErrBackend for a bad dst, ErrClosed after Close, and
// ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) Upload(dst *tensor.Tensor, src any) error {
	const op = "upload"
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "destination", T: dst}); err != nil {
		return err
	}
	if err := tensor.CheckHost(op, dst, src); err != nil {
		return err
	}
	s, err := b.storageOf(dst)
	if err != nil {
		return err
	}
	data := src.([]float32)
	// The staging space stays ours from stageSpace until the copy out of it
	// is recorded: no other goroutine may flush and reuse it in between.
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(op); err != nil {
		return err
	}
	for done := 0; done < len(data); {
		n := min(len(data)-done, stageChunk/4)
		off, err := b.stageSpace(uint64(n) * 4)
		if err != nil {
			return err
		}
		copy(unsafe.Slice((*float32)(unsafe.Add(b.mem.stage.ptr, off)), n), data[done:done+n])
		if err := b.copyBuffer(b.mem.stage.buf, off, s.blk.buf, s.off+uint64(done)*4, uint64(n)*4); err != nil {
			return err
		}
		b.str.stats.uploaded += int64(n) * 4
		done += n
	}
	return nil
}

// Download waits for the ops that write src, then copies src into dst, a
// []float32 with src's element count. Errors wrap ErrDType or ErrShape for
// bad host data, ErrFreed or ErrBackend for a bad src, ErrClosed after Close;
// a device error of earlier work (ErrDeviceLost, ErrOutOfMemory) is returned
// here too.
func (b *Backend) Download(dst any, src *tensor.Tensor) error {
	const op = "download"
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "source", T: src}); err != nil {
		return err
	}
	if err := tensor.CheckHost(op, src, dst); err != nil {
		return err
	}
	s, err := b.storageOf(src)
	if err != nil {
		return err
	}
	data := dst.([]float32)
	// Hold the mutex from the copy into staging to the copy out of it, so
	// that no other goroutine reuses the staging space in between.
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(op); err != nil {
		return err
	}
	for done := 0; done < len(data); {
		n := min(len(data)-done, stageChunk/4)
		off, err := b.stageSpace(uint64(n) * 4)
		if err != nil {
			return err
		}
		if err := b.copyBuffer(s.blk.buf, s.off+uint64(done)*4, b.mem.stage.buf, off, uint64(n)*4); err != nil {
			return err
		}
		if err := b.flush(); err != nil {
			return err
		}
		copy(data[done:done+n], unsafe.Slice((*float32)(unsafe.Add(b.mem.stage.ptr, off)), n))
		b.str.stats.downloaded += int64(n) * 4
		done += n
	}
	return nil
}
