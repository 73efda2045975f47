package cpu

import (
	"math"
	"unsafe"

	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
)

// This file holds the elementwise ops (add, mul, scale, activations such as
// ReLU, leaky ReLU, sigmoid, tanh and SiLU and their gradients, the dropout mask), the row-wise ops over the last axis (softmax,
// argmax) and the channel and axis reductions (bias add, bias gradient, sum).
// Elementwise ops split the flat index range over the workers; the
// destination may alias an input, as each element is read before it is
// written.

// elementwise validates an op whose tensors all have the element count of
// args[0], the destination, and runs k32 or k64 on matching chunks of up to
// three tensors (c is nil for a unary op).
func (b *Backend) elementwise(op string, args []tensor.Arg, k32 func(d, a, c []float32), k64 func(d, a, c []float64)) error {
	return b.elementwiseWith(op, args, 0, k32, k64, nil, nil)
}

// elementwiseScalar is elementwise for a kernel that takes a scalar
// parameter v (a factor, a slope), rounded to the dtype, passed to it
// without a closure (which would cost an allocation per call).
func (b *Backend) elementwiseScalar(op string, args []tensor.Arg, v float64, k32 func(d, a, c []float32, v float32), k64 func(d, a, c []float64, v float64)) error {
	return b.elementwiseWith(op, args, v, nil, nil, k32, k64)
}

// elementwiseWith runs k32 or k64, or with a scalar v vk32 or vk64.
func (b *Backend) elementwiseWith(op string, args []tensor.Arg, v float64, k32 func(d, a, c []float32), k64 func(d, a, c []float64),
	vk32 func(d, a, c []float32, v float32), vk64 func(d, a, c []float64, v float64)) error {
	if err := b.open(op); err != nil {
		return err
	}
	n, err := tensor.CheckElementwise(b, op, args...)
	if err != nil {
		return err
	}
	if args[0].T.DType() == tensor.Float32 {
		runElementwise(b, n, args, k32, vk32, float32(v))
	} else {
		runElementwise(b, n, args, k64, vk64, v)
	}
	return nil
}

func runElementwise[T scalar](b *Backend, n int, args []tensor.Arg, k func(d, a, c []T), vk func(d, a, c []T, v T), v T) {
	t := getTask[elemTask[T], T](&elemTasks)
	defer putTask[elemTask[T], T](&elemTasks, t)
	for i, a := range args {
		t.s[i] = data[T](a.T)
	}
	t.k, t.vk, t.v = k, vk, v
	b.parallelTask(n, elemGrain, t)
}

// elemTask is runElementwise's loop as a par.Task, pooled so that a call
// allocates nothing: the operands and the kernel (k, or vk with its scalar
// v).
type elemTask[T scalar] struct {
	s  [3][]T
	k  func(d, a, c []T)
	vk func(d, a, c []T, v T)
	v  T
}

// Run applies the kernel to the elements [lo, hi).
func (t *elemTask[T]) Run(_, lo, hi int) {
	var c []T
	if t.s[2] != nil {
		c = t.s[2][lo:hi]
	}
	if t.vk != nil {
		t.vk(t.s[0][lo:hi], t.s[1][lo:hi], c, t.v)
		return
	}
	t.k(t.s[0][lo:hi], t.s[1][lo:hi], c)
}

func args3(dst, a, c *tensor.Tensor, names ...string) []tensor.Arg {
	return []tensor.Arg{{Name: names[0], T: dst}, {Name: names[1], T: a}, {Name: names[2], T: c}}
}

func args2(dst, a *tensor.Tensor, names ...string) []tensor.Arg {
	return []tensor.Arg{{Name: names[0], T: dst}, {Name: names[1], T: a}}
}

// Add sets dst = a + c elementwise; all three have the same element count and
// dst may alias either input. Errors wrap ErrShape, ErrDType, ErrBackend,
// ErrFreed or ErrClosed.
func (b *Backend) Add(dst, a, c *tensor.Tensor) error {
	return b.elementwise("add", args3(dst, a, c, "output", "a", "b"), add32, addK[float64])
}

// add32 is addK for float32, internal/vec's AVX-512 loop where it runs.
func add32(d, a, c []float32) {
	if vec.Enabled {
		vec.Add(d, a, c)
		return
	}
	addK(d, a, c)
}

func addK[T scalar](d, a, c []T) {
	a, c = a[:len(d)], c[:len(d)]
	for i := range d {
		d[i] = a[i] + c[i]
	}
}

// Mul sets dst = a ⊙ c elementwise. Errors as for Add.
func (b *Backend) Mul(dst, a, c *tensor.Tensor) error {
	return b.elementwise("mul", args3(dst, a, c, "output", "a", "b"), mulK[float32], mulK[float64])
}

func mulK[T scalar](d, a, c []T) {
	a, c = a[:len(d)], c[:len(d)]
	for i := range d {
		d[i] = a[i] * c[i]
	}
}

// Scale sets dst = alpha·x, with alpha rounded to the tensors' dtype. Errors as
// for Add.
func (b *Backend) Scale(dst, x *tensor.Tensor, alpha float64) error {
	return b.elementwiseScalar("scale", args2(dst, x, "output", "input"), alpha, scaleK[float32], scaleK[float64])
}

func scaleK[T scalar](d, a, _ []T, alpha T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = alpha * a[i]
	}
}

// ReLU sets dst = max(x, 0) (NaN stays NaN). Errors as for Add.
func (b *Backend) ReLU(dst, x *tensor.Tensor) error {
	return b.elementwise("relu", args2(dst, x, "output", "input"), relu32, reluK[float64])
}

// relu32 is reluK for float32, internal/vec's AVX-512 loop where it runs.
func relu32(d, a, _ []float32) {
	if vec.Enabled {
		vec.ReLU(d, a)
		return
	}
	reluK(d, a, nil)
}

func reluK[T scalar](d, a, _ []T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = max(a[i], 0)
	}
}

// ReLUBackward sets dx = dy where x > 0, else 0. Errors as for Add.
func (b *Backend) ReLUBackward(dx, dy, x *tensor.Tensor) error {
	return b.elementwise("relu backward", args3(dx, dy, x, "input gradient", "output gradient", "input"),
		reluBackward32, reluBackwardK[float64])
}

// reluBackward32 is reluBackwardK for float32, internal/vec's AVX-512 loop
// where it runs.
func reluBackward32(dx, dy, x []float32) {
	if vec.Enabled {
		vec.ReLUGrad(dx, dy, x)
		return
	}
	reluBackwardK(dx, dy, x)
}

func reluBackwardK[T scalar](dx, dy, x []T) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i := range dx {
		dx[i] = and(dy[i], mask(x[i] > 0))
	}
}

// mask returns all ones when c holds, else 0: a branch-free select, as
// and(v, mask(c)) is v when c holds and +0 otherwise. The compiler turns it
// into a flag-setting instruction and a negation, where an if around an
// assignment would be a branch that random data mispredicts half the time.
func mask(c bool) uint64 {
	var m uint64
	if c {
		m = ^uint64(0)
	}
	return m
}

// bits returns the bits of v, widened to 64.
func bits[T scalar](v T) uint64 {
	if unsafe.Sizeof(v) == 4 {
		return uint64(*(*uint32)(unsafe.Pointer(&v)))
	}
	return *(*uint64)(unsafe.Pointer(&v))
}

// setBits stores the low 32 or 64 bits of b, by T's size, as *p.
func setBits[T scalar](p *T, b uint64) {
	if unsafe.Sizeof(*p) == 4 {
		*(*uint32)(unsafe.Pointer(p)) = uint32(b)
		return
	}
	*(*uint64)(unsafe.Pointer(p)) = b
}

// and returns v with its bits ANDed with m: v or +0 for the masks of mask.
// It reinterprets the bits through unsafe rather than switching on the type,
// which in generic code is a run-time lookup per call.
func and[T scalar](v T, m uint64) T {
	if unsafe.Sizeof(v) == 4 {
		b := *(*uint32)(unsafe.Pointer(&v)) & uint32(m)
		return *(*T)(unsafe.Pointer(&b))
	}
	b := *(*uint64)(unsafe.Pointer(&v)) & m
	return *(*T)(unsafe.Pointer(&b))
}

// sigmoid returns 1/(1+e^−x) without overflow: for x < 0 it uses e^x/(1+e^x).
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// Sigmoid sets dst = 1/(1+e^−x), computed in float64 without overflow for any
// x: through math.Exp for float64 tensors, and for float32 ones through
// vec.Sigmoid64's polynomial (within 2 float64 ulps of the former, the same
// bits on every machine, and vectorized on AVX-512), rounded once. Errors as
// for Add.
func (b *Backend) Sigmoid(dst, x *tensor.Tensor) error {
	return b.elementwise("sigmoid", args2(dst, x, "output", "input"), sigmoid32, sigmoid64)
}

// sigmoid32 is Sigmoid's float32 loop, internal/vec's AVX-512 one where it
// runs.
func sigmoid32(d, a, _ []float32) {
	if vec.Enabled {
		vec.Sigmoid(d, a)
		return
	}
	a = a[:len(d)]
	for i := range d {
		d[i] = float32(vec.Sigmoid64(float64(a[i])))
	}
}

func sigmoid64(d, a, _ []float64) {
	a = a[:len(d)]
	for i := range d {
		d[i] = sigmoid(a[i])
	}
}

// SigmoidBackward sets dx = dy·y·(1−y), where y is Sigmoid's output. Errors as
// for Add.
func (b *Backend) SigmoidBackward(dx, dy, y *tensor.Tensor) error {
	return b.elementwise("sigmoid backward", args3(dx, dy, y, "input gradient", "output gradient", "output"),
		sigmoidBackwardK[float32], sigmoidBackwardK[float64])
}

func sigmoidBackwardK[T scalar](dx, dy, y []T) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	for i := range dx {
		dx[i] = dy[i] * y[i] * (1 - y[i])
	}
}

// Tanh sets dst = tanh(x), computed in float64. Errors as for Add.
func (b *Backend) Tanh(dst, x *tensor.Tensor) error {
	return b.elementwise("tanh", args2(dst, x, "output", "input"), tanhK[float32], tanhK[float64])
}

func tanhK[T scalar](d, a, _ []T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = T(math.Tanh(float64(a[i])))
	}
}

// TanhBackward sets dx = dy·(1−y²), where y is Tanh's output. Errors as for
// Add.
func (b *Backend) TanhBackward(dx, dy, y *tensor.Tensor) error {
	return b.elementwise("tanh backward", args3(dx, dy, y, "input gradient", "output gradient", "output"),
		tanhBackwardK[float32], tanhBackwardK[float64])
}

func tanhBackwardK[T scalar](dx, dy, y []T) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	for i := range dx {
		dx[i] = dy[i] * (1 - y[i]*y[i])
	}
}

// LeakyReLU sets dst = x where x > 0, else slope·x, with slope rounded to the
// tensors' dtype (NaN stays NaN). dst may alias x. Errors wrap ErrParam (a
// slope that is NaN or infinite), ErrShape, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) LeakyReLU(dst, x *tensor.Tensor, slope float64) error {
	const op = "leaky relu"
	if err := tensor.CheckSlope(op, slope); err != nil {
		return err
	}
	return b.elementwiseScalar(op, args2(dst, x, "output", "input"), slope, leakyReLUK[float32], leakyReLUK[float64])
}

func leakyReLUK[T scalar](d, a, _ []T, slope T) {
	a = a[:len(d)]
	for i, v := range a {
		if v > 0 {
			d[i] = v
		} else {
			d[i] = slope * v
		}
	}
}

// LeakyReLUBackward sets dx = dy where x > 0, else slope·dy. dx may alias dy
// or x. Errors as for LeakyReLU.
func (b *Backend) LeakyReLUBackward(dx, dy, x *tensor.Tensor, slope float64) error {
	const op = "leaky relu backward"
	if err := tensor.CheckSlope(op, slope); err != nil {
		return err
	}
	return b.elementwiseScalar(op, args3(dx, dy, x, "input gradient", "output gradient", "input"), slope,
		leakyReLUBackwardK[float32], leakyReLUBackwardK[float64])
}

func leakyReLUBackwardK[T scalar](dx, dy, x []T, slope T) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, g := range dy {
		if x[i] > 0 {
			dx[i] = g
		} else {
			dx[i] = slope * g
		}
	}
}

// SiLU sets dst = x·sigmoid(x) (PyTorch's SiLU, also called swish), computed
// in float64 without overflow for any x. dst may alias x. Errors wrap
// ErrShape, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) SiLU(dst, x *tensor.Tensor) error {
	return b.elementwise("silu", args2(dst, x, "output", "input"), siluK[float32], siluK[float64])
}

func siluK[T scalar](d, a, _ []T) {
	a = a[:len(d)]
	for i := range d {
		x := float64(a[i])
		d[i] = T(x * sigmoid(x))
	}
}

// SiLUBackward sets dx = dy·s·(1 + x·(1−s)) with s = sigmoid(x), computed in
// float64: the gradient of SiLU with respect to its input x. dx may alias dy
// or x. Errors as for SiLU.
func (b *Backend) SiLUBackward(dx, dy, x *tensor.Tensor) error {
	return b.elementwise("silu backward", args3(dx, dy, x, "input gradient", "output gradient", "input"),
		siluBackwardK[float32], siluBackwardK[float64])
}

func siluBackwardK[T scalar](dx, dy, x []T) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i := range dx {
		v := float64(x[i])
		s := sigmoid(v)
		dx[i] = T(float64(dy[i]) * s * (1 + v*(1-s)))
	}
}

// DropoutMask fills mask with 0 where DropoutUniform(seed, i) < rate and with
// 1/(1−rate), computed in float64 and rounded to the mask's dtype, elsewhere. The comparison is exact
// (u is a multiple of 2^−24, compared with rate in float64), so the mask is the
// same on every backend. rate must be in [0, 1); errors wrap ErrParam,
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) DropoutMask(mask *tensor.Tensor, rate float64, seed uint64) error {
	if err := b.open("dropout mask"); err != nil {
		return err
	}
	if err := tensor.CheckDropout(b, mask, rate); err != nil {
		return err
	}
	if mask.DType() == tensor.Float32 {
		dropoutMask(b, data[float32](mask), rate, seed)
	} else {
		dropoutMask(b, data[float64](mask), rate, seed)
	}
	return nil
}

func dropoutMask[T scalar](b *Backend, m []T, rate float64, seed uint64) {
	t := getTask[maskTask[T], T](&maskTasks)
	defer putTask[maskTask[T], T](&maskTasks, t)
	t.m, t.rate, t.seed = m, rate, seed
	b.parallelTask(len(m), elemGrain, t)
}

// maskTask is DropoutMask as a par.Task over elements (task.go).
type maskTask[T scalar] struct {
	m    []T
	rate float64
	seed uint64
}

// Run draws the elements [lo, hi).
func (t *maskTask[T]) Run(_, lo, hi int) {
	keep := T(1 / (1 - t.rate))
	for i := lo; i < hi; i++ {
		if float64(tensor.DropoutUniform(t.seed, uint32(i))) >= t.rate {
			t.m[i] = keep
		} else {
			t.m[i] = 0
		}
	}
}

// rowGrainFor returns how many rows of length cols one worker should get at
// least, so that a worker has a few thousand elements to process.
func rowGrainFor(cols int) int { return max(1, 4096/max(cols, 1)) }

// Softmax sets dst to the softmax of x along its last axis (rank ≥ 1). It
// subtracts the row maximum first, so no exponential overflows, and sums each
// row in float64. dst may alias x. Errors wrap ErrShape, ErrDType, ErrBackend,
// ErrFreed or ErrClosed.
func (b *Backend) Softmax(dst, x *tensor.Tensor) error {
	const op = "softmax"
	if err := b.open(op); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, op, tensor.Arg{Name: "input", T: x}, nil, tensor.Arg{Name: "output", T: dst})
	if err != nil {
		return err
	}
	if x.DType() == tensor.Float32 {
		softmax(b, rows, cols, data[float32](dst), data[float32](x))
	} else {
		softmax(b, rows, cols, data[float64](dst), data[float64](x))
	}
	return nil
}

func softmax[T scalar](b *Backend, rows, cols int, dst, x []T) {
	runRows(b, rowSoftmax, rows, cols, dst, x, nil)
}

// The ops a rowTask runs.
const (
	rowArgMax          = iota // out: one index per row of in
	rowSoftmax                // out: the softmax of in
	rowSoftmaxBackward        // out: dx from in (y) and dy
)

// rowTask is a row-wise op (kind) as a par.Task over rows (task.go).
type rowTask[T scalar] struct {
	kind        int
	cols        int
	out, in, dy []T
}

// runRows runs op kind over rows of cols values.
func runRows[T scalar](b *Backend, kind, rows, cols int, out, in, dy []T) {
	t := getTask[rowTask[T], T](&rowTasks)
	defer putTask[rowTask[T], T](&rowTasks, t)
	t.kind, t.cols, t.out, t.in, t.dy = kind, cols, out, in, dy
	b.parallelTask(rows, rowGrainFor(cols), t)
}

// Run does the rows [lo, hi).
func (t *rowTask[T]) Run(_, lo, hi int) {
	switch t.kind {
	case rowArgMax:
		t.argMax(lo, hi)
	case rowSoftmax:
		t.softmax(lo, hi)
	default:
		t.softmaxBackward(lo, hi)
	}
}

// softmax does the rows [lo, hi) of Softmax.
func (t *rowTask[T]) softmax(lo, hi int) {
	cols, x, dst := t.cols, t.in, t.out
	for r := lo; r < hi; r++ {
		xr, dr := x[r*cols:][:cols], dst[r*cols:][:cols]
		m := xr[0]
		for _, v := range xr[1:] {
			m = max(m, v)
		}
		var s float64
		for j, v := range xr {
			e := T(math.Exp(float64(v - m)))
			dr[j] = e
			s += float64(e)
		}
		inv := 1 / s
		for j, v := range dr {
			dr[j] = T(float64(v) * inv)
		}
	}
}

// SoftmaxBackward sets dx = y ⊙ (dy − Σ_last(dy ⊙ y)) row by row, where y is
// Softmax's output; the row sums are taken in float64. dx may alias dy or y.
// Errors wrap ErrShape, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) SoftmaxBackward(dx, dy, y *tensor.Tensor) error {
	const op = "softmax backward"
	if err := b.open(op); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, op, tensor.Arg{Name: "output", T: y}, nil,
		tensor.Arg{Name: "input gradient", T: dx}, tensor.Arg{Name: "output gradient", T: dy})
	if err != nil {
		return err
	}
	if y.DType() == tensor.Float32 {
		softmaxBackward(b, rows, cols, data[float32](dx), data[float32](dy), data[float32](y))
	} else {
		softmaxBackward(b, rows, cols, data[float64](dx), data[float64](dy), data[float64](y))
	}
	return nil
}

func softmaxBackward[T scalar](b *Backend, rows, cols int, dx, dy, y []T) {
	runRows(b, rowSoftmaxBackward, rows, cols, dx, y, dy)
}

// softmaxBackward does the rows [lo, hi) of SoftmaxBackward.
func (t *rowTask[T]) softmaxBackward(lo, hi int) {
	cols, dx, y, dy := t.cols, t.out, t.in, t.dy
	for r := lo; r < hi; r++ {
		dxr, dyr, yr := dx[r*cols:][:cols], dy[r*cols:][:cols], y[r*cols:][:cols]
		var dot float64
		for j, v := range yr {
			dot += float64(dyr[j]) * float64(v)
		}
		for j, v := range yr {
			dxr[j] = T(float64(v) * (float64(dyr[j]) - dot))
		}
	}
}

// greater reports whether v beats the current maximum best: it is larger, or
// it is the first NaN (NaN wins, as it does in PyTorch).
func greater[T scalar](v, best T) bool {
	return v > best || (v != v && best == best)
}

// ArgMax sets dst, which has one element per row, to the index (as a float) of
// the largest element of each row of x along its last axis: the first one on
// ties, and the first NaN if the row has one. Errors wrap ErrShape, ErrDType,
// ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) ArgMax(dst, x *tensor.Tensor) error {
	const op = "argmax"
	if err := b.open(op); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckRows(b, op, tensor.Arg{Name: "input", T: x}, &tensor.Arg{Name: "output", T: dst})
	if err != nil {
		return err
	}
	if x.DType() == tensor.Float32 {
		argMax(b, rows, cols, data[float32](dst), data[float32](x))
	} else {
		argMax(b, rows, cols, data[float64](dst), data[float64](x))
	}
	return nil
}

func argMax[T scalar](b *Backend, rows, cols int, dst, x []T) {
	runRows(b, rowArgMax, rows, cols, dst, x, nil)
}

// argMax does the rows [lo, hi) of ArgMax.
func (t *rowTask[T]) argMax(lo, hi int) {
	cols := t.cols
	for r := lo; r < hi; r++ {
		xr := t.in[r*cols:][:cols]
		best := 0
		for j, v := range xr {
			if greater(v, xr[best]) {
				best = j
			}
		}
		t.out[r] = T(best)
	}
}

// AddBias sets y = x + bias with bias [x.Dim(1)] broadcast along axis 1 of x
// (rank ≥ 2: [N, F] or [N, C, H, W]). y may alias x. Errors wrap ErrShape,
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) AddBias(y, x, bias *tensor.Tensor) error {
	if err := b.open("add bias"); err != nil {
		return err
	}
	g, err := tensor.CheckAddBias(b, y, x, bias)
	if err != nil {
		return err
	}
	if y.DType() == tensor.Float32 {
		addBias(b, g, data[float32](y), data[float32](x), data[float32](bias))
	} else {
		addBias(b, g, data[float64](y), data[float64](x), data[float64](bias))
	}
	return nil
}

func addBias[T scalar](b *Backend, g tensor.ChannelGeom, y, x, bias []T) {
	t := getTask[chanTask[T], T](&chanTasks)
	defer putTask[chanTask[T], T](&chanTasks, t)
	t.g, t.out, t.in, t.bias = g, y, x, bias
	b.parallelTask(g.Outer*g.C, max(1, elemGrain/g.Inner), t)
}

// chanTask is AddBias (bias set) or BiasGrad (bias nil) as a par.Task over
// rows (AddBias: outer index and channel) or channels (BiasGrad), pooled so
// that a call allocates nothing.
type chanTask[T scalar] struct {
	g             tensor.ChannelGeom
	out, in, bias []T
}

// Run does the rows or channels [lo, hi).
func (t *chanTask[T]) Run(_, lo, hi int) {
	g := &t.g
	if t.bias != nil {
		for r := lo; r < hi; r++ {
			v := t.bias[r%g.C]
			yr, xr := t.out[r*g.Inner:][:g.Inner], t.in[r*g.Inner:][:g.Inner]
			for i, xv := range xr {
				yr[i] = xv + v
			}
		}
		return
	}
	for c := lo; c < hi; c++ {
		t.out[c] = T(chanSum(*g, t.in, c))
	}
}

// sum64 returns the sum of s accumulated in float64, in four interleaved
// partial sums so that the additions do not wait for one another.
func sum64[T scalar](s []T) float64 {
	var t0, t1, t2, t3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		q := s[i : i+4 : i+4]
		t0 += float64(q[0])
		t1 += float64(q[1])
		t2 += float64(q[2])
		t3 += float64(q[3])
	}
	for ; i < len(s); i++ {
		t0 += float64(s[i])
	}
	return (t0 + t1) + (t2 + t3)
}

// BiasGrad sums dy over every axis but axis 1 into db ([dy.Dim(1)]),
// accumulating in float64: the bias gradient of Conv2D (dy [N, K, OH, OW]) and
// of AddBias (dy [N, F]). Errors wrap ErrShape, ErrDType, ErrBackend, ErrFreed
// or ErrClosed.
func (b *Backend) BiasGrad(db, dy *tensor.Tensor) error {
	if err := b.open("bias gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckBiasGrad(b, db, dy)
	if err != nil {
		return err
	}
	if db.DType() == tensor.Float32 {
		biasGrad(b, g, data[float32](db), data[float32](dy))
	} else {
		biasGrad(b, g, data[float64](db), data[float64](dy))
	}
	return nil
}

func biasGrad[T scalar](b *Backend, g tensor.ChannelGeom, db, dy []T) {
	t := getTask[chanTask[T], T](&chanTasks)
	defer putTask[chanTask[T], T](&chanTasks, t)
	t.g, t.out, t.in = g, db, dy
	b.parallelTask(g.C, max(1, elemGrain/(g.Outer*g.Inner)), t)
}

// Sum sums src over the listed axes (each once, in range) into dst, whose
// shape is src's with those axes removed or set to 1; no axes sums every
// element into a one-element dst. Sums accumulate in float64. Errors wrap
// ErrParam (bad axes), ErrShape, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Sum(dst, src *tensor.Tensor, axes ...int) error {
	if err := b.open("sum"); err != nil {
		return err
	}
	var buf [maxInline]bool
	summed, err := tensor.CheckSumInto(b, dst, src, axes, buf[:])
	if err != nil {
		return err
	}
	if dst.DType() == tensor.Float32 {
		sumAxes(b, src, summed, data[float32](dst), data[float32](src))
	} else {
		sumAxes(b, src, summed, data[float64](dst), data[float64](src))
	}
	return nil
}

// maxInline is the rank up to which Sum keeps its bookkeeping in arrays
// (higher ranks allocate).
const maxInline = 8

// reduction describes Sum over a shape whose adjacent axes that are all
// summed or all kept are merged into one, and size-1 axes dropped: dims
// alternate between kept and summed runs.
type reduction struct {
	dims    []int
	summed  []bool
	stride  []int // src stride of each merged axis
	dstride []int // dst stride of each merged axis (0 when summed)
	// The memory of the slices above up to maxInline merged axes.
	inline struct {
		dims, stride, dstride [maxInline]int
		summed                [maxInline]bool
	}
}

// init sets r up for src, summed over the axes marked in summed.
func (r *reduction) init(src *tensor.Tensor, summed []bool) {
	r.dims, r.summed = r.inline.dims[:0], r.inline.summed[:0]
	for i := range src.Rank() {
		d := src.Dim(i)
		switch {
		case d == 1:
		case len(r.dims) > 0 && r.summed[len(r.summed)-1] == summed[i]:
			r.dims[len(r.dims)-1] *= d
		default:
			r.dims = append(r.dims, d)
			r.summed = append(r.summed, summed[i])
		}
	}
	if len(r.dims) == 0 {
		r.dims, r.summed = append(r.dims, 1), append(r.summed, true)
	}
	r.stride, r.dstride = r.inline.stride[:0], r.inline.dstride[:0]
	for range r.dims {
		r.stride, r.dstride = append(r.stride, 0), append(r.dstride, 0)
	}
	s, ds := 1, 1
	for i := len(r.dims) - 1; i >= 0; i-- {
		r.stride[i] = s
		s *= r.dims[i]
		if !r.summed[i] {
			r.dstride[i] = ds
			ds *= r.dims[i]
		}
	}
}

// reduceInto accumulates src, the block of merged axes ax and below, into acc at
// offset do.
func reduceInto[T scalar](r *reduction, acc []float64, src []T, ax, do int) {
	n := r.dims[ax]
	if ax == len(r.dims)-1 {
		if r.summed[ax] {
			acc[do] += sum64(src[:n])
			return
		}
		a := acc[do:][:n]
		for i, v := range src[:n] {
			a[i] += float64(v)
		}
		return
	}
	for i := 0; i < n; i++ {
		reduceInto(r, acc, src[i*r.stride[ax]:], ax+1, do+i*r.dstride[ax])
	}
}

// sumAxes splits the outermost merged axis over the workers, each summing
// into its own float64 accumulator, and adds the accumulators in worker order.
func sumAxes[T scalar](b *Backend, srcT *tensor.Tensor, summed []bool, dst, src []T) {
	t := getTask[sumTask[T], T](&sumTasks)
	defer putTask[sumTask[T], T](&sumTasks, t)
	r := &t.r
	r.init(srcT, summed)
	outer := r.dims[0]
	grain := max(1, elemGrain/r.stride[0])
	nw := b.workers(outer, grain)
	acc := getScratch[float64](nw * len(dst))
	defer putScratch(acc)
	clear(*acc)
	t.acc, t.dst, t.src = *acc, dst, src
	b.parallelTask(outer, grain, t)
	for i := range dst {
		s := t.acc[i]
		for w := 1; w < nw; w++ {
			s += t.acc[w*len(dst)+i]
		}
		dst[i] = T(s)
	}
}

// sumTask is Sum as a par.Task over the outermost merged axis (task.go),
// with one accumulator of len(dst) per worker in acc.
type sumTask[T scalar] struct {
	r        reduction
	acc      []float64
	dst, src []T
}

// Run sums the outer indices [lo, hi) into worker w's accumulator.
func (t *sumTask[T]) Run(w, lo, hi int) {
	r, src := &t.r, t.src
	a := t.acc[w*len(t.dst):][:len(t.dst)]
	if len(r.dims) > 1 {
		for i := lo; i < hi; i++ {
			reduceInto(r, a, src[i*r.stride[0]:], 1, i*r.dstride[0])
		}
		return
	}
	if r.summed[0] {
		a[0] += sum64(src[lo:hi])
		return
	}
	for i := lo; i < hi; i++ {
		a[i] += float64(src[i])
	}
}
