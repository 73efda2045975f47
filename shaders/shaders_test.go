package shaders

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// variant is one compiled shader: the .spv name, its .comp source and the
// extra glslc flags.
type variant struct {
	name, src string
	flags     []string
}

// sources returns the shaders that have GLSL source here: every <name>.comp,
// and <name>_addr (compiled with -DADDRESSED) for each that includes
// buf.glsl.
func sources(t *testing.T) []variant {
	t.Helper()
	comps, err := filepath.Glob("*.comp")
	if err != nil {
		t.Fatal(err)
	}
	var vs []variant
	for _, c := range comps {
		name := strings.TrimSuffix(c, ".comp")
		vs = append(vs, variant{name: name, src: c})
		text, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(text, []byte("\n#include \"buf.glsl\"")) {
			vs = append(vs, variant{name: name + "_addr", src: c, flags: []string{"-DADDRESSED"}})
		}
	}
	return vs
}

// names returns the .spv names of vs.
func names(vs []variant) []string {
	var ns []string
	for _, v := range vs {
		ns = append(ns, v.name)
	}
	return ns
}

// TestSourcesMatchEmbedded checks that every .comp has an embedded .spv and
// every embedded .spv has its .comp.
func TestSourcesMatchEmbedded(t *testing.T) {
	vs, emb := sources(t), Names()
	src := names(vs)
	for _, v := range vs {
		if !slices.Contains(emb, v.name) {
			t.Errorf("%s has no %s.spv: run `go generate ./shaders`", v.src, v.name)
		}
	}
	for _, n := range emb {
		if !slices.Contains(src, n) {
			t.Errorf("%s.spv has no source: no %s.comp, nor a .comp including buf.glsl for an _addr variant", n, n)
		}
	}
	for _, n := range []string{"fill", "copy", "fill_addr", "gemm_addr"} {
		if !slices.Contains(emb, n) {
			t.Errorf("Names() = %v lacks %q", emb, n)
		}
	}
	if !slices.IsSorted(emb) {
		t.Errorf("Names() = %v, not sorted", emb)
	}
}

func TestSPIRV(t *testing.T) {
	for _, n := range Names() {
		b, err := SPIRV(n)
		if err != nil {
			t.Fatalf("SPIRV(%q): %v", n, err)
		}
		if len(b) < 20 || len(b)%4 != 0 || binary.LittleEndian.Uint32(b) != 0x07230203 {
			t.Errorf("SPIRV(%q): %d bytes without the SPIR-V magic number", n, len(b))
		}
		b[0] ^= 0xff // the caller's copy, not the embedded bytes
		if again, _ := SPIRV(n); again[0] == b[0] {
			t.Errorf("SPIRV(%q) returned the embedded bytes, not a copy", n)
		}
	}
	for _, bad := range []string{"no_such_shader", "", "fill.spv", "../fill"} {
		if _, err := SPIRV(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("SPIRV(%q) = %v, want an error naming it", bad, err)
		}
	}
}

// tool returns the path of a command or skips t.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not on PATH (Debian: spirv-tools, glslc)", name)
	}
	return p
}

// TestValid runs spirv-val on every .spv.
func TestValid(t *testing.T) {
	val := tool(t, "spirv-val")
	for _, n := range Names() {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(val, "--target-env", "vulkan1.1", n+".spv").CombinedOutput()
			if err != nil {
				t.Errorf("spirv-val %s.spv: %v\n%s", n, err, out)
			}
		})
	}
}

// TestUpToDate recompiles every .comp and compares with its .spv.
func TestUpToDate(t *testing.T) {
	glslc := tool(t, "glslc")
	dir := t.TempDir()
	for _, v := range sources(t) {
		n := v.name
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, n+".spv")
			args := append([]string{"-O", "--target-env=vulkan1.1"}, v.flags...)
			args = append(args, "-o", out, v.src)
			if msg, err := exec.Command(glslc, args...).CombinedOutput(); err != nil {
				t.Fatalf("glslc %v: %v\n%s", args, err, msg)
			}
			fresh, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(n + ".spv")
			if err != nil {
				t.Fatalf("%s.spv: %v", n, err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Errorf("%s.spv is stale: it differs from what glslc %v makes of %s; run `go generate ./shaders`", n, v.flags, v.src)
			}
		})
	}
}
