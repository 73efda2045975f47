package tensor

import "fmt"

// Storage is a backend's memory behind a tensor. Only backends implement and
// use it; users see *Tensor.
type Storage interface {
	// Release returns the memory to the backend. It is called once, by Free.
	Release() error
}

// buffer is the storage shared by a tensor and the views made by Reshape.
type buffer struct {
	owner Backend
	store Storage
	freed bool
}

// Tensor is a handle to an n-dimensional array that lives in a backend's memory
// (host memory for the CPU backend, device memory for Vulkan). A tensor has a
// shape, a dtype and an owning backend; its contents move only through
// Backend.Upload and Backend.Download. Like any Go value, a Tensor may be
// read by several goroutines at once (as an op input, by Download, Shape or
// Reshape), but writing it (as an op's destination, by Upload, Fill or Free)
// while another goroutine uses it is a race; see Backend.
type Tensor struct {
	shape Shape
	dtype DType
	buf   *buffer
}

// NewTensor wraps backend memory in a handle. It is for backend implementations:
// users call Backend.Alloc.
func NewTensor(owner Backend, dt DType, shape Shape, s Storage) *Tensor {
	return &Tensor{shape: shape.Clone(), dtype: dt, buf: &buffer{owner: owner, store: s}}
}

// Shape returns a copy of the tensor's dimensions.
func (t *Tensor) Shape() Shape { return t.shape.Clone() }

// Dim returns dimension i; negative i counts from the end (-1 is the last).
// It panics if i is out of range, like a slice index.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int { return t.shape.Len() }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Backend returns the backend that owns the tensor's memory, or nil for a zero
// Tensor.
func (t *Tensor) Backend() Backend {
	if t.buf == nil {
		return nil
	}
	return t.buf.owner
}

// Storage returns the backend memory behind the tensor, or nil once freed.
// It is for backend implementations.
func (t *Tensor) Storage() Storage {
	if t.buf == nil || t.buf.freed {
		return nil
	}
	return t.buf.store
}

// Freed reports whether Free was called on this tensor or on a view sharing
// its memory.
func (t *Tensor) Freed() bool { return t.buf == nil || t.buf.freed }

// Free releases the tensor's memory. Views made by Reshape share that memory and
// become unusable too. Freeing twice, or freeing a zero Tensor, returns an
// ErrFreed error.
func (t *Tensor) Free() error {
	if t.Freed() {
		return fmt.Errorf("free %v tensor %v: %w", t.dtype, t.shape, ErrFreed)
	}
	t.buf.freed = true
	return t.buf.store.Release()
}

// Reshape returns a view of the same memory with another shape of the same
// element count. It returns an ErrShape error if the counts differ or the shape
// is invalid, and an ErrFreed error on a freed tensor.
func (t *Tensor) Reshape(s Shape) (*Tensor, error) {
	if t.Freed() {
		return nil, fmt.Errorf("reshape: %w", ErrFreed)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("reshape: %w", err)
	}
	if s.Len() != t.Len() {
		return nil, fmt.Errorf("reshape %v (%d elements) to %v (%d elements): %w", t.shape, t.Len(), s, s.Len(), ErrShape)
	}
	return &Tensor{shape: s.Clone(), dtype: t.dtype, buf: t.buf}, nil
}

// String describes the tensor as "float32[2 3]".
func (t *Tensor) String() string { return t.dtype.String() + t.shape.String() }
