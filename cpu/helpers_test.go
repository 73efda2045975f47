package cpu

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// dtypeOf returns the tensor dtype of T.
func dtypeOf[T scalar]() tensor.DType {
	var z T
	if _, ok := any(z).(float32); ok {
		return tensor.Float32
	}
	return tensor.Float64
}

// tol is a relative tolerance suited to T's precision.
func tol[T scalar]() float64 {
	if dtypeOf[T]() == tensor.Float32 {
		return 1e-5
	}
	return 1e-12
}

// put allocates a tensor of the shape and uploads vals (converted to T).
func put[T scalar](t *testing.T, b *Backend, shape tensor.Shape, vals ...float64) *tensor.Tensor {
	t.Helper()
	x, err := b.Alloc(dtypeOf[T](), shape)
	if err != nil {
		t.Fatalf("alloc %v: %v", shape, err)
	}
	if vals == nil {
		return x
	}
	d := make([]T, len(vals))
	for i, v := range vals {
		d[i] = T(v)
	}
	if err := b.Upload(x, d); err != nil {
		t.Fatalf("upload %v: %v", shape, err)
	}
	return x
}

// get downloads x as float64 values.
func get[T scalar](t *testing.T, b *Backend, x *tensor.Tensor) []float64 {
	t.Helper()
	d := make([]T, x.Len())
	if err := b.Download(d, x); err != nil {
		t.Fatalf("download %v: %v", x, err)
	}
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// near fails t unless got and want agree element by element within rel
// relative (or absolute, near zero) error.
func near(t *testing.T, what string, got, want []float64, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); !(d <= rel*math.Max(1, math.Abs(want[i]))) {
			t.Fatalf("%s: element %d is %v, want %v (got %v, want %v)", what, i, got[i], want[i], got, want)
		}
	}
}

// must fails t on a non-nil error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// both runs f as subtests for float32 and float64.
func both(t *testing.T, f32 func(*testing.T), f64 func(*testing.T)) {
	t.Run("float32", f32)
	t.Run("float64", f64)
}
