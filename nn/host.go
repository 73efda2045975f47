package nn

import (
	"fmt"

	"github.com/vkcnn/vkcnn/tensor"
)

// HostTensor is an array in host memory: the form in which tensors are read
// from and written to files (safetensors, .npy) and moved to and from a
// backend.
type HostTensor struct {
	// Shape lists the dimensions, outermost first; an empty shape is a scalar.
	Shape tensor.Shape
	// Data is a []float32 or []float64 with Shape.Len() elements in row-major
	// (C) order, or a []int64 for an integer buffer such as BatchNorm's
	// num_batches_tracked (safetensors files only).
	Data any
}

// DType returns Float32 or Float64 from Data's type, or 0 for anything else
// ([]int64 included).
func (h HostTensor) DType() tensor.DType {
	switch h.Data.(type) {
	case []float32:
		return tensor.Float32
	case []float64:
		return tensor.Float64
	}
	return 0
}

// Float64s returns the elements converted to float64 (a copy).
func (h HostTensor) Float64s() []float64 {
	switch d := h.Data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	case []int64:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	}
	return nil
}

// check returns an error unless Data is a float (or int64) slice of
// Shape.Len() elements.
func (h HostTensor) check(what string) error {
	if _, isInt := h.Data.([]int64); h.DType() == 0 && !isInt {
		return fmt.Errorf("%s: data is %T, expected []float32, []float64 or []int64: %w", what, h.Data, tensor.ErrDType)
	}
	for i, d := range h.Shape {
		if d < 0 {
			return fmt.Errorf("%s: shape %v: dimension %d is negative: %w", what, h.Shape, i, tensor.ErrShape)
		}
	}
	if n := hostLen(h.Data); n != h.Shape.Len() {
		return fmt.Errorf("%s: %d elements, expected %d for shape %v: %w", what, n, h.Shape.Len(), h.Shape, tensor.ErrShape)
	}
	return nil
}

// hostLen returns the length of a []float32, []float64 or []int64, or -1.
func hostLen(data any) int {
	switch d := data.(type) {
	case []int64:
		return len(d)
	case []float32:
		return len(d)
	case []float64:
		return len(d)
	}
	return -1
}

// convertHost returns data (a []float32 or []float64 of n elements) as a slice
// of dtype dt, converting when the types differ.
func convertHost(data any, dt tensor.DType, n int, what string) (any, error) {
	h := HostTensor{Shape: tensor.Shape{n}, Data: data}
	if err := h.check(what); err != nil {
		return nil, err
	}
	switch {
	case h.DType() == 0:
		return nil, fmt.Errorf("%s: data is %T, expected []float32 or []float64: %w", what, h.Data, tensor.ErrDType)
	case h.DType() == dt:
		return data, nil
	case dt == tensor.Float32:
		d := data.([]float64)
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	case dt == tensor.Float64:
		return h.Float64s(), nil
	}
	return nil, fmt.Errorf("%s: dtype %v, expected float32 or float64: %w", what, dt, tensor.ErrDType)
}

// ToHost downloads t into a new HostTensor of the same shape and dtype. It
// returns the backend's Download errors (tensor.ErrFreed for a freed tensor).
func ToHost(t *tensor.Tensor) (HostTensor, error) {
	if t == nil {
		return HostTensor{}, fmt.Errorf("to host: nil tensor: %w", tensor.ErrShape)
	}
	h := HostTensor{Shape: t.Shape()}
	switch t.DType() {
	case tensor.Float32:
		h.Data = make([]float32, t.Len())
	case tensor.Float64:
		h.Data = make([]float64, t.Len())
	default:
		return h, fmt.Errorf("to host: tensor dtype %v: %w", t.DType(), tensor.ErrDType)
	}
	return h, t.Backend().Download(h.Data, t)
}

// FromHost allocates a tensor of h's shape on b with dtype dt and uploads h
// into it, converting between float32 and float64 as needed. Errors: a
// tensor.ErrShape or ErrDType error for data that does not match h.Shape, and
// the backend's Alloc and Upload errors.
func FromHost(b tensor.Backend, dt tensor.DType, h HostTensor) (*tensor.Tensor, error) {
	if err := h.check("from host"); err != nil {
		return nil, err
	}
	data, err := convertHost(h.Data, dt, h.Shape.Len(), "from host")
	if err != nil {
		return nil, err
	}
	t, err := b.Alloc(dt, h.Shape)
	if err != nil {
		return nil, err
	}
	if err := b.Upload(t, data); err != nil {
		t.Free()
		return nil, err
	}
	return t, nil
}
