//go:build cgo

package gpu_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// alloc allocates a float32 tensor or fails t.
func alloc(t *testing.T, b *gpu.Backend, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := b.Alloc(tensor.Float32, shape)
	if err != nil {
		t.Fatalf("Alloc %v: %v", shape, err)
	}
	return x
}

// download returns the contents of x or fails t.
func download(t *testing.T, b *gpu.Backend, x *tensor.Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Len())
	if err := b.Download(v, x); err != nil {
		t.Fatalf("Download %v: %v", x, err)
	}
	return v
}

func upload(t *testing.T, b *gpu.Backend, x *tensor.Tensor, v []float32) {
	t.Helper()
	if err := b.Upload(x, v); err != nil {
		t.Fatalf("Upload %v: %v", x, err)
	}
}

func random(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// floatBytes views v as bytes, for fast comparisons.
func floatBytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// firstDiff reports the first index where got and want differ, or -1.
func firstDiff(got, want []float32) int {
	for i := range want {
		if got[i] != want[i] {
			return i
		}
	}
	return -1
}

func TestAllocErrors(t *testing.T) {
	b := vktest.Open(t)
	cases := []struct {
		dt    tensor.DType
		shape tensor.Shape
		want  error
	}{
		{tensor.Float64, tensor.Shape{3}, tensor.ErrDType},
		{tensor.DType(9), tensor.Shape{3}, tensor.ErrDType},
		{tensor.Float32, tensor.Shape{3, 0}, tensor.ErrShape},
		{tensor.Float32, tensor.Shape{-1}, tensor.ErrShape},
		{tensor.Float32, tensor.Shape{1 << 20, 1 << 20, 1 << 4}, tensor.ErrShape},
		{tensor.Float32, tensor.Shape{1 << 36}, tensor.ErrOutOfMemory},
		{tensor.Float32, tensor.Shape{int(b.Mem().MaxTensor/4) + 1}, tensor.ErrOutOfMemory},
	}
	for _, c := range cases {
		x, err := b.Alloc(c.dt, c.shape)
		if !errors.Is(err, c.want) {
			t.Errorf("Alloc(%v, %v) = %v, %v; want an error wrapping %v", c.dt, c.shape, x, err, c.want)
		}
	}
	// The backend still works after the failures.
	x := alloc(t, b, 5)
	if err := b.Fill(x, 2); err != nil {
		t.Fatal(err)
	}
	if v := download(t, b, x); v[4] != 2 {
		t.Errorf("after failed allocations: got %v, want 2s", v)
	}
}

// TestAllocZeroed checks that Alloc zero-fills, also when it reuses the memory
// of a freed tensor.
func TestAllocZeroed(t *testing.T) {
	b := vktest.Open(t)
	for round := range 3 {
		x := alloc(t, b, 7, 9)
		if v := download(t, b, x); firstDiff(v, make([]float32, 63)) >= 0 {
			t.Fatalf("round %d: fresh tensor not zero: %v", round, v)
		}
		if err := b.Fill(x, -3.5); err != nil {
			t.Fatal(err)
		}
		if err := x.Free(); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPooling checks that many tensors come from few device allocations, and
// that freed memory is reused rather than allocated again.
func TestPooling(t *testing.T) {
	b := vktest.Open(t)
	before := b.Mem()
	var xs []*tensor.Tensor
	for i := range 200 {
		xs = append(xs, alloc(t, b, 1+i%37, 3))
	}
	mid := b.Mem()
	if mid.Blocks != 1 || mid.Allocs-before.Allocs > 1 || mid.Live != 200 {
		t.Errorf("200 small tensors: %+v, want 1 block, at most one new device allocation, 200 live", mid)
	}
	for _, x := range xs {
		if err := x.Free(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if s := b.Mem(); s.Pending != 0 || s.Live != 0 {
		t.Errorf("after freeing all and Sync: %+v, want nothing pending or live", s)
	}
	for i := range 200 {
		x := alloc(t, b, 1+i%37, 3)
		defer x.Free()
	}
	if s := b.Mem(); s.Allocs != mid.Allocs || s.Blocks != 1 {
		t.Errorf("reallocating 200 tensors made new device allocations: %+v, before %+v", s, mid)
	}
	if err := xs[0].Free(); !errors.Is(err, tensor.ErrFreed) {
		t.Errorf("second Free = %v, want ErrFreed", err)
	}
}

// TestFreedMemoryNotReusedEarly frees a tensor that recorded work still reads
// and immediately allocates and overwrites a new one of the same size: the
// pending copy must still see the old contents.
func TestFreedMemoryNotReusedEarly(t *testing.T) {
	b := vktest.Open(t)
	const n = 1000
	want := random(n, 1)
	src := alloc(t, b, n)
	upload(t, b, src, want)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	dst := alloc(t, b, n)
	if err := b.Copy(dst, src); err != nil { // recorded, not yet run
		t.Fatal(err)
	}
	if err := src.Free(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		y := alloc(t, b, n)
		if err := b.Fill(y, 7); err != nil {
			t.Fatal(err)
		}
		defer y.Free()
	}
	if i := firstDiff(download(t, b, dst), want); i >= 0 {
		t.Fatalf("copy of a freed tensor saw overwritten memory at %d", i)
	}
}

// TestBigRoundTrip moves a tensor of over half a pool block (so it gets its
// own allocation) through Upload and Download in several staging chunks.
func TestBigRoundTrip(t *testing.T) {
	b := vktest.Open(t)
	defer gpu.SetStageChunk(gpu.SetStageChunk(5 << 20))
	n := int(b.Mem().BlockSize/4/2) + 12345 // over half a block: its own allocation
	want := make([]float32, n)
	for i := range want {
		want[i] = float32(i%1000003) - 0.5
	}
	x := alloc(t, b, n)
	blocks := b.Mem().Blocks
	upload(t, b, x, want)
	if got := download(t, b, x); !bytes.Equal(floatBytes(got), floatBytes(want)) {
		t.Fatalf("round trip of %d floats differs at %d", n, firstDiff(got, want))
	}
	if err := x.Free(); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if s := b.Mem(); s.Blocks != blocks-1 {
		t.Errorf("freeing a dedicated tensor left %d blocks, want %d", s.Blocks, blocks-1)
	}
}

// TestUploadSnapshot checks that Upload copies the host data at once: the
// slice may change right after, before any submit.
func TestUploadSnapshot(t *testing.T) {
	b := vktest.Open(t)
	v := []float32{1, 2, 3}
	x, y := alloc(t, b, 3), alloc(t, b, 3)
	upload(t, b, x, v)
	v[0] = 99
	upload(t, b, y, v)
	if got := download(t, b, x); got[0] != 1 {
		t.Errorf("x = %v, want [1 2 3]", got)
	}
	if got := download(t, b, y); got[0] != 99 {
		t.Errorf("y = %v, want [99 2 3]", got)
	}
}

// TestManyUploads fills the staging buffer several times over between syncs.
func TestManyUploads(t *testing.T) {
	b := vktest.Open(t)
	const n = 300_000 // 1.2 MB each
	var xs []*tensor.Tensor
	for i := range 6 {
		x := alloc(t, b, n)
		upload(t, b, x, random(n, uint64(10+i)))
		xs = append(xs, x)
	}
	for i, x := range xs {
		if j := firstDiff(download(t, b, x), random(n, uint64(10+i))); j >= 0 {
			t.Fatalf("tensor %d differs at %d", i, j)
		}
	}
}

func TestHostDataErrors(t *testing.T) {
	b := vktest.Open(t)
	x := alloc(t, b, 2, 3)
	c := cpu.New()
	defer c.Close()
	foreign, err := c.Alloc(tensor.Float32, tensor.Shape{6})
	if err != nil {
		t.Fatal(err)
	}
	freed := alloc(t, b, 6)
	freed.Free()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"upload short", b.Upload(x, make([]float32, 5)), tensor.ErrShape},
		{"upload float64", b.Upload(x, make([]float64, 6)), tensor.ErrDType},
		{"upload ints", b.Upload(x, []int{1}), tensor.ErrDType},
		{"upload nil tensor", b.Upload(nil, make([]float32, 6)), tensor.ErrShape},
		{"upload foreign", b.Upload(foreign, make([]float32, 6)), tensor.ErrBackend},
		{"upload freed", b.Upload(freed, make([]float32, 6)), tensor.ErrFreed},
		{"download long", b.Download(make([]float32, 7), x), tensor.ErrShape},
		{"download float64", b.Download(make([]float64, 6), x), tensor.ErrDType},
		{"download foreign", b.Download(make([]float32, 6), foreign), tensor.ErrBackend},
		{"download freed", b.Download(make([]float32, 6), freed), tensor.ErrFreed},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want an error wrapping %v", c.name, c.err, c.want)
		}
	}
}

func TestScratch(t *testing.T) {
	b := vktest.Open(t)
	s, err := b.Scratch(1000)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1000 || s.DType() != tensor.Float32 || s.Backend() != tensor.Backend(b) {
		t.Errorf("Scratch(1000) = %v owned by %v", s, s.Backend())
	}
	if err := b.Fill(s, 4); err != nil {
		t.Fatal(err)
	}
	if v := download(t, b, s); v[999] != 4 {
		t.Errorf("scratch contents %v, want 4s", v[999])
	}
	if err := s.Free(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Scratch(0); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Scratch(0) = %v, want ErrShape", err)
	}
}

// TestScratchChurn allocates, uses and frees a scratch tensor per op, as ops
// do: freed memory must come back once its batch completes, so the pool does
// not grow with the number of ops.
func TestScratchChurn(t *testing.T) {
	b := vktest.Open(t)
	x := alloc(t, b, 1000)
	for i := range 3000 {
		s, err := b.Scratch(1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Fill(s, float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := b.Copy(x, s); err != nil {
			t.Fatal(err)
		}
		if err := s.Free(); err != nil {
			t.Fatal(err)
		}
	}
	if v := download(t, b, x); v[999] != 2999 {
		t.Errorf("x = %v, want 2999", v[999])
	}
	if s := b.Mem(); s.Blocks != 1 || s.Pending != 0 || s.Live != 1 {
		t.Errorf("after 3000 scratch tensors: %+v, want 1 block, nothing pending, 1 live tensor", s)
	}
}

// TestMemoryBudget fills a budget of two blocks, checks that more fails with
// ErrOutOfMemory, and that memory freed with work still pending is waited
// for and reused rather than reported as exhausted.
func TestMemoryBudget(t *testing.T) {
	probe := vktest.Open(t)
	block := probe.Mem().BlockSize
	b := vktest.Open(t, gpu.MemoryBudget(2*block))
	quarter := int(block / 4 / 4) // a quarter block, in floats
	var xs []*tensor.Tensor
	for range 8 {
		xs = append(xs, alloc(t, b, quarter))
	}
	if _, err := b.Alloc(tensor.Float32, tensor.Shape{quarter}); !errors.Is(err, tensor.ErrOutOfMemory) || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("allocating beyond the budget: %v, want ErrOutOfMemory naming the budget", err)
	}
	if _, err := b.Alloc(tensor.Float32, tensor.Shape{int(block / 4)}); !errors.Is(err, tensor.ErrOutOfMemory) {
		t.Fatalf("a dedicated allocation beyond the budget: %v, want ErrOutOfMemory", err)
	}
	// Free a tensor that recorded work still uses: the next allocation must
	// wait for that work and reuse its memory.
	if err := b.Fill(xs[3], 1); err != nil {
		t.Fatal(err)
	}
	if err := xs[3].Free(); err != nil {
		t.Fatal(err)
	}
	xs[3] = alloc(t, b, quarter)
	if s := b.Mem(); s.Used > 2*block {
		t.Errorf("used %d bytes, over the budget of %d", s.Used, 2*block)
	}
	// With everything freed, a dedicated allocation of a whole block fits
	// once the empty pooled blocks are given back.
	for _, x := range xs {
		x.Free()
	}
	big := alloc(t, b, int(block/4)*2)
	if s := b.Mem(); s.Used > 2*block || s.Blocks != 1 {
		t.Errorf("after a 2-block allocation: %+v, want one block within the budget", s)
	}
	big.Free()
}

// BenchmarkTransfer measures Upload and Download of a 16 MiB tensor (MB/s
// from b.SetBytes).
func BenchmarkTransfer(b *testing.B) {
	be := vktest.Open(b)
	const n = 4 << 20
	x, err := be.Alloc(tensor.Float32, tensor.Shape{n})
	if err != nil {
		b.Fatal(err)
	}
	v := make([]float32, n)
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(4 * n)
		for b.Loop() {
			if err := be.Upload(x, v); err != nil {
				b.Fatal(err)
			}
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("download", func(b *testing.B) {
		b.SetBytes(4 * n)
		for b.Loop() {
			if err := be.Download(v, x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
