//go:build cgo

package gpu_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestConformanceAddressed runs the conformance suite with the binding range
// forced down to 4 bytes, so that every dispatch that touches a tensor of
// more than one element counts it "larger than one binding" and runs its
// shader's _addr variant through device addresses, as tensors over
// maxStorageBufferRange do for real.
func TestConformanceAddressed(t *testing.T) {
	b := vktest.Open(t)
	if !b.HasAddresses() {
		t.Skipf("device %q has no device addresses (VK_KHR_buffer_device_address)", b.Info().Name)
	}
	b.SetBindLimit(4)
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

// TestBeyondBindingUnsupported checks the error of the one shader without a
// device-address variant (view_compose) on a tensor past the binding range,
// and that batched optimizer steps with such a parameter still run (one by
// one) and match the single steps.
func TestBeyondBindingUnsupported(t *testing.T) {
	b := vktest.Open(t)
	if !b.HasAddresses() {
		t.Skipf("device %q has no device addresses", b.Info().Name)
	}
	img, err := b.Alloc(tensor.Float32, tensor.Shape{1024})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Free()
	defer b.SetBindLimit(b.SetBindLimit(1024))
	err = b.Compose([]uint32{0, 32, 32, 0, 0, 0, 32, 32, 0xff0000}, b.Groups1D(32*32, 256), img, img)
	if !errors.Is(err, tensor.ErrUnsupported) {
		t.Fatalf("compose on a 4 KiB tensor with a 1 KiB binding range: %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"compose", "view_compose", "4 KiB", "maxStorageBufferRange 1 KiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// SGDSteps over a small and a big parameter against SGDStep.
	o := tensor.SGDParams{LR: 0.1, Momentum: 0.9}
	sizes := []int{100, 1000}
	var ps, gs, vs, qs, hs, us []*tensor.Tensor
	for i, n := range sizes {
		data := make([]float32, n)
		for j := range data {
			data[j] = float32((j*7+i)%13) - 6
		}
		for _, list := range []*[]*tensor.Tensor{&ps, &gs, &vs, &qs, &hs, &us} {
			x, err := b.Alloc(tensor.Float32, tensor.Shape{n})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Free()
			if err := b.Upload(x, data); err != nil {
				t.Fatal(err)
			}
			*list = append(*list, x)
		}
	}
	before := b.Stats().Addressed
	if err := b.SGDSteps(ps, gs, vs, o); err != nil {
		t.Fatal(err)
	}
	for i := range qs {
		if err := b.SGDStep(qs[i], hs[i], us[i], o); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Stats().Addressed - before; n != 2 {
		t.Errorf("%d dispatches through device addresses, want 2 (the big parameter's batched and single step)", n)
	}
	for i, n := range sizes {
		got, want := make([]float32, n), make([]float32, n)
		if err := b.Download(got, ps[i]); err != nil {
			t.Fatal(err)
		}
		if err := b.Download(want, qs[i]); err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("parameter %d [%d]: batched %v, single %v", i, j, got[j], want[j])
			}
		}
	}
}
