// Package cpu is the goroutine-parallel CPU backend of vkcnn: a complete
// tensor.Backend for float32 and float64 that runs everywhere Go runs, with no
// cgo and no device.
//
// Tensors live in ordinary Go slices. Every op first runs the validation that
// all backends share (tensor/check.go), so bad input gets the same error here
// as on the Vulkan backend, then runs a numeric kernel written once with
// generics over float32 and float64. Ops are synchronous: when a method
// returns, its result is in the destination tensor, and Sync only reports
// whether the backend is still open.
//
// Work is split over a fixed number of goroutines (Threads, by default
// runtime.GOMAXPROCS(0)) so that no two goroutines write the same memory.
// Matrix products run on internal/gemm, a packed GEMM with AVX-512 and AVX2
// micro-kernels chosen at run time and a pure-Go fallback (gemm.go).
// Convolutions run one GEMM per image and group over its im2col matrix,
// which they gather from a padded copy of the image straight into the
// GEMM's packed panels (conv.go); reductions over float32 data (sums, bias
// gradients, losses, softmax denominators) accumulate in float64.
package cpu

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
)

// scalar is the set of element types the kernels are written for.
type scalar interface {
	float32 | float64
}

// Backend is the CPU implementation of tensor.Backend. Create it with New.
//
// Every method is safe to call from many goroutines at once, and each op
// splits its own work over goroutines too. The backend's only mutable state
// is whether it is closed (an atomic flag); what ops keep between calls is
// safe to share (scratch buffers from sync.Pools, one buffer per call; the
// per-geometry convolution tables, immutable and cached under a mutex), so
// concurrent calls run in parallel, without a backend lock, and give the
// results they give alone. Several goroutines calling ops at once each split
// their work over Threads goroutines, so they compete for the CPUs.
type Backend struct {
	threads   int
	memLimit  int64
	colBudget int // elements per im2col band (conv.go)
	// inputGrad forces a method of Conv2DInputGrad (conv.go) for tests:
	// igAuto, igForward or igCol2im.
	inputGrad int
	closed    atomic.Bool
}

var _ tensor.Backend = (*Backend)(nil)

// Option configures a Backend in New.
type Option func(*Backend)

// Threads sets how many goroutines an op splits its work over. n < 1 selects
// the default, runtime.GOMAXPROCS(0) at the time New is called. The matrix
// products inside convolutions and MatMul may add goroutines of their own (see
// gemm.go), up to runtime.GOMAXPROCS(0).
func Threads(n int) Option {
	return func(b *Backend) { b.threads = n }
}

// MemoryLimit sets the largest single tensor, in bytes, that Alloc accepts;
// larger requests return tensor.ErrOutOfMemory. bytes < 1 selects the default:
// the machine's physical memory where it can be read (Linux), else no limit
// beyond what the Go runtime can allocate.
func MemoryLimit(bytes int64) Option {
	return func(b *Backend) { b.memLimit = bytes }
}

// New returns a CPU backend configured by opts.
func New(opts ...Option) *Backend {
	b := &Backend{colBudget: defaultColBudget}
	for _, o := range opts {
		o(b)
	}
	if b.threads < 1 {
		b.threads = runtime.GOMAXPROCS(0)
	}
	if b.memLimit < 1 {
		b.memLimit = physicalMemory()
	}
	return b
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// Caps reports float32 and float64 support and a device name such as
// "cpu (8 threads)".
func (b *Backend) Caps() tensor.Caps {
	unit := "threads"
	if b.threads == 1 {
		unit = "thread"
	}
	return tensor.Caps{
		DTypes: []tensor.DType{tensor.Float32, tensor.Float64},
		Device: fmt.Sprintf("cpu (%d %s)", b.threads, unit),
	}
}

// Close marks the backend closed: every later call other than Name, Caps and
// Close returns an error wrapping tensor.ErrClosed. Memory is returned to the
// Go garbage collector as tensors become unreachable. Closing twice is a no-op.
func (b *Backend) Close() error {
	b.closed.Store(true)
	return nil
}

// open returns an ErrClosed error naming op once the backend is closed.
func (b *Backend) open(op string) error {
	if b.closed.Load() {
		return fmt.Errorf("%s: cpu backend: %w", op, tensor.ErrClosed)
	}
	return nil
}

// store is the tensor.Storage of the CPU backend: a Go slice.
type store[T scalar] struct {
	data []T
}

// Release drops the slice so that the garbage collector can reclaim it.
func (s *store[T]) Release() error {
	s.data = nil
	return nil
}

// data returns the slice behind t. The caller has validated t with the
// tensor package's checks: it belongs to this backend, is not freed and has
// the dtype matching T.
func data[T scalar](t *tensor.Tensor) []T {
	return t.Storage().(*store[T]).data
}

// optData is data for an optional argument: nil when t is nil.
func optData[T scalar](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	return data[T](t)
}

// Alloc returns a zero-filled tensor. It returns an ErrShape error for an
// invalid shape, ErrDType for a dtype other than float32 or float64,
// ErrOutOfMemory when the tensor is larger than the memory limit (see
// MemoryLimit) and ErrClosed after Close.
func (b *Backend) Alloc(dt tensor.DType, shape tensor.Shape) (*tensor.Tensor, error) {
	const op = "alloc"
	if err := b.open(op); err != nil {
		return nil, err
	}
	if !dt.Valid() {
		return nil, fmt.Errorf("%s: dtype %v, expected float32 or float64: %w", op, dt, tensor.ErrDType)
	}
	if err := shape.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n := shape.Len()
	if bytes := int64(n) * int64(dt.Size()); b.memLimit > 0 && bytes > b.memLimit {
		return nil, fmt.Errorf("%s: %v tensor %v needs %d bytes, more than the limit of %d bytes: %w",
			op, dt, shape, bytes, b.memLimit, tensor.ErrOutOfMemory)
	}
	var s tensor.Storage
	var err error
	if dt == tensor.Float32 {
		s, err = newStore[float32](n)
	} else {
		s, err = newStore[float64](n)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v tensor %v: %w", op, dt, shape, err)
	}
	return tensor.NewTensor(b, dt, shape, s), nil
}

// newStore allocates n zeroed elements, turning the runtime's panic for a
// length it cannot allocate into an ErrOutOfMemory error.
func newStore[T scalar](n int) (s *store[T], err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%d elements: %v: %w", n, r, tensor.ErrOutOfMemory)
		}
	}()
	return &store[T]{data: make([]T, n)}, nil
}

// Upload copies src, a []float32 or []float64 matching dst's dtype and element
// count, into dst. Errors wrap ErrDType, ErrShape, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) Upload(dst *tensor.Tensor, src any) error {
	const op = "upload"
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "destination", T: dst}); err != nil {
		return err
	}
	if err := tensor.CheckHost(op, dst, src); err != nil {
		return err
	}
	switch s := src.(type) {
	case []float32:
		copy(data[float32](dst), s)
	case []float64:
		copy(data[float64](dst), s)
	}
	return nil
}

// Download copies src into dst, a []float32 or []float64 matching src's dtype
// and element count. Errors wrap ErrDType, ErrShape, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) Download(dst any, src *tensor.Tensor) error {
	const op = "download"
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "source", T: src}); err != nil {
		return err
	}
	if err := tensor.CheckHost(op, src, dst); err != nil {
		return err
	}
	switch d := dst.(type) {
	case []float32:
		copy(d, data[float32](src))
	case []float64:
		copy(d, data[float64](src))
	}
	return nil
}

// Sync returns nil, or an ErrClosed error after Close: CPU ops finish before
// they return, so there is nothing to wait for.
func (b *Backend) Sync() error { return b.open("sync") }

// Copy copies src into dst; both have the same dtype and element count (shapes
// may differ). Errors wrap ErrShape, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) Copy(dst, src *tensor.Tensor) error {
	const op = "copy"
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckElementwise(b, op, tensor.Arg{Name: "destination", T: dst}, tensor.Arg{Name: "source", T: src}); err != nil {
		return err
	}
	if dst.DType() == tensor.Float32 {
		copy(data[float32](dst), data[float32](src))
	} else {
		copy(data[float64](dst), data[float64](src))
	}
	return nil
}

// Fill sets every element of dst to v, rounded to dst's dtype. Errors wrap
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Fill(dst *tensor.Tensor, v float64) error {
	const op = "fill"
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckArgs(b, op, tensor.Arg{Name: "destination", T: dst}); err != nil {
		return err
	}
	// The elementwise loop with dst as both operands (fillK reads neither).
	args := [2]tensor.Arg{{Name: "destination", T: dst}, {Name: "destination", T: dst}}
	if dst.DType() == tensor.Float32 {
		runElementwise(b, dst.Len(), args[:], nil, fillK[float32], float32(v))
	} else {
		runElementwise(b, dst.Len(), args[:], nil, fillK[float64], v)
	}
	return nil
}

// fillK sets every element of d to v.
func fillK[T scalar](d, _, _ []T, v T) { fill(d, v) }

// fill sets every element of d to v: one element, then copies that double
// the filled part (memmove's wide stores rather than one store per element).
func fill[T scalar](d []T, v T) {
	if len(d) == 0 {
		return
	}
	d[0] = v
	for n := 1; n < len(d); n *= 2 {
		copy(d[n:], d[:n])
	}
}

// fillRows sets row r of d, its n elements from r·n, to v[r], for the
// len(v) rows: with float32 on AVX-512 by one vec.Fill, whose broadcast
// stores beat fill's doubling copies on short rows (a pointwise forward's
// bias, 64 rows of 196: 6.7 µs per image by fill).
func fillRows[T scalar](d []T, n int, v []T) {
	if d32, v32 := vec32(d), vec32(v); d32 != nil {
		vec.Fill(d32, n, n, v32)
		return
	}
	for r, x := range v {
		fill(d[r*n:][:n], x)
	}
}
