// Package shaders holds vkcnn's GLSL compute shaders and their SPIR-V.
//
// The GLSL files (*.comp) are the source of truth. gen.sh compiles each one
// with `glslc -O --target-env=vulkan1.1` to <name>.spv; `go generate
// ./shaders` runs it. A shader that declares its tensors through buf.glsl
// (BUFFER, AT, ADDRESSES) is compiled a second time with -DADDRESSED to
// <name>_addr.spv, which binds no buffer and reaches each tensor through its
// device address in the push constants (GL_EXT_buffer_reference): the
// Vulkan backend runs that variant for dispatches that touch a tensor larger
// than one storage-buffer binding may cover (maxStorageBufferRange). The
// .spv files are committed and embedded in the binary, so nothing is
// compiled or read from disk at run time; a test fails when a .spv is
// missing, invalid (spirv-val) or stale.
//
// Conventions every shader follows: `#version 450`, a fixed
// `layout(local_size_x = 256) in;` (or a 2-D tile), storage buffers at set 0,
// binding i, std430 float arrays (declared with buf.glsl's BUFFER where the
// shader may see big tensors); sizes and scalars in a push_constant block of
// 4-byte members, at most 32 words, and 32 − 2·slots for shaders with an
// _addr variant; every invocation bounds-checked. One-dimensional shaders
// compute their flat index from gl_GlobalInvocationID folded over y and z (see
// fill.comp).
package shaders

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.spv
var files embed.FS

// SPIRV returns a copy of the SPIR-V of shader name (the file <name>.spv,
// without the extension). It returns an error naming the shader when there is
// no such shader.
func SPIRV(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, fmt.Errorf("shaders: invalid shader name %q, expected a file name without extension such as \"fill\"", name)
	}
	b, err := files.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no shader %q (no %s.spv embedded; known: %s)", name, name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Names returns the names of the embedded shaders, sorted.
func Names() []string {
	ents, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".spv"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
