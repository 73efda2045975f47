//go:build cgo

package gpu

/*
#include <stdint.h>
#include <stddef.h>

typedef void (*vkcnn_fn)(void);
typedef vkcnn_fn (*vkcnn_proc_fn)(void*, const char*);

// VkSpecializationMapEntry, VkSpecializationInfo,
// VkPipelineShaderStageCreateInfo and VkComputePipelineCreateInfo.
typedef struct { uint32_t constantID; uint32_t offset; size_t size; } vkcnn_spec_entry;
typedef struct { uint32_t mapEntryCount; const vkcnn_spec_entry* pMapEntries; size_t dataSize; const void* pData; } vkcnn_spec_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t flags; uint32_t stage; uint64_t module;
	const char* pName; const vkcnn_spec_info* pSpecializationInfo;
} vkcnn_stage_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t flags; vkcnn_stage_info stage; uint64_t layout;
	uint64_t basePipelineHandle; int32_t basePipelineIndex;
} vkcnn_pipeline_info;
typedef int32_t (*vkcnn_create_pipelines_fn)(void*, uint64_t, uint32_t, const vkcnn_pipeline_info*, const void*, uint64_t*);

// vkcnn_create_pipeline creates a compute pipeline of module's "main" with
// nspec 4-byte specialization constants (ids 0..nspec-1).
static int32_t vkcnn_create_pipeline(void* gipa, void* instance, void* device, uint64_t module, uint64_t layout,
		uint32_t nspec, const uint32_t* spec, uint64_t* pipe) {
	vkcnn_proc_fn gdpa = (vkcnn_proc_fn)((vkcnn_proc_fn)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) return -7;
	vkcnn_create_pipelines_fn create = (vkcnn_create_pipelines_fn)gdpa(device, "vkCreateComputePipelines");
	if (create == NULL) return -7;
	vkcnn_spec_entry entries[64];
	if (nspec > 64) return -13;
	for (uint32_t i = 0; i < nspec; i++) {
		vkcnn_spec_entry e = {i, 4 * i, 4};
		entries[i] = e;
	}
	vkcnn_spec_info si = {nspec, entries, 4 * (size_t)nspec, spec};
	vkcnn_pipeline_info pi = {29, NULL, 0, {18, NULL, 0, 0x20, module, "main", nspec > 0 ? &si : NULL}, layout, 0, -1};
	return create(device, 0, 1, &pi, NULL, pipe);
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"github.com/vkcnn/vkcnn/shaders"
	"github.com/vkcnn/vkcnn/tensor"
)

const (
	// maxBindings is the most storage buffers one dispatch binds.
	maxBindings = 64
	// maxPushWords is the most push-constant words one dispatch passes (128
	// bytes, the minimum every device supports).
	maxPushWords = 32
)

// layout is the descriptor set layout and pipeline layout shared by every
// pipeline with the same number of storage buffer bindings and descriptors per
// binding (1, or the length of the shader's descriptor arrays).
type layout struct {
	set  vk.DescriptorSetLayout
	pipe vk.PipelineLayout
}

// pipeline is one compute pipeline: a shader with its specialization
// constants and binding count.
type pipeline struct {
	pipe   vk.Pipeline
	layout *layout
	// writes has bit i set when the shader may write binding i (hazard.go).
	writes uint64
}

// pipelines caches shader modules, layouts and pipelines for the backend's
// lifetime.
type pipelines struct {
	modules map[string]vk.ShaderModule
	writes  map[string]uint64    // by shader name: the bindings it may write
	layouts map[[2]int]*layout   // by bindings, descriptors per binding
	pipes   map[string]*pipeline // by key
	key     []byte               // reused by pipelineKey
}

// pipelineKey identifies a pipeline by shader name, descriptor count,
// descriptors per binding and specialization constants, in a buffer reused
// across calls so that a cache hit allocates nothing.
func (ps *pipelines) pipelineKey(name string, nbuf, arr int, spec []uint32) []byte {
	k := append(ps.key[:0], name...)
	k = append(k, 0, byte(nbuf), byte(arr))
	for _, s := range spec {
		k = binary.LittleEndian.AppendUint32(k, s)
	}
	ps.key = k
	return k
}

// pipeline returns the cached pipeline for (name, nbuf, arr, spec), building
// it on first use: nbuf descriptors in bindings of arr descriptors each.
func (b *Backend) pipeline(name string, spec []uint32, nbuf, arr int) (*pipeline, error) {
	ps := &b.pipes
	if p, ok := ps.pipes[string(ps.pipelineKey(name, nbuf, arr, spec))]; ok {
		return p, nil
	}
	mod, err := b.module(name)
	if err != nil {
		return nil, err
	}
	lay, err := b.layout(nbuf/arr, arr)
	if err != nil {
		return nil, err
	}
	if len(spec) > 64 {
		return nil, fmt.Errorf("gpu: shader %q: %d specialization constants, expected at most 64: %w", name, len(spec), tensor.ErrParam)
	}
	var specPtr *C.uint32_t
	if len(spec) > 0 {
		// A copy goes to C, so that the caller's spec does not escape: the
		// cached path above, taken by every dispatch after the first,
		// then leaves it on the caller's stack.
		own := slices.Clone(spec)
		specPtr = (*C.uint32_t)(unsafe.Pointer(&own[0]))
	}
	var pipe vk.Pipeline
	if err := check(fmt.Sprintf("vkCreateComputePipelines for shader %q", name),
		int32(C.vkcnn_create_pipeline(loader.gipa, unsafe.Pointer(b.in.inst), unsafe.Pointer(b.dev), h64(mod), h64(lay.pipe),
			C.uint32_t(len(spec)), specPtr, (*C.uint64_t)(unsafe.Pointer(&pipe))))); err != nil {
		return nil, err
	}
	p := &pipeline{pipe: pipe, layout: lay, writes: ps.writes[name]}
	ps.pipes[string(ps.pipelineKey(name, nbuf, arr, spec))] = p
	return p, nil
}

// module returns the cached shader module of shaders/<name>.spv.
func (b *Backend) module(name string) (vk.ShaderModule, error) {
	if m, ok := b.pipes.modules[name]; ok {
		return m, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w: %w", err, tensor.ErrUnsupported)
	}
	if len(code)%4 != 0 || len(code) == 0 {
		return nil, fmt.Errorf("gpu: shader %q has %d bytes, expected a non-empty multiple of 4: %w", name, len(code), tensor.ErrUnsupported)
	}
	words := make([]uint32, len(code)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	writes, err := spirvWrites(words)
	if err != nil {
		return nil, fmt.Errorf("gpu: shader %q: %w: %w", name, err, tensor.ErrUnsupported)
	}
	if base, ok := strings.CutSuffix(name, addrSuffix); ok {
		// The addressed variant binds nothing; its slots are the plain
		// shader's bindings, and so are the ones it writes.
		if _, err := b.module(base); err != nil {
			return nil, err
		}
		writes = b.pipes.writes[base]
	}
	info := vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(len(code)),
		PCode:    words,
	}
	defer info.Free()
	var m vk.ShaderModule
	if err := check(fmt.Sprintf("vkCreateShaderModule for shader %q", name), int32(vk.CreateShaderModule(b.dev, &info, nil, &m))); err != nil {
		return nil, err
	}
	b.pipes.modules[name] = m
	b.pipes.writes[name] = writes
	return m, nil
}

// layout returns the cached layouts for n storage buffer bindings of arr
// descriptors each and a 128-byte push-constant range.
func (b *Backend) layout(n, arr int) (*layout, error) {
	if l, ok := b.pipes.layouts[[2]int{n, arr}]; ok {
		return l, nil
	}
	binds := make([]vk.DescriptorSetLayoutBinding, n)
	for i := range binds {
		binds[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			DescriptorCount: uint32(arr),
			StageFlags:      vk.ShaderStageFlags(vk.ShaderStageComputeBit),
		}
	}
	dsInfo := vk.DescriptorSetLayoutCreateInfo{
		SType:        vk.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: uint32(n),
		PBindings:    binds,
	}
	defer dsInfo.Free()
	var set vk.DescriptorSetLayout
	if err := check("vkCreateDescriptorSetLayout", int32(vk.CreateDescriptorSetLayout(b.dev, &dsInfo, nil, &set))); err != nil {
		return nil, err
	}
	plInfo := vk.PipelineLayoutCreateInfo{
		SType:                  vk.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount:         1,
		PSetLayouts:            []vk.DescriptorSetLayout{set},
		PushConstantRangeCount: 1,
		PPushConstantRanges: []vk.PushConstantRange{{
			StageFlags: vk.ShaderStageFlags(vk.ShaderStageComputeBit),
			Size:       uint32(4 * b.maxPush),
		}},
	}
	defer plInfo.Free()
	var pl vk.PipelineLayout
	if err := check("vkCreatePipelineLayout", int32(vk.CreatePipelineLayout(b.dev, &plInfo, nil, &pl))); err != nil {
		vk.DestroyDescriptorSetLayout(b.dev, set, nil)
		return nil, err
	}
	l := &layout{set: set, pipe: pl}
	b.pipes.layouts[[2]int{n, arr}] = l
	return l, nil
}

func (b *Backend) initPipelines() {
	b.pipes = pipelines{
		modules: map[string]vk.ShaderModule{},
		writes:  map[string]uint64{},
		layouts: map[[2]int]*layout{},
		pipes:   map[string]*pipeline{},
	}
}

// closePipelines destroys every pipeline, layout and module; the device is
// idle.
func (b *Backend) closePipelines() {
	for k, p := range b.pipes.pipes {
		vk.DestroyPipeline(b.dev, p.pipe, nil)
		delete(b.pipes.pipes, k)
	}
	for k, l := range b.pipes.layouts {
		vk.DestroyPipelineLayout(b.dev, l.pipe, nil)
		vk.DestroyDescriptorSetLayout(b.dev, l.set, nil)
		delete(b.pipes.layouts, k)
	}
	for k, m := range b.pipes.modules {
		vk.DestroyShaderModule(b.dev, m, nil)
		delete(b.pipes.modules, k)
	}
}
