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

// sources returns the names of the shaders that have GLSL source here.
func sources(t *testing.T) []string {
	t.Helper()
	comps, err := filepath.Glob("*.comp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range comps {
		names = append(names, strings.TrimSuffix(c, ".comp"))
	}
	return names
}

// TestSourcesMatchEmbedded checks that every .comp has an embedded .spv and
// every embedded .spv has its .comp.
func TestSourcesMatchEmbedded(t *testing.T) {
	src, emb := sources(t), Names()
	for _, n := range src {
		if !slices.Contains(emb, n) {
			t.Errorf("%s.comp has no %s.spv: run `go generate ./shaders`", n, n)
		}
	}
	for _, n := range emb {
		if !slices.Contains(src, n) {
			t.Errorf("%s.spv has no %s.comp source", n, n)
		}
	}
	for _, n := range []string{"fill", "copy"} {
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
	for _, n := range sources(t) {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, n+".spv")
			if msg, err := exec.Command(glslc, "-O", "--target-env=vulkan1.1", "-o", out, n+".comp").CombinedOutput(); err != nil {
				t.Fatalf("glslc %s.comp: %v\n%s", n, err, msg)
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
				t.Errorf("%s.spv is stale: it differs from what glslc makes of %s.comp; run `go generate ./shaders`", n, n)
			}
		})
	}
}
