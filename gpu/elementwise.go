//go:build cgo

package gpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// This file holds the elementwise ops (shaders/eltwise.comp: add, mul, scale,
// activations and their gradients, bias add, the dropout mask), the row-wise
// ops over the last axis (shaders/rows.comp: softmax, argmax) and the axis
// reductions (shaders/sum.comp: sum, bias gradient). Elementwise and row-wise
// ops let the destination alias an input: each invocation reads its inputs
// before it writes.

// Ops of shaders/eltwise.comp (its OP specialization constant).
const (
	eltAdd uint32 = iota
	eltMul
	eltScale
	eltReLU
	eltReLUBackward
	eltSigmoid
	eltSigmoidBackward
	eltTanh
	eltTanhBackward
	eltAddBias
	eltSpread
	eltDropout
	eltLeakyReLU
	eltLeakyReLUBackward
	eltSiLU
	eltSiLUBackward
)

// Modes of shaders/rows.comp.
const (
	rowSoftmax uint32 = iota
	rowSoftmaxBackward
	rowArgMax
	rowSoftmaxCrossEntropy
)

// eltParams are the scalar operands of shaders/eltwise.comp.
type eltParams struct {
	alpha     float64 // scale factor (eltScale), divisor (eltSpread) or slope (eltLeakyReLU*)
	inner     int     // elements per channel (eltAddBias) or per broadcast value (eltSpread)
	channels  int     // bias length (eltAddBias)
	seed      uint64  // eltDropout
	threshold uint32  // eltDropout: drop where the 24-bit draw is below it
	keep      float32 // eltDropout: the value of kept elements
}

// eltwise records one dispatch of shaders/eltwise.comp over dst's elements
// with dst, a and c bound as bindings 0, 1 and 2.
func (b *Backend) eltwise(op uint32, p eltParams, dst, a, c *tensor.Tensor) error {
	n := dst.Len()
	push := []uint32{
		u32(n), f32(p.alpha), u32(max(p.inner, 1)), u32(max(p.channels, 1)),
		uint32(p.seed), uint32(p.seed >> 32), p.threshold, math.Float32bits(p.keep),
	}
	return b.dispatch("eltwise", []uint32{op}, push, b.groups1D(n, 256), dst, a, c)
}

// binary validates and runs an elementwise op of two inputs, named as the CPU
// backend names them so that errors are identical.
func (b *Backend) binary(op string, kind uint32, names [3]string, dst, a, c *tensor.Tensor) error {
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckElementwise(b, op, tensor.Arg{Name: names[0], T: dst},
		tensor.Arg{Name: names[1], T: a}, tensor.Arg{Name: names[2], T: c}); err != nil {
		return err
	}
	return b.eltwise(kind, eltParams{}, dst, a, c)
}

// unary validates and runs an elementwise op of one input x.
func (b *Backend) unary(op string, kind uint32, p eltParams, dst, x *tensor.Tensor) error {
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckElementwise(b, op, tensor.Arg{Name: "output", T: dst}, tensor.Arg{Name: "input", T: x}); err != nil {
		return err
	}
	return b.eltwise(kind, p, dst, x, x)
}

var (
	namesBinary   = [3]string{"output", "a", "b"}
	namesBackward = [3]string{"input gradient", "output gradient", "input"}
	namesFromOut  = [3]string{"input gradient", "output gradient", "output"}
)

// Add sets dst = a + c elementwise; all three have the same element count and
// dst may alias either input. Errors wrap ErrShape, ErrDType, ErrBackend or
// ErrFreed for bad arguments (see tensor.CheckElementwise) and ErrClosed,
// ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) Add(dst, a, c *tensor.Tensor) error {
	return b.binary("add", eltAdd, namesBinary, dst, a, c)
}

// Mul sets dst = a ⊙ c elementwise. Errors as for Add.
func (b *Backend) Mul(dst, a, c *tensor.Tensor) error {
	return b.binary("mul", eltMul, namesBinary, dst, a, c)
}

// Scale sets dst = alpha·x, with alpha rounded to float32. Errors as for Add.
func (b *Backend) Scale(dst, x *tensor.Tensor, alpha float64) error {
	return b.unary("scale", eltScale, eltParams{alpha: alpha}, dst, x)
}

// ReLU sets dst = max(x, 0). Errors as for Add.
func (b *Backend) ReLU(dst, x *tensor.Tensor) error {
	return b.unary("relu", eltReLU, eltParams{}, dst, x)
}

// ReLUBackward sets dx = dy where x > 0, else 0. Errors as for Add.
func (b *Backend) ReLUBackward(dx, dy, x *tensor.Tensor) error {
	return b.binary("relu backward", eltReLUBackward, namesBackward, dx, dy, x)
}

// Sigmoid sets dst = 1/(1+e^−x), evaluated on the side where the exponential
// cannot overflow. Errors as for Add.
func (b *Backend) Sigmoid(dst, x *tensor.Tensor) error {
	return b.unary("sigmoid", eltSigmoid, eltParams{}, dst, x)
}

// SigmoidBackward sets dx = dy·y·(1−y), where y is Sigmoid's output. Errors as
// for Add.
func (b *Backend) SigmoidBackward(dx, dy, y *tensor.Tensor) error {
	return b.binary("sigmoid backward", eltSigmoidBackward, namesFromOut, dx, dy, y)
}

// Tanh sets dst = tanh(x), by a series near 0 and through e^−2|x| elsewhere,
// so it is accurate for small x and finite for any x. Errors as for Add.
func (b *Backend) Tanh(dst, x *tensor.Tensor) error {
	return b.unary("tanh", eltTanh, eltParams{}, dst, x)
}

// TanhBackward sets dx = dy·(1−y²), where y is Tanh's output. Errors as for
// Add.
func (b *Backend) TanhBackward(dx, dy, y *tensor.Tensor) error {
	return b.binary("tanh backward", eltTanhBackward, namesFromOut, dx, dy, y)
}

// LeakyReLU sets dst = x where x > 0, else slope·x, with slope rounded to
// float32. dst may alias x. Errors wrap ErrParam (a slope that is NaN or
// infinite, see tensor.CheckSlope) and otherwise as for Add.
func (b *Backend) LeakyReLU(dst, x *tensor.Tensor, slope float64) error {
	if err := tensor.CheckSlope("leaky relu", slope); err != nil {
		return err
	}
	return b.unary("leaky relu", eltLeakyReLU, eltParams{alpha: slope}, dst, x)
}

// LeakyReLUBackward sets dx = dy where x > 0, else slope·dy. Errors as for
// LeakyReLU.
func (b *Backend) LeakyReLUBackward(dx, dy, x *tensor.Tensor, slope float64) error {
	const op = "leaky relu backward"
	if err := tensor.CheckSlope(op, slope); err != nil {
		return err
	}
	if err := b.usable(op); err != nil {
		return err
	}
	if _, err := tensor.CheckElementwise(b, op, tensor.Arg{Name: namesBackward[0], T: dx},
		tensor.Arg{Name: namesBackward[1], T: dy}, tensor.Arg{Name: namesBackward[2], T: x}); err != nil {
		return err
	}
	return b.eltwise(eltLeakyReLUBackward, eltParams{alpha: slope}, dx, dy, x)
}

// SiLU sets dst = x·sigmoid(x), with the sigmoid evaluated on the side where
// the exponential cannot overflow. Errors as for Add.
func (b *Backend) SiLU(dst, x *tensor.Tensor) error {
	return b.unary("silu", eltSiLU, eltParams{}, dst, x)
}

// SiLUBackward sets dx = dy·s·(1 + x·(1−s)) with s = sigmoid(x), where x is
// SiLU's input. Errors as for Add.
func (b *Backend) SiLUBackward(dx, dy, x *tensor.Tensor) error {
	return b.binary("silu backward", eltSiLUBackward, namesBackward, dx, dy, x)
}

// DropoutMask fills mask with 0 where tensor.DropoutUniform(seed, i) < rate
// and with 1/(1−rate), computed in float64 and rounded to float32, elsewhere. The shader ports
// DropoutUniform's integer hash and compares the 24-bit draw with ⌈rate·2^24⌉
// exactly, so masks equal the CPU backend's bit for bit. rate must be in
// [0, 1); errors wrap ErrParam, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckDropout) and ErrClosed, ErrOutOfMemory or
// ErrDeviceLost from the device.
func (b *Backend) DropoutMask(mask *tensor.Tensor, rate float64, seed uint64) error {
	if err := b.usable("dropout mask"); err != nil {
		return err
	}
	if err := tensor.CheckDropout(b, mask, rate); err != nil {
		return err
	}
	p := eltParams{
		seed:      seed,
		threshold: uint32(math.Ceil(rate * (1 << 24))),
		keep:      float32(1 / (1 - rate)),
	}
	return b.eltwise(eltDropout, p, mask, mask, mask)
}

// AddBias sets y = x + bias with bias [x.Dim(1)] broadcast along axis 1 of x
// (rank ≥ 2: [N, F] or [N, C, H, W]). y may alias x. Errors wrap ErrShape,
// ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckAddBias) and ErrClosed, ErrOutOfMemory or ErrDeviceLost from
// the device.
func (b *Backend) AddBias(y, x, bias *tensor.Tensor) error {
	if err := b.usable("add bias"); err != nil {
		return err
	}
	g, err := tensor.CheckAddBias(b, y, x, bias)
	if err != nil {
		return err
	}
	return b.eltwise(eltAddBias, eltParams{inner: g.Inner, channels: g.C}, y, x, bias)
}

// rows records one dispatch of shaders/rows.comp over rows rows of cols
// elements, with out, grad, a and c bound as bindings 0 to 3; div is the
// gradient's divisor of softmax cross-entropy.
func (b *Backend) rows(mode uint32, hasGrad bool, rows, cols int, div float64, out, grad, a, c *tensor.Tensor) error {
	push := []uint32{u32(rows), u32(cols), f32(div)}
	return b.dispatch("rows", []uint32{mode, flag(hasGrad)}, push, b.groups1D(rows, 256), out, grad, a, c)
}

// Softmax sets dst to the softmax of x along its last axis (rank ≥ 1),
// subtracting the row maximum first so that no exponential overflows; one
// invocation handles a row, summing it in float32. dst may alias x. Errors
// wrap ErrShape, ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckRows) and ErrClosed, ErrOutOfMemory or ErrDeviceLost from the
// device.
func (b *Backend) Softmax(dst, x *tensor.Tensor) error {
	if err := b.usable("softmax"); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, "softmax", tensor.Arg{Name: "input", T: x}, nil, tensor.Arg{Name: "output", T: dst})
	if err != nil {
		return err
	}
	return b.rows(rowSoftmax, false, rows, cols, 1, dst, dst, x, x)
}

// SoftmaxBackward sets dx = y ⊙ (dy − Σ_last(dy ⊙ y)) row by row, where y is
// Softmax's output. dx may alias dy or y. Errors as for Softmax.
func (b *Backend) SoftmaxBackward(dx, dy, y *tensor.Tensor) error {
	if err := b.usable("softmax backward"); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, "softmax backward", tensor.Arg{Name: "output", T: y}, nil,
		tensor.Arg{Name: "input gradient", T: dx}, tensor.Arg{Name: "output gradient", T: dy})
	if err != nil {
		return err
	}
	return b.rows(rowSoftmaxBackward, false, rows, cols, 1, dx, dx, dy, y)
}

// ArgMax sets dst, which has one element per row, to the index (as a float) of
// the largest element of each row of x along its last axis: the first one on
// ties, and the first NaN if the row has one. Errors as for Softmax.
func (b *Backend) ArgMax(dst, x *tensor.Tensor) error {
	if err := b.usable("argmax"); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, "argmax", tensor.Arg{Name: "input", T: x}, &tensor.Arg{Name: "output", T: dst})
	if err != nil {
		return err
	}
	return b.rows(rowArgMax, false, rows, cols, 1, dst, dst, x, x)
}

// BiasGrad sums dy over every axis but axis 1 into db ([dy.Dim(1)]): the bias
// gradient of Conv2D (dy [N, K, OH, OW]) and of AddBias (dy [N, F]), by the
// deterministic float32 reductions of shaders/sum.comp. Errors wrap ErrShape,
// ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckBiasGrad) and ErrClosed, ErrOutOfMemory or ErrDeviceLost from
// the device.
func (b *Backend) BiasGrad(db, dy *tensor.Tensor) error {
	if err := b.usable("bias gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckBiasGrad(b, db, dy)
	if err != nil {
		return err
	}
	return b.sumAxes(db, dy, []int{g.Outer, g.C, g.Inner}, []bool{true, false, true})
}

// Sum sums src over the listed axes (each once, in range) into dst, whose
// shape is src's with those axes removed or set to 1; no axes sums every
// element into a one-element dst. Sums accumulate in float32 along a
// deterministic tree. Errors wrap ErrParam (bad axes), ErrShape, ErrDType,
// ErrBackend or ErrFreed for bad arguments (see tensor.CheckSum) and
// ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) Sum(dst, src *tensor.Tensor, axes ...int) error {
	if err := b.usable("sum"); err != nil {
		return err
	}
	summed, err := tensor.CheckSum(b, dst, src, axes)
	if err != nil {
		return err
	}
	return b.sumAxes(dst, src, src.Shape(), summed)
}

// sumAxes sums src, of shape dims, over the axes marked in summed into dst,
// which holds the kept axes in order. Adjacent axes that are all summed or all
// kept merge into one and size-1 axes drop out; then each summed run is
// reduced in turn, innermost first, through scratch tensors.
func (b *Backend) sumAxes(dst, src *tensor.Tensor, dims []int, summed []bool) error {
	type run struct {
		n   int
		sum bool
	}
	var runArr [8]run // on the stack for tensors of rank ≤ 8
	runs := runArr[:0]
	for i, d := range dims {
		switch {
		case d == 1:
		case len(runs) > 0 && runs[len(runs)-1].sum == summed[i]:
			runs[len(runs)-1].n *= d
		default:
			runs = append(runs, run{d, summed[i]})
		}
	}
	last := -1 // the outermost summed run
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].sum {
			last = i
		}
	}
	if last < 0 {
		return b.reduce(dst, src, 1, 1, src.Len(), 1) // a copy
	}
	cur := src
	for i := len(runs) - 1; i >= last; i-- {
		if !runs[i].sum {
			continue
		}
		outer, inner := 1, 1
		for _, r := range runs[:i] {
			outer *= r.n
		}
		for _, r := range runs[i+1:] {
			inner *= r.n // runs inside i are kept or already summed away (1)
		}
		out := dst
		if i != last {
			var err error
			if out, err = b.scratch(outer * inner); err != nil {
				return b.dropScratch(cur, src, err)
			}
		}
		err := b.reduce(out, cur, outer, runs[i].n, inner, 1)
		if err = b.dropScratch(cur, src, err); err != nil {
			if out != dst {
				return freeAfter(out, err)
			}
			return err
		}
		cur = out
		runs[i].n = 1 // summed away
	}
	return nil
}

// dropScratch frees cur when it is a scratch tensor (not the op's source) and
// returns err, or the Free error when err is nil.
func (b *Backend) dropScratch(cur, src *tensor.Tensor, err error) error {
	if cur == src {
		return err
	}
	return freeAfter(cur, err)
}

// Tuning of reduce: a reduction whose outputs alone give fewer than
// reduceWide invocations and whose length exceeds reduceLeaf is cut into
// chunks of about √r (between reduceMinChunk and reduceLeaf indices), reduced
// by further passes. Short sequential sums also bound the rounding error.
const (
	reduceWide     = 16384
	reduceLeaf     = 256
	reduceMinChunk = 64
)

// reduce sets dst [outer, inner] to the sum over r of src viewed as
// [outer, r, inner], divided by div, with shaders/sum.comp. Long reductions
// with few outputs go through a tree of partial sums in scratch tensors, so
// that they run in parallel and lose little precision; the order is fixed, so
// results are deterministic.
func (b *Backend) reduce(dst, src *tensor.Tensor, outer, r, inner int, div float32) error {
	cur := src
	for r > reduceLeaf && outer*inner < reduceWide {
		chunk := min(max(reduceMinChunk, int(math.Ceil(math.Sqrt(float64(r))))), reduceLeaf)
		s := divUp(r, chunk)
		part, err := b.scratch(outer * s * inner)
		if err != nil {
			return b.dropScratch(cur, src, err)
		}
		err = b.sum(part, cur, outer, r, inner, s, chunk, 1)
		if err = b.dropScratch(cur, src, err); err != nil {
			return freeAfter(part, err)
		}
		cur, r = part, s
	}
	return b.dropScratch(cur, src, b.sum(dst, cur, outer, r, inner, 1, r, div))
}

// sum records one dispatch of shaders/sum.comp: dst [outer, s, inner] gets
// the sums of src [outer, r, inner] over chunks of chunk indices of r, divided
// by div.
func (b *Backend) sum(dst, src *tensor.Tensor, outer, r, inner, s, chunk int, div float32) error {
	push := []uint32{u32(outer), u32(r), u32(inner), u32(s), u32(chunk), math.Float32bits(div)}
	return b.dispatch("sum", nil, push, b.groups1D(outer*s*inner, 256), dst, src)
}
