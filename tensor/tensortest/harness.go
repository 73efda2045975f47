package tensortest

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// garbage is what destinations hold before an op, so that an op that
// accumulates into its destination instead of overwriting it fails.
const garbage = 777

// harness allocates, uploads and downloads tensors for one test and frees them
// when the test ends. Errors of these basic operations end the test.
type harness struct {
	t    testing.TB
	b    tensor.Backend
	dt   tensor.DType
	live []*tensor.Tensor
}

func newHarness(t testing.TB, b tensor.Backend, dt tensor.DType) *harness {
	h := &harness{t: t, b: b, dt: dt}
	t.Cleanup(h.release)
	return h
}

// release frees every tensor the harness allocated that is not freed yet.
func (h *harness) release() {
	for _, x := range h.live {
		if !x.Freed() {
			if err := x.Free(); err != nil {
				h.t.Errorf("free %v: %v", x, err)
			}
		}
	}
	h.live = h.live[:0]
}

// zeros allocates a tensor of the harness dtype.
func (h *harness) zeros(shape ...int) *tensor.Tensor {
	h.t.Helper()
	x, err := h.b.Alloc(h.dt, tensor.Shape(shape))
	if err != nil {
		h.t.Fatalf("alloc %v %v: %v", h.dt, shape, err)
	}
	h.live = append(h.live, x)
	return x
}

// dst allocates a destination tensor filled with garbage.
func (h *harness) dst(shape ...int) *tensor.Tensor {
	h.t.Helper()
	x := h.zeros(shape...)
	if err := h.b.Fill(x, garbage); err != nil {
		h.t.Fatalf("fill %v: %v", x, err)
	}
	return x
}

// from allocates a tensor and uploads data, converted to the harness dtype.
func (h *harness) from(data []float64, shape ...int) *tensor.Tensor {
	h.t.Helper()
	x := h.zeros(shape...)
	h.upload(x, data)
	return x
}

// upload copies data, converted to x's dtype, into x.
func (h *harness) upload(x *tensor.Tensor, data []float64) {
	h.t.Helper()
	var err error
	if x.DType() == tensor.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		err = h.b.Upload(x, f)
	} else {
		err = h.b.Upload(x, append([]float64(nil), data...))
	}
	if err != nil {
		h.t.Fatalf("upload %v: %v", x, err)
	}
}

// read downloads x as float64 values.
func (h *harness) read(x *tensor.Tensor) []float64 {
	h.t.Helper()
	out := make([]float64, x.Len())
	if x.DType() == tensor.Float32 {
		f := make([]float32, x.Len())
		if err := h.b.Download(f, x); err != nil {
			h.t.Fatalf("download %v: %v", x, err)
		}
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	if err := h.b.Download(out, x); err != nil {
		h.t.Fatalf("download %v: %v", x, err)
	}
	return out
}

// round rounds v in place to the harness dtype and returns it.
func (h *harness) round(v []float64) []float64 {
	if h.dt == tensor.Float32 {
		for i := range v {
			v[i] = float64(float32(v[i]))
		}
	}
	return v
}

// newRand returns the generator of one test: PCG with a fixed seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7e57)) }

// uniform returns n values drawn uniformly from [lo, hi).
func uniform(r *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

// integers returns n integer values drawn uniformly from [lo, hi].
func integers(r *rand.Rand, n, lo, hi int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(lo + r.IntN(hi-lo+1))
	}
	return v
}

// dyadic returns n multiples of 1/64 drawn uniformly from [-1, 1]: exact in
// both dtypes, and products and short sums of them are exact in float64.
func dyadic(r *rand.Rand, n int) []float64 {
	v := integers(r, n, -64, 64)
	for i := range v {
		v[i] /= 64
	}
	return v
}

// awayFromZero returns n values with |v| in [0.1, 1], either sign.
func awayFromZero(r *rand.Rand, n int) []float64 {
	v := uniform(r, n, 0.1, 1)
	for i := range v {
		if r.IntN(2) == 0 {
			v[i] = -v[i]
		}
	}
	return v
}
