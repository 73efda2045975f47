//go:build cgo

package gpu_test

import (
	"errors"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

func TestGroups1D(t *testing.T) {
	b := vktest.Open(t)
	max := b.MaxGroups()
	if max[0] < 65535 || max[1] < 65535 || max[2] < 65535 {
		t.Errorf("maxComputeWorkGroupCount %v, below the Vulkan minimum 65535", max)
	}
	for _, c := range []struct {
		n, local int
		want     [3]uint32
	}{
		{0, 256, [3]uint32{0, 1, 1}},
		{1, 256, [3]uint32{1, 1, 1}},
		{256, 256, [3]uint32{1, 1, 1}},
		{257, 256, [3]uint32{2, 1, 1}},
		{1000, 64, [3]uint32{16, 1, 1}},
	} {
		if got := b.Groups1D(c.n, c.local); got != c.want {
			t.Errorf("Groups1D(%d, %d) = %v, want %v", c.n, c.local, got, c.want)
		}
	}
	b.SetMaxGroups([3]uint32{5, 3, 100})
	for _, n := range []int{1, 5 * 256, 5*256 + 1, 15 * 256, 15*256 + 1, 100 * 256, 5 * 3 * 100 * 256} {
		g := b.Groups1D(n, 256)
		covered := uint64(g[0]) * uint64(g[1]) * uint64(g[2]) * 256
		if g[0] > 5 || g[1] > 3 || g[2] > 100 || covered < uint64(n) || covered >= uint64(n)+uint64(g[0])*uint64(g[1])*256 {
			t.Errorf("Groups1D(%d, 256) with limits [5 3 100] = %v, covering %d invocations", n, g, covered)
		}
	}
}

// TestFillFolded runs the fill shader over a grid folded into y and z by
// lowering the workgroup limits, and checks every element was written once.
func TestFillFolded(t *testing.T) {
	b := vktest.Open(t)
	b.SetMaxGroups([3]uint32{3, 2, 65535})
	const n = 256*20 + 17 // 21 groups: 3 x 2 x 4
	x := alloc(t, b, n+64)
	if g := b.Groups1D(n, 256); g != [3]uint32{3, 2, 4} {
		t.Fatalf("Groups1D = %v, want [3 2 4]", g)
	}
	if err := b.Dispatch("fill", nil, []uint32{n, math.Float32bits(1.5)}, b.Groups1D(n, 256), x); err != nil {
		t.Fatal(err)
	}
	v := download(t, b, x)
	for i, f := range v {
		if want := float32(1.5); i >= n {
			want = 0
			if f != want {
				t.Fatalf("element %d beyond n = %v, want untouched 0", i, f)
			}
		} else if f != want {
			t.Fatalf("element %d = %v, want %v", i, f, want)
		}
	}
}

// TestFillCopyExact checks that Fill and Copy move float32 bit patterns
// exactly, subnormals and NaN included.
func TestFillCopyExact(t *testing.T) {
	b := vktest.Open(t)
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-40, -3.25, math.Inf(-1), 3.4e38, 1e300} {
		x, y := alloc(t, b, 3, 5), alloc(t, b, 15)
		if err := b.Fill(x, v); err != nil {
			t.Fatal(err)
		}
		if err := b.Copy(y, x); err != nil {
			t.Fatal(err)
		}
		want := math.Float32bits(float32(v))
		for i, f := range download(t, b, y) {
			if math.Float32bits(f) != want {
				t.Fatalf("Fill(%v) then Copy: element %d has bits %#x, want %#x", v, i, math.Float32bits(f), want)
			}
		}
	}
	nan := alloc(t, b, 4)
	if err := b.Fill(nan, math.NaN()); err != nil {
		t.Fatal(err)
	}
	if v := download(t, b, nan); !math.IsNaN(float64(v[3])) {
		t.Errorf("Fill(NaN) = %v", v)
	}
}

func TestCopyAliasAndShapes(t *testing.T) {
	b := vktest.Open(t)
	x := alloc(t, b, 2, 3)
	want := []float32{1, 2, 3, 4, 5, 6}
	upload(t, b, x, want)
	if err := b.Copy(x, x); err != nil {
		t.Fatal(err)
	}
	view, err := x.Reshape(tensor.Shape{6})
	if err != nil {
		t.Fatal(err)
	}
	y := alloc(t, b, 3, 2)
	if err := b.Copy(y, view); err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(download(t, b, y), want); i >= 0 {
		t.Errorf("copy through a view differs at %d", i)
	}
	if err := b.Copy(alloc(t, b, 5), x); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Copy with 5 vs 6 elements = %v, want ErrShape", err)
	}
}

// TestBatches records more commands than one batch holds; they must run in
// order across the automatic submits, with pipelines built once.
func TestBatches(t *testing.T) {
	b := vktest.Open(t)
	x, y := alloc(t, b, 100), alloc(t, b, 100)
	submits0, _, _ := b.StreamStats()
	const n = 700
	for i := range n {
		if err := b.Fill(x, float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := b.Copy(y, x); err != nil {
			t.Fatal(err)
		}
	}
	if v := download(t, b, y); v[99] != n-1 {
		t.Fatalf("after %d fills and copies y = %v, want %d", n, v[99], n-1)
	}
	submits, pipes, mods := b.StreamStats()
	if submits-submits0 < 2*n/256 {
		t.Errorf("%d commands made %d submits, want at least %d", 2*n, submits-submits0, 2*n/256)
	}
	if pipes != 2 || mods != 2 {
		t.Errorf("%d pipelines and %d shader modules cached, want 2 and 2", pipes, mods)
	}
	// Another set of specialization constants is another pipeline.
	if err := b.Dispatch("fill", []uint32{7}, []uint32{100, 0}, [3]uint32{1, 1, 1}, x); err != nil {
		t.Fatal(err)
	}
	if _, pipes, mods := b.StreamStats(); pipes != 3 || mods != 2 {
		t.Errorf("after a new spec: %d pipelines, %d modules, want 3 and 2", pipes, mods)
	}
}

func TestDispatchErrors(t *testing.T) {
	b := vktest.Open(t)
	x := alloc(t, b, 10)
	freed := alloc(t, b, 10)
	freed.Free()
	one := [3]uint32{1, 1, 1}
	max := b.MaxGroups()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"33 push words", b.Dispatch("fill", nil, make([]uint32, 33), one, x), tensor.ErrParam},
		{"too many groups", b.Dispatch("fill", nil, []uint32{10, 0}, [3]uint32{max[0] + 1, 1, 1}, x), tensor.ErrParam},
		{"too many buffers", b.Dispatch("fill", nil, []uint32{10, 0}, one, make([]*tensor.Tensor, 65)...), tensor.ErrParam},
		{"unknown shader", b.Dispatch("no_such_shader", nil, nil, one, x), tensor.ErrUnsupported},
		{"nil buffer", b.Dispatch("fill", nil, []uint32{10, 0}, one, nil), tensor.ErrShape},
		{"freed buffer", b.Dispatch("fill", nil, []uint32{10, 0}, one, freed), tensor.ErrFreed},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want an error wrapping %v", c.name, c.err, c.want)
		}
	}
	// Zero groups record nothing and succeed.
	if err := b.Dispatch("fill", nil, []uint32{10, 0}, [3]uint32{0, 1, 1}, x); err != nil {
		t.Errorf("zero groups: %v", err)
	}
	if err := b.Sync(); err != nil {
		t.Errorf("Sync after the failed dispatches: %v", err)
	}
}

// BenchmarkDispatch measures the cost of one small dispatch (a 256-element
// fill) including its share of submits and device time, and of a
// submit-and-wait round trip (Sync after one dispatch).
func BenchmarkDispatch(b *testing.B) {
	be := vktest.Open(b)
	x, err := be.Alloc(tensor.Float32, tensor.Shape{256})
	if err != nil {
		b.Fatal(err)
	}
	push := []uint32{256, math.Float32bits(1)}
	groups := be.Groups1D(256, 256)
	b.Run("batched", func(b *testing.B) {
		for b.Loop() {
			if err := be.Dispatch("fill", nil, push, groups, x); err != nil {
				b.Fatal(err)
			}
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("sync", func(b *testing.B) {
		for b.Loop() {
			if err := be.Dispatch("fill", nil, push, groups, x); err != nil {
				b.Fatal(err)
			}
			if err := be.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
