//go:build cgo

package gpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestConformanceAddressed runs the conformance suite with the binding range
// forced down to 256 bytes, so that almost every dispatch touches a tensor
// "larger than one binding" and runs its shader's _addr variant through
// device addresses, as tensors over maxStorageBufferRange do for real.
func TestConformanceAddressed(t *testing.T) {
	b := vktest.Open(t)
	if !b.HasAddresses() {
		t.Skipf("device %q has no device addresses (VK_KHR_buffer_device_address)", b.Info().Name)
	}
	b.SetBindLimit(256)
	tensortest.RunAll(t, b, tensor.Float32)
	if s := b.Stats(); s.Addressed == 0 {
		t.Fatalf("no dispatch went through device addresses: %v", s)
	} else {
		t.Logf("%d of %d dispatches through device addresses", s.Addressed, s.Dispatches)
	}
}

// TestTensorBeyondBindingRange runs ops on a real tensor 4 MiB larger than
// the device's maxStorageBufferRange (128 MiB on lavapipe): upload,
// elementwise ops, a sum and download, checked exactly.
func TestTensorBeyondBindingRange(t *testing.T) {
	b := vktest.Open(t)
	if !b.HasAddresses() {
		t.Skipf("device %q has no device addresses (VK_KHR_buffer_device_address)", b.Info().Name)
	}
	limit := b.BindLimit()
	if limit > 1<<30 {
		t.Skipf("maxStorageBufferRange is %d bytes; TestConformanceAddressed covers the path", limit)
	}
	n := int(limit/4) + 1<<20
	x, err := b.Alloc(tensor.Float32, tensor.Shape{n})
	if err != nil {
		t.Fatalf("alloc of %d floats (%d bytes, binding limit %d): %v", n, 4*n, limit, err)
	}
	defer x.Free()
	y, err := b.Alloc(tensor.Float32, tensor.Shape{n})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Free()
	s, err := b.Alloc(tensor.Float32, tensor.Shape{1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	host := make([]float32, n)
	want := 0.0
	for i := range host {
		host[i] = float32(i%1000) - 500
		want += 3 * float64(host[i])
	}
	b.ResetStats()
	if err := b.Upload(x, host); err != nil {
		t.Fatal(err)
	}
	if err := b.Scale(y, x, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(y, y, x); err != nil {
		t.Fatal(err)
	}
	if err := b.Sum(s, y); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	if err := b.Download(got, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != 3*host[i] {
			t.Fatalf("y[%d] = %v, want %v (3·x)", i, v, 3*host[i])
		}
	}
	sum := make([]float32, 1)
	if err := b.Download(sum, s); err != nil {
		t.Fatal(err)
	}
	if sum[0] != float32(want) {
		t.Errorf("sum = %v, want %v", sum[0], want)
	}
	if st := b.Stats(); st.Addressed < 3 {
		t.Errorf("%d dispatches through device addresses, want at least 3 (scale, add, sum): %v", st.Addressed, st)
	}
}
