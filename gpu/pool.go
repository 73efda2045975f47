//go:build cgo

package gpu

import "github.com/vkcnn/vkcnn/tensor"

// Pooling runs shaders/pool.comp, one invocation per output element forward
// and, backward, one per input-gradient element gathering over the windows
// that contain it (no atomics, deterministic). Global average pooling is a
// reduction (shaders/sum.comp) forward and a broadcast (shaders/eltwise.comp)
// backward.

// Modes of shaders/pool.comp.
const (
	poolMax uint32 = iota
	poolAvg
	poolMaxBackward
	poolAvgBackward
)

// pool records one dispatch of shaders/pool.comp over n invocations with
// out, a and in bound as bindings 0, 1 and 2.
func (b *Backend) pool(mode uint32, g tensor.PoolGeom, n int, out, a, in *tensor.Tensor) error {
	push := []uint32{
		u32(g.N * g.C), u32(g.H), u32(g.W), u32(g.OH), u32(g.OW),
		u32(g.Window[0]), u32(g.Window[1]), u32(g.Stride[0]), u32(g.Stride[1]),
		u32(g.Pad[0]), u32(g.Pad[1]), flag(g.ExcludePad),
	}
	return b.dispatch("pool", []uint32{mode}, push, b.groups1D(n, 256), out, a, in)
}

// MaxPool2D sets y [N, C, OH, OW] to the maximum of each window of x
// [N, C, H, W]; padding never wins, NaN beats every number, and ties go to the
// first maximum in row-major window order. Errors wrap ErrShape, ErrParam,
// ErrDType, ErrBackend or ErrFreed for bad arguments (see tensor.CheckPool2D)
// and ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) MaxPool2D(y, x *tensor.Tensor, p tensor.Pool2DParams) error {
	if err := b.usable("max pool"); err != nil {
		return err
	}
	g, err := tensor.CheckPool2D(b, "max pool", y, x, p)
	if err != nil {
		return err
	}
	return b.pool(poolMax, g, y.Len(), y, x, x)
}

// MaxPool2DBackward routes each dy element to the position of its window's
// first maximum in x, summing where windows overlap; positions that are no
// window's maximum get 0. dx and x are [N, C, H, W], dy is [N, C, OH, OW].
// Each dx element checks every window that contains it, so no atomics are
// used. Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend or ErrFreed for
// bad arguments (see tensor.CheckPool2DBackward) and ErrClosed,
// ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) MaxPool2DBackward(dx, dy, x *tensor.Tensor, p tensor.Pool2DParams) error {
	if err := b.usable("max pool backward"); err != nil {
		return err
	}
	g, err := tensor.CheckPool2DBackward(b, "max pool backward", dx, dy, x, p)
	if err != nil {
		return err
	}
	return b.pool(poolMaxBackward, g, dx.Len(), dx, dy, x)
}

// AvgPool2D sets y [N, C, OH, OW] to the mean of each window of x
// [N, C, H, W]: the sum of the input elements in the window divided by the
// window size, or with ExcludePad by their count. Errors wrap ErrShape,
// ErrParam, ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckPool2D) and ErrClosed, ErrOutOfMemory or ErrDeviceLost from the
// device.
func (b *Backend) AvgPool2D(y, x *tensor.Tensor, p tensor.Pool2DParams) error {
	if err := b.usable("average pool"); err != nil {
		return err
	}
	g, err := tensor.CheckPool2D(b, "average pool", y, x, p)
	if err != nil {
		return err
	}
	return b.pool(poolAvg, g, y.Len(), y, x, x)
}

// AvgPool2DBackward spreads each dy element [N, C, OH, OW] evenly over the
// input elements of its window in dx [N, C, H, W], dividing as AvgPool2D
// does, and sums where windows overlap. Errors wrap ErrShape, ErrParam,
// ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckPool2DBackward) and ErrClosed, ErrOutOfMemory or ErrDeviceLost
// from the device.
func (b *Backend) AvgPool2DBackward(dx, dy *tensor.Tensor, p tensor.Pool2DParams) error {
	if err := b.usable("average pool backward"); err != nil {
		return err
	}
	g, err := tensor.CheckPool2DBackward(b, "average pool backward", dx, dy, nil, p)
	if err != nil {
		return err
	}
	return b.pool(poolAvgBackward, g, dx.Len(), dx, dy, dy)
}

// GlobalAvgPool2D sets y ([N, C] or [N, C, 1, 1]) to the mean of each channel
// plane of x [N, C, H, W], summed in float32 by a deterministic tree. Errors
// wrap ErrShape, ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckGlobalAvgPool) and ErrClosed, ErrOutOfMemory or ErrDeviceLost
// from the device.
func (b *Backend) GlobalAvgPool2D(y, x *tensor.Tensor) error {
	if err := b.usable("global average pool"); err != nil {
		return err
	}
	g, err := tensor.CheckGlobalAvgPool(b, false, y, x)
	if err != nil {
		return err
	}
	hw := g.H * g.W
	return b.reduce(y, x, g.N*g.C, hw, 1, float32(hw))
}

// GlobalAvgPool2DBackward sets every element of plane (n, c) of dx
// [N, C, H, W] to dy[n, c]/(H·W); dy is [N, C] or [N, C, 1, 1]. Errors wrap
// ErrShape, ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckGlobalAvgPool) and ErrClosed, ErrOutOfMemory or ErrDeviceLost
// from the device.
func (b *Backend) GlobalAvgPool2DBackward(dx, dy *tensor.Tensor) error {
	if err := b.usable("global average pool backward"); err != nil {
		return err
	}
	g, err := tensor.CheckGlobalAvgPool(b, true, dy, dx)
	if err != nil {
		return err
	}
	hw := g.H * g.W
	return b.eltwise(eltSpread, eltParams{alpha: float64(hw), inner: hw}, dx, dy, dy)
}
