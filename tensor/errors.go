package tensor

import "errors"

// Sentinel errors. Every error a backend returns wraps one of these, so callers
// can test with errors.Is; the wrapping message names the op, the tensor and the
// expected value.
var (
	// ErrShape reports a tensor whose rank or dimensions do not fit the op.
	ErrShape = errors.New("shape mismatch")
	// ErrDType reports a dtype the op or backend cannot use, or mixed dtypes.
	ErrDType = errors.New("dtype mismatch")
	// ErrParam reports an invalid op parameter (stride, padding, groups, rates).
	ErrParam = errors.New("invalid parameter")
	// ErrBackend reports a tensor that belongs to another backend.
	ErrBackend = errors.New("tensor from another backend")
	// ErrFreed reports use of a tensor after Free.
	ErrFreed = errors.New("tensor freed")
	// ErrClosed reports use of a backend after Close.
	ErrClosed = errors.New("backend closed")
	// ErrUnsupported reports an op or feature the backend does not implement.
	ErrUnsupported = errors.New("unsupported")
	// ErrOutOfMemory reports that the device or host could not allocate memory.
	ErrOutOfMemory = errors.New("out of memory")
	// ErrDeviceLost reports that the device stopped working (driver reset, hang).
	ErrDeviceLost = errors.New("device lost")
	// ErrNoDevice reports that no usable compute device was found.
	ErrNoDevice = errors.New("no device")
)
