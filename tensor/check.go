package tensor

import (
	"fmt"
	"math"
)

// This file holds the validation every backend shares, so that the same bad
// input gets the same error on every backend. Each Check function returns the
// geometry the backend needs, or an error naming the op, the argument and what
// was expected. The errors wrap ErrShape (nil tensor, rank, dimensions),
// ErrFreed, ErrBackend (another backend's tensor), ErrDType (mixed or invalid
// dtypes, wrong host slice type) or ErrParam (stride, padding, dilation,
// groups, axes, rates, steps).

// Arg names a tensor argument of an op for error messages.
type Arg struct {
	Name string
	T    *Tensor
}

// CheckArgs verifies that every tensor is present, not freed, owned by b, and
// that all share one valid dtype, which it returns. Errors wrap ErrShape (nil
// or zero tensor), ErrFreed, ErrBackend or ErrDType. Optional arguments that are
// nil must be left out of args by the caller.
func CheckArgs(b Backend, op string, args ...Arg) (DType, error) {
	var dt DType
	for i, a := range args {
		t := a.T
		switch {
		case t == nil:
			return 0, fmt.Errorf("%s: %s is nil, expected a tensor: %w", op, a.Name, ErrShape)
		case t.buf == nil:
			return 0, fmt.Errorf("%s: %s is a zero Tensor, expected one from Backend.Alloc: %w", op, a.Name, ErrShape)
		case t.buf.freed:
			return 0, fmt.Errorf("%s: %s %v was freed: %w", op, a.Name, t, ErrFreed)
		case t.buf.owner != b:
			return 0, fmt.Errorf("%s: %s belongs to %s, expected a tensor of %s (a tensor stays on the backend that allocated it; Download and Upload it to move it): %w",
				op, a.Name, backendLabel(t.buf.owner, b), backendLabel(b, t.buf.owner), ErrBackend)
		case !t.dtype.Valid():
			return 0, fmt.Errorf("%s: %s has dtype %v, expected float32 or float64: %w", op, a.Name, t.dtype, ErrDType)
		}
		if i == 0 {
			dt = t.dtype
		} else if t.dtype != dt {
			return 0, fmt.Errorf("%s: %s is %v but %s is %v, expected one dtype: %w", op, a.Name, t.dtype, args[0].Name, dt, ErrDType)
		}
	}
	return dt, nil
}

// CheckHost verifies that data is a []float32 or []float64 matching t's dtype
// and element count, for Upload and Download.
func CheckHost(op string, t *Tensor, data any) error {
	var n int
	var dt DType
	switch d := data.(type) {
	case []float32:
		n, dt = len(d), Float32
	case []float64:
		n, dt = len(d), Float64
	default:
		return fmt.Errorf("%s: host data is %T, expected []%v: %w", op, data, t.dtype, ErrDType)
	}
	if dt != t.dtype {
		return fmt.Errorf("%s: host data is []%v, expected []%v for tensor %v: %w", op, dt, t.dtype, t, ErrDType)
	}
	if n != t.Len() {
		return fmt.Errorf("%s: host data has %d elements, expected %d for tensor %v: %w", op, n, t.Len(), t, ErrShape)
	}
	return nil
}

func wantShape(op, name string, t *Tensor, want Shape) error {
	if !t.shape.Equal(want) {
		// A copy of want, so that callers' literals stay on their stacks.
		return fmt.Errorf("%s: %s has shape %v, expected %v: %w", op, name, t.shape, want.Clone(), ErrShape)
	}
	return nil
}

func wantRank(op, name string, t *Tensor, rank int, layout string) error {
	if len(t.shape) != rank {
		return fmt.Errorf("%s: %s has shape %v (rank %d), expected rank %d %s: %w", op, name, t.shape, len(t.shape), rank, layout, ErrShape)
	}
	return nil
}

func wantLen(op, name string, t *Tensor, n int, ref string) error {
	if t.Len() != n {
		return fmt.Errorf("%s: %s %v has %d elements, expected %d like %s: %w", op, name, t.shape, t.Len(), n, ref, ErrShape)
	}
	return nil
}

// ConvGeom is the geometry of one Conv2D: input [N, C, H, W], kernel
// [K, C/Groups, KH, KW], output [N, K, OH, OW].
type ConvGeom struct {
	N, C, H, W int
	K, KH, KW  int
	OH, OW     int
	Groups     int
	Stride     [2]int
	Pad        [2]int
	Dilation   [2]int
}

// FLOPs returns 2·N·K·OH·OW·(C/Groups)·KH·KW, the floating-point operations of
// one forward pass (each gradient costs the same).
func (g ConvGeom) FLOPs() float64 {
	return 2 * float64(g.N) * float64(g.K) * float64(g.OH) * float64(g.OW) * float64(g.C/g.Groups) * float64(g.KH) * float64(g.KW)
}

// Params returns the parameters the geometry was derived from.
func (g ConvGeom) Params() Conv2DParams {
	return Conv2DParams{Stride: g.Stride, Pad: g.Pad, Dilation: g.Dilation, Groups: g.Groups}
}

// XShape returns [N, C, H, W].
func (g ConvGeom) XShape() Shape { return Shape{g.N, g.C, g.H, g.W} }

// WShape returns [K, C/Groups, KH, KW].
func (g ConvGeom) WShape() Shape { return Shape{g.K, g.C / g.Groups, g.KH, g.KW} }

// YShape returns [N, K, OH, OW].
func (g ConvGeom) YShape() Shape { return Shape{g.N, g.K, g.OH, g.OW} }

// ConvGeometry derives the geometry of a convolution from the input shape
// [N, C, H, W], the kernel shape [K, C/groups, KH, KW] and the parameters.
func ConvGeometry(x, w Shape, p Conv2DParams) (ConvGeom, error) {
	const op = "conv2d"
	if len(x) != 4 {
		return ConvGeom{}, fmt.Errorf("%s: input has shape %v (rank %d), expected rank 4 [N C H W]: %w", op, x, len(x), ErrShape)
	}
	if len(w) != 4 {
		return ConvGeom{}, fmt.Errorf("%s: kernel has shape %v (rank %d), expected rank 4 [K C/groups KH KW]: %w", op, w, len(w), ErrShape)
	}
	if err := x.Validate(); err != nil {
		return ConvGeom{}, fmt.Errorf("%s: input: %w", op, err)
	}
	if err := w.Validate(); err != nil {
		return ConvGeom{}, fmt.Errorf("%s: kernel: %w", op, err)
	}
	g := ConvGeom{N: x[0], C: x[1], H: x[2], W: x[3], K: w[0], KH: w[2], KW: w[3],
		Groups: p.Groups, Stride: p.Stride, Pad: p.Pad, Dilation: p.Dilation}
	if p.Groups < 1 {
		return g, fmt.Errorf("%s: groups %d, expected ≥ 1: %w", op, p.Groups, ErrParam)
	}
	if g.C%p.Groups != 0 {
		return g, fmt.Errorf("%s: groups %d does not divide the %d input channels: %w", op, p.Groups, g.C, ErrParam)
	}
	if g.K%p.Groups != 0 {
		return g, fmt.Errorf("%s: groups %d does not divide the %d output channels: %w", op, p.Groups, g.K, ErrParam)
	}
	if w[1] != g.C/p.Groups {
		return g, fmt.Errorf("%s: kernel %v has %d input channels, expected %d (input channels %d / groups %d): %w",
			op, w, w[1], g.C/p.Groups, g.C, p.Groups, ErrShape)
	}
	var err error
	if g.OH, err = OutSize(g.H, g.KH, p.Stride[0], p.Pad[0], p.Dilation[0]); err != nil {
		return g, fmt.Errorf("%s: height: %w", op, err)
	}
	if g.OW, err = OutSize(g.W, g.KW, p.Stride[1], p.Pad[1], p.Dilation[1]); err != nil {
		return g, fmt.Errorf("%s: width: %w", op, err)
	}
	return g, nil
}

// CheckConv2D validates the arguments of Backend.Conv2D; bias may be nil.
func CheckConv2D(b Backend, y, x, w, bias *Tensor, p Conv2DParams) (ConvGeom, error) {
	const op = "conv2d"
	args := [4]Arg{{"output", y}, {"input", x}, {"kernel", w}, {"bias", bias}}
	n := 3
	if bias != nil {
		n = 4
	}
	if _, err := CheckArgs(b, op, args[:n]...); err != nil {
		return ConvGeom{}, err
	}
	g, err := ConvGeometry(x.shape, w.shape, p)
	if err != nil {
		return g, err
	}
	if bias != nil {
		if err := wantShape(op, "bias", bias, Shape{g.K}); err != nil {
			return g, err
		}
	}
	return g, wantShape(op, "output", y, g.YShape())
}

// CheckConv2DInputGrad validates the arguments of Backend.Conv2DInputGrad.
func CheckConv2DInputGrad(b Backend, dx, dy, w *Tensor, p Conv2DParams) (ConvGeom, error) {
	const op = "conv2d input gradient"
	if _, err := CheckArgs(b, op, Arg{"input gradient", dx}, Arg{"output gradient", dy}, Arg{"kernel", w}); err != nil {
		return ConvGeom{}, err
	}
	g, err := ConvGeometry(dx.shape, w.shape, p)
	if err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	return g, wantShape(op, "output gradient", dy, g.YShape())
}

// CheckConv2DKernelGrad validates the arguments of Backend.Conv2DKernelGrad.
func CheckConv2DKernelGrad(b Backend, dw, x, dy *Tensor, p Conv2DParams) (ConvGeom, error) {
	const op = "conv2d kernel gradient"
	if _, err := CheckArgs(b, op, Arg{"kernel gradient", dw}, Arg{"input", x}, Arg{"output gradient", dy}); err != nil {
		return ConvGeom{}, err
	}
	g, err := ConvGeometry(x.shape, dw.shape, p)
	if err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	return g, wantShape(op, "output gradient", dy, g.YShape())
}

// ChannelGeom splits a tensor of rank ≥ 2 around axis 1: Outer is the product
// of the axes before it (the batch), C its size, Inner the product after it.
type ChannelGeom struct{ Outer, C, Inner int }

func channelGeom(op, name string, t *Tensor) (ChannelGeom, error) {
	if len(t.shape) < 2 {
		return ChannelGeom{}, fmt.Errorf("%s: %s has shape %v, expected rank ≥ 2 with channels on axis 1: %w", op, name, t.shape, ErrShape)
	}
	return ChannelGeom{Outer: t.shape[0], C: t.shape[1], Inner: t.shape[2:].Len()}, nil
}

// CheckBiasGrad validates the arguments of Backend.BiasGrad.
func CheckBiasGrad(b Backend, db, dy *Tensor) (ChannelGeom, error) {
	const op = "bias gradient"
	if _, err := CheckArgs(b, op, Arg{"bias gradient", db}, Arg{"output gradient", dy}); err != nil {
		return ChannelGeom{}, err
	}
	g, err := channelGeom(op, "output gradient", dy)
	if err != nil {
		return g, err
	}
	return g, wantShape(op, "bias gradient", db, Shape{g.C})
}

// CheckAddBias validates the arguments of Backend.AddBias.
func CheckAddBias(b Backend, y, x, bias *Tensor) (ChannelGeom, error) {
	const op = "add bias"
	if _, err := CheckArgs(b, op, Arg{"output", y}, Arg{"input", x}, Arg{"bias", bias}); err != nil {
		return ChannelGeom{}, err
	}
	g, err := channelGeom(op, "input", x)
	if err != nil {
		return g, err
	}
	if err := wantShape(op, "bias", bias, Shape{g.C}); err != nil {
		return g, err
	}
	return g, wantShape(op, "output", y, x.shape)
}

// PoolGeom is the geometry of one pooling op: input [N, C, H, W], output
// [N, C, OH, OW].
type PoolGeom struct {
	N, C, H, W int
	OH, OW     int
	Window     [2]int
	Stride     [2]int
	Pad        [2]int
	ExcludePad bool
}

// Params returns the parameters the geometry was derived from.
func (g PoolGeom) Params() Pool2DParams {
	return Pool2DParams{Window: g.Window, Stride: g.Stride, Pad: g.Pad, ExcludePad: g.ExcludePad}
}

// XShape returns [N, C, H, W].
func (g PoolGeom) XShape() Shape { return Shape{g.N, g.C, g.H, g.W} }

// YShape returns [N, C, OH, OW].
func (g PoolGeom) YShape() Shape { return Shape{g.N, g.C, g.OH, g.OW} }

// PoolGeometry derives the geometry of a pooling op from the input shape.
// Padding may be at most half the window, so that every window holds at least
// one input element.
func PoolGeometry(x Shape, p Pool2DParams) (PoolGeom, error) {
	const op = "pool2d"
	if len(x) != 4 {
		return PoolGeom{}, fmt.Errorf("%s: input has shape %v (rank %d), expected rank 4 [N C H W]: %w", op, x, len(x), ErrShape)
	}
	if err := x.Validate(); err != nil {
		return PoolGeom{}, fmt.Errorf("%s: input: %w", op, err)
	}
	g := PoolGeom{N: x[0], C: x[1], H: x[2], W: x[3], Window: p.Window, Stride: p.Stride, Pad: p.Pad, ExcludePad: p.ExcludePad}
	for a, axis := range [2]string{"height", "width"} {
		if p.Window[a] >= 1 && 2*p.Pad[a] > p.Window[a] {
			return g, fmt.Errorf("%s: %s padding %d is more than half the window %d: %w", op, axis, p.Pad[a], p.Window[a], ErrParam)
		}
	}
	var err error
	if g.OH, err = OutSize(g.H, p.Window[0], p.Stride[0], p.Pad[0], 1); err != nil {
		return g, fmt.Errorf("%s: height: %w", op, err)
	}
	if g.OW, err = OutSize(g.W, p.Window[1], p.Stride[1], p.Pad[1], 1); err != nil {
		return g, fmt.Errorf("%s: width: %w", op, err)
	}
	return g, nil
}

// CheckPool2D validates the arguments of MaxPool2D and AvgPool2D.
func CheckPool2D(b Backend, op string, y, x *Tensor, p Pool2DParams) (PoolGeom, error) {
	if _, err := CheckArgs(b, op, Arg{"output", y}, Arg{"input", x}); err != nil {
		return PoolGeom{}, err
	}
	g, err := PoolGeometry(x.shape, p)
	if err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	return g, wantShape(op, "output", y, g.YShape())
}

// CheckPool2DBackward validates the arguments of MaxPool2DBackward (x not nil)
// and AvgPool2DBackward (x nil).
func CheckPool2DBackward(b Backend, op string, dx, dy, x *Tensor, p Pool2DParams) (PoolGeom, error) {
	all := [3]Arg{{"input gradient", dx}, {"output gradient", dy}, {"input", x}}
	args := all[:2]
	if x != nil {
		args = all[:3]
	}
	if _, err := CheckArgs(b, op, args...); err != nil {
		return PoolGeom{}, err
	}
	g, err := PoolGeometry(dx.shape, p)
	if err != nil {
		return g, fmt.Errorf("%s: %w", op, err)
	}
	if x != nil {
		if err := wantShape(op, "input", x, dx.shape); err != nil {
			return g, err
		}
	}
	return g, wantShape(op, "output gradient", dy, g.YShape())
}

// CheckGlobalAvgPool validates GlobalAvgPool2D (pooled is y, image is x) and,
// when backward is set, its backward op (pooled is dy, image is dx). It returns
// the geometry with OH = OW = 1.
func CheckGlobalAvgPool(b Backend, backward bool, pooled, image *Tensor) (PoolGeom, error) {
	op, pn, in := "global average pool", "output", "input"
	if backward {
		op, pn, in = "global average pool backward", "output gradient", "input gradient"
	}
	if _, err := CheckArgs(b, op, Arg{in, image}, Arg{pn, pooled}); err != nil {
		return PoolGeom{}, err
	}
	if err := wantRank(op, in, image, 4, "[N C H W]"); err != nil {
		return PoolGeom{}, err
	}
	s := image.shape
	g := PoolGeom{N: s[0], C: s[1], H: s[2], W: s[3], OH: 1, OW: 1, Window: [2]int{s[2], s[3]}, Stride: [2]int{1, 1}}
	ps := pooled.shape
	if !(ps.Equal(Shape{g.N, g.C}) || ps.Equal(Shape{g.N, g.C, 1, 1})) {
		return g, fmt.Errorf("%s: %s has shape %v, expected [%d %d] or [%d %d 1 1]: %w", op, pn, ps, g.N, g.C, g.N, g.C, ErrShape)
	}
	return g, nil
}

// CheckMatMul validates Backend.MatMul and returns M, N and K (c is [M, N],
// op(a) is [M, K], op(b) is [K, N]).
func CheckMatMul(be Backend, c, a, b *Tensor, transA, transB bool) (m, n, k int, err error) {
	const op = "matmul"
	if _, err := CheckArgs(be, op, Arg{"c", c}, Arg{"a", a}, Arg{"b", b}); err != nil {
		return 0, 0, 0, err
	}
	for _, x := range []Arg{{"c", c}, {"a", a}, {"b", b}} {
		if err := wantRank(op, x.Name, x.T, 2, "(a matrix)"); err != nil {
			return 0, 0, 0, err
		}
	}
	m, k = a.shape[0], a.shape[1]
	if transA {
		m, k = k, m
	}
	kb, n := b.shape[0], b.shape[1]
	if transB {
		kb, n = n, kb
	}
	if kb != k {
		return 0, 0, 0, fmt.Errorf("%s: op(a) is [%d %d] and op(b) is [%d %d], expected equal inner dimensions (transA %v, transB %v): %w",
			op, m, k, kb, n, transA, transB, ErrShape)
	}
	return m, n, k, wantShape(op, "c", c, Shape{m, n})
}

// CheckSum validates Backend.Sum and returns, for each axis of src, whether it
// is summed.
func CheckSum(b Backend, dst, src *Tensor, axes []int) ([]bool, error) {
	return CheckSumInto(b, dst, src, axes, nil)
}

// CheckSumInto is CheckSum returning the summed axes in buf's memory when it
// has room for src's rank (a caller's array, so that the check allocates
// nothing), else in a new slice.
func CheckSumInto(b Backend, dst, src *Tensor, axes []int, buf []bool) ([]bool, error) {
	const op = "sum"
	if _, err := CheckArgs(b, op, Arg{"output", dst}, Arg{"input", src}); err != nil {
		return nil, err
	}
	r := len(src.shape)
	sum := buf[:0]
	if cap(buf) < r {
		sum = make([]bool, 0, r)
	}
	sum = sum[:r]
	clear(sum)
	if len(axes) == 0 {
		for i := range sum {
			sum[i] = true
		}
	}
	for _, a := range axes {
		if a < 0 || a >= r {
			return nil, fmt.Errorf("%s: axis %d out of range for input %v, expected 0 ≤ axis < %d: %w", op, a, src.shape, r, ErrParam)
		}
		if sum[a] {
			return nil, fmt.Errorf("%s: axis %d listed twice: %w", op, a, ErrParam)
		}
		sum[a] = true
	}
	if sumShapeOK(dst.shape, src.shape, sum) {
		return sum, nil
	}
	var removed, ones Shape
	for i, d := range src.shape {
		if sum[i] {
			ones = append(ones, 1)
		} else {
			removed = append(removed, d)
			ones = append(ones, d)
		}
	}
	return nil, fmt.Errorf("%s: output has shape %v, expected %v or %v: %w", op, dst.shape, removed, ones, ErrShape)
}

// sumShapeOK reports whether ds is a valid output shape of Sum over the
// axes of src marked in sum: src without those axes, src with them set to
// 1, or one element when every axis is summed.
func sumShapeOK(ds, src Shape, sum []bool) bool {
	j, removed := 0, true // ds == src without the summed axes?
	for i, d := range src {
		if sum[i] {
			continue
		}
		if j >= len(ds) || ds[j] != d {
			removed = false
			break
		}
		j++
	}
	if removed && j == len(ds) {
		return true
	}
	if len(ds) == len(src) { // ds == src with the summed axes set to 1?
		ones := true
		for i, d := range src {
			if sum[i] {
				d = 1
			}
			ones = ones && ds[i] == d
		}
		if ones {
			return true
		}
	}
	for _, s := range sum {
		if !s {
			return false
		}
	}
	return ds.Len() == 1
}

// CheckElementwise validates an elementwise op: every tensor has dst's element
// count. It returns that count.
func CheckElementwise(b Backend, op string, args ...Arg) (int, error) {
	if _, err := CheckArgs(b, op, args...); err != nil {
		return 0, err
	}
	n := args[0].T.Len()
	for _, a := range args[1:] {
		if err := wantLen(op, a.Name, a.T, n, args[0].Name); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// CheckSlope validates the negative slope of LeakyReLU and
// LeakyReLUBackward: any finite value (PyTorch allows negative slopes too);
// NaN and ±Inf are ErrParam errors.
func CheckSlope(op string, slope float64) error {
	if math.IsNaN(slope) || math.IsInf(slope, 0) {
		return fmt.Errorf("%s: negative slope %v, expected a finite number such as 0.01: %w", op, slope, ErrParam)
	}
	return nil
}

// CheckRows validates a row-wise op over the last axis (Softmax,
// SoftmaxBackward, ArgMax): every tensor in same has x's shape, and rowsOut, if
// not nil, has one element per row. It returns the number of rows and the row
// length.
func CheckRows(b Backend, op string, x Arg, rowsOut *Arg, same ...Arg) (rows, cols int, err error) {
	var all [4]Arg // room for the ops of the contract, which pass at most two in same
	args := append(append(all[:0], x), same...)
	if rowsOut != nil {
		args = append(args, *rowsOut)
	}
	if _, err := CheckArgs(b, op, args...); err != nil {
		return 0, 0, err
	}
	if len(x.T.shape) < 1 {
		return 0, 0, fmt.Errorf("%s: %s is a scalar, expected rank ≥ 1: %w", op, x.Name, ErrShape)
	}
	cols = x.T.shape[len(x.T.shape)-1]
	rows = x.T.Len() / cols
	for _, a := range same {
		if err := wantShape(op, a.Name, a.T, x.T.shape); err != nil {
			return 0, 0, err
		}
	}
	if rowsOut != nil && rowsOut.T.Len() != rows {
		return 0, 0, fmt.Errorf("%s: %s %v has %d elements, expected %d (one per row of %s %v): %w",
			op, rowsOut.Name, rowsOut.T.shape, rowsOut.T.Len(), rows, x.Name, x.T.shape, ErrShape)
	}
	return rows, cols, nil
}

// CheckLoss validates MSELoss and BCELoss: loss has one element, target and
// grad (optional) have pred's shape. It returns pred's element count.
func CheckLoss(b Backend, op string, loss, grad, pred, target *Tensor) (int, error) {
	all := [4]Arg{{"loss", loss}, {"prediction", pred}, {"target", target}, {"gradient", grad}}
	args := all[:3]
	if grad != nil {
		args = all[:4]
	}
	if _, err := CheckArgs(b, op, args...); err != nil {
		return 0, err
	}
	if loss.Len() != 1 {
		return 0, fmt.Errorf("%s: loss has shape %v, expected one element: %w", op, loss.shape, ErrShape)
	}
	if err := wantShape(op, "target", target, pred.shape); err != nil {
		return 0, err
	}
	if grad != nil {
		if err := wantShape(op, "gradient", grad, pred.shape); err != nil {
			return 0, err
		}
	}
	return pred.Len(), nil
}

// CheckSoftmaxCrossEntropy validates Backend.SoftmaxCrossEntropy: the checks
// of CheckLoss, and logits of rank 2 [N C]. It returns N and C.
func CheckSoftmaxCrossEntropy(b Backend, loss, grad, logits, target *Tensor) (rows, cols int, err error) {
	const op = "softmax cross-entropy"
	if _, err := CheckLoss(b, op, loss, grad, logits, target); err != nil {
		return 0, 0, err
	}
	if err := wantRank(op, "logits", logits, 2, "[N C]"); err != nil {
		return 0, 0, err
	}
	return logits.shape[0], logits.shape[1], nil
}

func checkRate(op, name string, v, lo, hi float64) error {
	if math.IsNaN(v) || v < lo || v > hi {
		return fmt.Errorf("%s: %s %v, expected in [%v, %v]: %w", op, name, v, lo, hi, ErrParam)
	}
	return nil
}

// CheckSGD validates Backend.SGDStep and returns param's element count. Rates
// that are negative, NaN or infinite, and Nesterov without momentum, are
// ErrParam errors; a missing velocity for Momentum ≠ 0 is an ErrShape error.
func CheckSGD(b Backend, param, grad, velocity *Tensor, o SGDParams) (int, error) {
	const op = "sgd step"
	all := [3]Arg{{"parameter", param}, {"gradient", grad}, {"velocity", velocity}}
	args := all[:2]
	if o.Momentum != 0 || velocity != nil {
		if velocity == nil {
			return 0, fmt.Errorf("%s: momentum %v needs a velocity tensor, got nil: %w", op, o.Momentum, ErrShape)
		}
		args = all[:3]
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"learning rate", o.LR}, {"momentum", o.Momentum}, {"weight decay", o.WeightDecay}} {
		if err := checkRate(op, c.name, c.v, 0, math.MaxFloat64); err != nil {
			return 0, err
		}
	}
	if o.Nesterov && o.Momentum <= 0 {
		return 0, fmt.Errorf("%s: Nesterov momentum needs momentum > 0, got %v: %w", op, o.Momentum, ErrParam)
	}
	return checkSameShapes(b, op, args)
}

// CheckAdam validates Backend.AdamStep and returns param's element count.
func CheckAdam(b Backend, param, grad, m, v *Tensor, o AdamParams, step int) (int, error) {
	const op = "adam step"
	if step < 1 {
		return 0, fmt.Errorf("%s: step %d, expected ≥ 1: %w", op, step, ErrParam)
	}
	for _, c := range []struct {
		name   string
		v, max float64
	}{{"learning rate", o.LR, math.MaxFloat64}, {"beta1", o.Beta1, 1}, {"beta2", o.Beta2, 1},
		{"epsilon", o.Eps, math.MaxFloat64}, {"weight decay", o.WeightDecay, math.MaxFloat64}} {
		if err := checkRate(op, c.name, c.v, 0, c.max); err != nil {
			return 0, err
		}
	}
	if o.Beta1 >= 1 || o.Beta2 >= 1 {
		return 0, fmt.Errorf("%s: beta1 %v and beta2 %v, expected both < 1: %w", op, o.Beta1, o.Beta2, ErrParam)
	}
	return checkSameShapes(b, op, []Arg{{"parameter", param}, {"gradient", grad}, {"first moment", m}, {"second moment", v}})
}

func checkSameShapes(b Backend, op string, args []Arg) (int, error) {
	if _, err := CheckArgs(b, op, args...); err != nil {
		return 0, err
	}
	for _, a := range args[1:] {
		if err := wantShape(op, a.Name, a.T, args[0].T.shape); err != nil {
			return 0, err
		}
	}
	return args[0].T.Len(), nil
}

// PerChannel returns Outer·Inner, the number of elements of each channel.
func (g ChannelGeom) PerChannel() int { return g.Outer * g.Inner }

// checkBatchNormParams validates Eps and, when training, Momentum.
func checkBatchNormParams(op string, p BatchNormParams, train bool) error {
	if math.IsNaN(p.Eps) || math.IsInf(p.Eps, 0) || p.Eps <= 0 {
		return fmt.Errorf("%s: eps %v, expected a finite number > 0 such as 1e-5: %w", op, p.Eps, ErrParam)
	}
	if train {
		return checkRate(op, "momentum", p.Momentum, 0, 1)
	}
	return nil
}

// batchNormInput checks that x has rank ≥ 2 (channels on axis 1) and that
// out has x's shape, and returns x's channel geometry.
func batchNormInput(op, xName string, x *Tensor, outName string, out *Tensor) (ChannelGeom, error) {
	if len(x.shape) < 2 {
		return ChannelGeom{}, fmt.Errorf("%s: %s has shape %v, expected [N C] or [N C H W] (rank ≥ 2, channels on axis 1): %w",
			op, xName, x.shape, ErrShape)
	}
	g := ChannelGeom{Outer: x.shape[0], C: x.shape[1], Inner: x.shape[2:].Len()}
	if out != nil {
		if err := wantShape(op, outName, out, x.shape); err != nil {
			return g, err
		}
	}
	return g, nil
}

// wantChannels checks that every present argument has shape [c].
func wantChannels(op string, c int, args []Arg) error {
	for _, a := range args {
		if a.T != nil {
			if err := wantShape(op, a.Name, a.T, Shape{c}); err != nil {
				return err
			}
		}
	}
	return nil
}

// present returns the arguments whose tensors are not nil, in args' own
// memory (the call's argument list), so that it allocates nothing.
func present(args ...Arg) []Arg {
	out := args[:0]
	for _, a := range args {
		if a.T != nil {
			out = append(out, a)
		}
	}
	return out
}

// CheckBatchNormTrain validates Backend.BatchNormTrain and returns x's
// channel geometry. x is [N, C, ...] (rank ≥ 2) and y has its shape; mean,
// invStd and the optional gamma, beta, runningMean and runningVar are [C];
// runningMean and runningVar are both given or both nil. Errors wrap
// ErrShape (shapes, nil required tensors, one running statistic without the
// other), ErrParam (Eps, Momentum, and one value per channel: PyTorch's
// "Expected more than 1 value per channel when training"), ErrDType,
// ErrBackend or ErrFreed.
func CheckBatchNormTrain(b Backend, y, mean, invStd, runningMean, runningVar, x, gamma, beta *Tensor, p BatchNormParams) (ChannelGeom, error) {
	const op = "batch norm train"
	if (runningMean == nil) != (runningVar == nil) {
		return ChannelGeom{}, fmt.Errorf("%s: running mean is %v and running variance is %v, expected both tensors or both nil: %w",
			op, runningMean, runningVar, ErrShape)
	}
	all := [8]Arg{{"output", y}, {"mean", mean}, {"inverse std", invStd}, {"input", x},
		{"gamma", gamma}, {"beta", beta}, {"running mean", runningMean}, {"running variance", runningVar}}
	args := append(all[:4], present(all[4:]...)...)
	if _, err := CheckArgs(b, op, args...); err != nil {
		return ChannelGeom{}, err
	}
	if err := checkBatchNormParams(op, p, true); err != nil {
		return ChannelGeom{}, err
	}
	g, err := batchNormInput(op, "input", x, "output", y)
	if err != nil {
		return g, err
	}
	if err := wantChannels(op, g.C, args[1:3]); err != nil {
		return g, err
	}
	if err := wantChannels(op, g.C, args[4:]); err != nil {
		return g, err
	}
	if g.PerChannel() < 2 {
		return g, fmt.Errorf("%s: input %v has %d value per channel, expected more than 1 value per channel when training: %w",
			op, x.shape, g.PerChannel(), ErrParam)
	}
	return g, nil
}

// CheckBatchNormEval validates Backend.BatchNormEval and returns x's channel
// geometry: y has x's shape (rank ≥ 2, channels on axis 1), runningMean and
// runningVar and the optional gamma and beta are [C], and Eps is finite and
// > 0. Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend or ErrFreed.
func CheckBatchNormEval(b Backend, y, x, gamma, beta, runningMean, runningVar *Tensor, p BatchNormParams) (ChannelGeom, error) {
	const op = "batch norm eval"
	all := [6]Arg{{"output", y}, {"input", x}, {"running mean", runningMean}, {"running variance", runningVar},
		{"gamma", gamma}, {"beta", beta}}
	args := append(all[:4], present(all[4:]...)...)
	if _, err := CheckArgs(b, op, args...); err != nil {
		return ChannelGeom{}, err
	}
	if err := checkBatchNormParams(op, p, false); err != nil {
		return ChannelGeom{}, err
	}
	g, err := batchNormInput(op, "input", x, "output", y)
	if err != nil {
		return g, err
	}
	return g, wantChannels(op, g.C, args[2:])
}

// CheckBatchNormBackward validates Backend.BatchNormBackward and returns x's
// channel geometry: dy and the optional dx have x's shape (rank ≥ 2,
// channels on axis 1); mean, invStd and the optional gamma, dgamma and dbeta
// are [C]. Errors wrap ErrShape, ErrDType, ErrBackend or ErrFreed.
func CheckBatchNormBackward(b Backend, dx, dgamma, dbeta, dy, x, gamma, mean, invStd *Tensor) (ChannelGeom, error) {
	const op = "batch norm backward"
	all := [8]Arg{{"output gradient", dy}, {"input", x}, {"mean", mean}, {"inverse std", invStd},
		{"gamma", gamma}, {"gamma gradient", dgamma}, {"beta gradient", dbeta}, {"input gradient", dx}}
	args := append(all[:4], present(all[4:]...)...)
	if _, err := CheckArgs(b, op, args...); err != nil {
		return ChannelGeom{}, err
	}
	g, err := batchNormInput(op, "input", x, "output gradient", dy)
	if err != nil {
		return g, err
	}
	if dx != nil {
		if err := wantShape(op, "input gradient", dx, x.shape); err != nil {
			return g, err
		}
	}
	return g, wantChannels(op, g.C, present(args[2], args[3], Arg{"gamma", gamma}, Arg{"gamma gradient", dgamma}, Arg{"beta gradient", dbeta}))
}

// CheckDropout validates Backend.DropoutMask.
func CheckDropout(b Backend, mask *Tensor, rate float64) error {
	const op = "dropout mask"
	if _, err := CheckArgs(b, op, Arg{"mask", mask}); err != nil {
		return err
	}
	if math.IsNaN(rate) || rate < 0 || rate >= 1 {
		return fmt.Errorf("%s: rate %v, expected in [0, 1): %w", op, rate, ErrParam)
	}
	return nil
}

// backendLabel names backend x in a message that also names other: by its
// name, or, when both have the same name (two Vulkan backends), by its name
// and address, so that the two read differently.
func backendLabel(x, other Backend) string {
	if x.Name() == other.Name() {
		return fmt.Sprintf("%s backend %p", x.Name(), x)
	}
	return fmt.Sprintf("backend %q", x.Name())
}
