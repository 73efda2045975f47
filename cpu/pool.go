package cpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// Pooling works plane by plane: one (image, channel) plane of the input maps
// to one plane of the output, so the planes are split over the workers and
// each writes only its own. Within a plane the kernels go one output row at a
// time and, for each window row h and window column kw, sweep the output
// columns whose tap (h, kw) lies inside the input: a short strided loop with
// no per-window set-up, visiting each window in row-major order. Max pooling
// over the usual 2×2 windows with stride 2, which do not overlap, has loops
// of its own: one pass per output row, and a backward pass that writes each
// window's four gradients with masks instead of branches.

// extent returns the input rows [lo, hi) that the windows of output row oh
// cover, clipped to the input (padding left out).
func extent(g *tensor.PoolGeom, oh int) (lo, hi int) {
	lo = oh*g.Stride[0] - g.Pad[0]
	return max(lo, 0), min(lo+g.Window[0], g.H)
}

// taps returns, for window column kw, the offset off such that output column
// ow reads input column ow·stride + off, and the output columns [lo, hi) for
// which that column lies inside the input.
func taps(g *tensor.PoolGeom, kw int) (off, lo, hi int) {
	off = kw - g.Pad[1]
	lo, hi = span(g.OW, g.Stride[1], off, g.W)
	return off, lo, hi
}

// argmaxRow sets idx[ow] to the index in the plane x of the maximum of each
// window of output row oh: the first in row-major window order on ties, or
// the first NaN if the window holds one. It finds the maxima first, into val,
// then sweeps the window taps in reverse order recording where x equals the
// maximum, so that the first match is recorded last; both passes are free of
// data-dependent branches. Every window holds at least one input element
// (PoolGeometry bounds the padding).
func argmaxRow[T scalar](g *tensor.PoolGeom, x []T, oh int, idx []int, val []T) {
	maxRow(g, x, oh, val)
	h0, h1 := extent(g, oh)
	sw := g.Stride[1]
	for h := h1 - 1; h >= h0; h-- {
		xr := x[h*g.W:][:g.W]
		for kw := g.Window[1] - 1; kw >= 0; kw-- {
			off, lo, hi := taps(g, kw)
			for ow := lo; ow < hi; ow++ {
				i := idx[ow]
				if v := xr[ow*sw+off]; v == val[ow] || v != v {
					i = h*g.W + ow*sw + off
				}
				idx[ow] = i
			}
		}
	}
}

// maxRow sets y[ow] to the maximum of each window of output row oh of the
// plane x; a NaN in a window gives NaN.
func maxRow[T scalar](g *tensor.PoolGeom, x []T, oh int, y []T) {
	for i := range y {
		y[i] = T(math.Inf(-1))
	}
	h0, h1 := extent(g, oh)
	sw := g.Stride[1]
	for h := h0; h < h1; h++ {
		xr := x[h*g.W:][:g.W]
		for kw := 0; kw < g.Window[1]; kw++ {
			off, lo, hi := taps(g, kw)
			for ow := lo; ow < hi; ow++ {
				y[ow] = max(y[ow], xr[ow*sw+off])
			}
		}
	}
}

// MaxPool2D sets y [N, C, OH, OW] to the maximum of each window of x
// [N, C, H, W]; padding never wins and a NaN in a window gives NaN. Errors wrap
// ErrShape, ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) MaxPool2D(y, x *tensor.Tensor, p tensor.Pool2DParams) error {
	const op = "max pool"
	if err := b.open(op); err != nil {
		return err
	}
	g, err := tensor.CheckPool2D(b, op, y, x, p)
	if err != nil {
		return err
	}
	if y.DType() == tensor.Float32 {
		maxPool(b, &g, data[float32](y), data[float32](x))
	} else {
		maxPool(b, &g, data[float64](y), data[float64](x))
	}
	return nil
}

// pool2x2 reports whether g is the common 2×2 window with stride 2 and no
// padding, which the max-pooling ops run with loops of their own.
func pool2x2(g *tensor.PoolGeom) bool {
	return g.Window == [2]int{2, 2} && g.Stride == [2]int{2, 2} && g.Pad == [2]int{0, 0}
}

func maxPool[T scalar](b *Backend, g *tensor.PoolGeom, y, x []T) {
	runPoolTask(b, g, poolMax, y, x, nil)
}

// The ops a poolTask runs.
const (
	poolMax               = iota // MaxPool2D: out y, in x
	poolMaxBackward2x2           // 2×2 MaxPool2DBackward: out dx, in x, dy
	poolGlobalAvg                // GlobalAvgPool2D: out y, in x
	poolGlobalAvgBackward        // GlobalAvgPool2DBackward: out dx, dy
	poolMaxBackward              // MaxPool2DBackward, other windows: out dx, in x, dy
	poolAvg                      // AvgPool2D: out y, in x
	poolAvgBackward              // AvgPool2DBackward: out dx, dy
)

// poolTask is a pooling op (kind) as a par.Task over planes (task.go).
type poolTask[T scalar] struct {
	g           tensor.PoolGeom
	kind        int
	out, in, dy []T
}

// runPoolTask runs op kind over the N·C planes of g.
func runPoolTask[T scalar](b *Backend, g *tensor.PoolGeom, kind int, out, in, dy []T) {
	t := getTask[poolTask[T], T](&poolTasks)
	defer putTask[poolTask[T], T](&poolTasks, t)
	t.g, t.kind, t.out, t.in, t.dy = *g, kind, out, in, dy
	b.parallelTask(g.N*g.C, rowGrain, t)
}

// Run does the planes [lo, hi).
func (t *poolTask[T]) Run(_, lo, hi int) {
	g, x := &t.g, t.in
	hw, ohw := g.H*g.W, g.OH*g.OW
	switch t.kind {
	case poolMaxBackward:
		t.maxBackward(lo, hi)
		return
	case poolAvg:
		t.avg(lo, hi)
		return
	case poolAvgBackward:
		t.avgBackward(lo, hi)
		return
	case poolMaxBackward2x2:
		for pl := lo; pl < hi; pl++ {
			maxPoolBackward2x2(g, t.out[pl*hw:][:hw], t.dy[pl*ohw:][:ohw], x[pl*hw:][:hw])
		}
		return
	case poolGlobalAvg:
		for pl := lo; pl < hi; pl++ {
			t.out[pl] = T(sum64(x[pl*hw:][:hw]) / float64(hw))
		}
		return
	case poolGlobalAvgBackward:
		for pl := lo; pl < hi; pl++ {
			fill(t.out[pl*hw:][:hw], t.dy[pl]/T(hw))
		}
		return
	}
	fast := pool2x2(g)
	for pl := lo; pl < hi; pl++ {
		xp, yp := x[pl*hw:][:hw], t.out[pl*ohw:][:ohw]
		for oh := 0; oh < g.OH; oh++ {
			yr := yp[oh*g.OW:][:g.OW]
			if fast {
				x0, x1 := xp[2*oh*g.W:][:2*g.OW], xp[(2*oh+1)*g.W:][:2*g.OW]
				for j := range yr {
					yr[j] = max(max(x0[2*j], x0[2*j+1]), max(x1[2*j], x1[2*j+1]))
				}
				continue
			}
			maxRow(g, xp, oh, yr)
		}
	}
}

// MaxPool2DBackward routes each dy element to the position of its window's
// maximum in x (the first in row-major window order on ties), summing where
// windows overlap; positions that are no window's maximum get 0. dx and x are
// [N, C, H, W], dy is [N, C, OH, OW]. Errors wrap ErrShape, ErrParam,
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) MaxPool2DBackward(dx, dy, x *tensor.Tensor, p tensor.Pool2DParams) error {
	const op = "max pool backward"
	if err := b.open(op); err != nil {
		return err
	}
	g, err := tensor.CheckPool2DBackward(b, op, dx, dy, x, p)
	if err != nil {
		return err
	}
	if dx.DType() == tensor.Float32 {
		maxPoolBackward(b, &g, data[float32](dx), data[float32](dy), data[float32](x))
	} else {
		maxPoolBackward(b, &g, data[float64](dx), data[float64](dy), data[float64](x))
	}
	return nil
}

func maxPoolBackward[T scalar](b *Backend, g *tensor.PoolGeom, dx, dy, x []T) {
	if pool2x2(g) {
		runPoolTask(b, g, poolMaxBackward2x2, dx, x, dy)
		return
	}
	runPoolTask(b, g, poolMaxBackward, dx, x, dy)
}

// maxBackward does the planes [lo, hi) of MaxPool2DBackward.
func (t *poolTask[T]) maxBackward(lo, hi int) {
	g, dx, x, dy := &t.g, t.out, t.in, t.dy
	hw, ohw := g.H*g.W, g.OH*g.OW
	idx, val := getInts(g.OW), getScratch[T](g.OW)
	defer putInts(idx)
	defer putScratch(val)
	for pl := lo; pl < hi; pl++ {
		xp, dxp, dyp := x[pl*hw:][:hw], dx[pl*hw:][:hw], dy[pl*ohw:][:ohw]
		clear(dxp)
		for oh := 0; oh < g.OH; oh++ {
			argmaxRow(g, xp, oh, *idx, *val)
			for ow, i := range *idx {
				dxp[i] += dyp[oh*g.OW+ow]
			}
		}
	}
}

// maxPoolBackward2x2 is the backward pass of one plane for 2×2 windows with
// stride 2 and no padding, which do not overlap: each window writes its four
// elements of dx, dy at the first maximum and 0 elsewhere, with masks
// instead of branches, which random data would mispredict half the time. A
// window holding a NaN (its maximum is NaN, which equals nothing) takes the
// rare branch that gives dy to the first NaN. A last odd row or column, in
// no window, gets 0.
func maxPoolBackward2x2[T scalar](g *tensor.PoolGeom, dx, dy, x []T) {
	w, ow := g.W, g.OW
	for oh := range g.OH {
		x0, x1 := x[2*oh*w:][:2*ow], x[(2*oh+1)*w:][:2*ow]
		d0, d1 := dx[2*oh*w:][:w], dx[(2*oh+1)*w:][:w]
		for j, v := range dy[oh*ow:][:ow] {
			a, b, c, d := x0[2*j], x0[2*j+1], x1[2*j], x1[2*j+1]
			m := max(max(a, b), max(c, d))
			ea, eb, ec := a == m, b == m, c == m
			if m != m {
				ea, eb, ec = a != a, b != b, c != c
			}
			ma := mask(ea)
			mb := mask(eb) &^ ma
			mc := mask(ec) &^ (ma | mb)
			md := ^(ma | mb | mc)
			vb := bits(v)
			setBits(&d0[2*j], vb&ma)
			setBits(&d0[2*j+1], vb&mb)
			setBits(&d1[2*j], vb&mc)
			setBits(&d1[2*j+1], vb&md)
		}
		clear(d0[2*ow:])
		clear(d1[2*ow:])
	}
	clear(dx[2*g.OH*w:])
}

// divisors sets div[ow] to what the average of each window of output row oh
// divides by: the full window size, or with ExcludePad the number of input
// elements inside the window.
func divisors[T scalar](g *tensor.PoolGeom, oh int, div []T) {
	if !g.ExcludePad {
		for i := range div {
			div[i] = T(g.Window[0] * g.Window[1])
		}
		return
	}
	h0, h1 := extent(g, oh)
	for ow := range div {
		w0 := ow*g.Stride[1] - g.Pad[1]
		div[ow] = T((h1 - h0) * (min(w0+g.Window[1], g.W) - max(w0, 0)))
	}
}

// AvgPool2D sets y [N, C, OH, OW] to the mean of each window of x
// [N, C, H, W]: the sum of the input elements inside the window divided by
// the window size, or with ExcludePad by their count. Errors wrap ErrShape,
// ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) AvgPool2D(y, x *tensor.Tensor, p tensor.Pool2DParams) error {
	const op = "average pool"
	if err := b.open(op); err != nil {
		return err
	}
	g, err := tensor.CheckPool2D(b, op, y, x, p)
	if err != nil {
		return err
	}
	if y.DType() == tensor.Float32 {
		avgPool(b, &g, data[float32](y), data[float32](x))
	} else {
		avgPool(b, &g, data[float64](y), data[float64](x))
	}
	return nil
}

func avgPool[T scalar](b *Backend, g *tensor.PoolGeom, y, x []T) {
	runPoolTask(b, g, poolAvg, y, x, nil)
}

// avg does the planes [lo, hi) of AvgPool2D.
func (t *poolTask[T]) avg(lo, hi int) {
	g, y, x := &t.g, t.out, t.in
	hw, ohw, sw := g.H*g.W, g.OH*g.OW, g.Stride[1]
	buf := getScratch[T](g.OW)
	defer putScratch(buf)
	div := *buf
	for pl := lo; pl < hi; pl++ {
		xp, yp := x[pl*hw:][:hw], y[pl*ohw:][:ohw]
		for oh := 0; oh < g.OH; oh++ {
			yr := yp[oh*g.OW:][:g.OW]
			clear(yr)
			h0, h1 := extent(g, oh)
			for h := h0; h < h1; h++ {
				xr := xp[h*g.W:][:g.W]
				for kw := 0; kw < g.Window[1]; kw++ {
					off, lo, hi := taps(g, kw)
					for ow := lo; ow < hi; ow++ {
						yr[ow] += xr[ow*sw+off]
					}
				}
			}
			divisors(g, oh, div)
			for i, d := range div {
				yr[i] /= d
			}
		}
	}
}

// AvgPool2DBackward spreads each dy element evenly over the input elements of
// its window, dividing as AvgPool2D does, and sums where windows overlap. dx is
// [N, C, H, W], dy is [N, C, OH, OW]. Errors wrap ErrShape, ErrParam,
// ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) AvgPool2DBackward(dx, dy *tensor.Tensor, p tensor.Pool2DParams) error {
	const op = "average pool backward"
	if err := b.open(op); err != nil {
		return err
	}
	g, err := tensor.CheckPool2DBackward(b, op, dx, dy, nil, p)
	if err != nil {
		return err
	}
	if dx.DType() == tensor.Float32 {
		avgPoolBackward(b, &g, data[float32](dx), data[float32](dy))
	} else {
		avgPoolBackward(b, &g, data[float64](dx), data[float64](dy))
	}
	return nil
}

func avgPoolBackward[T scalar](b *Backend, g *tensor.PoolGeom, dx, dy []T) {
	runPoolTask(b, g, poolAvgBackward, dx, nil, dy)
}

// avgBackward does the planes [lo, hi) of AvgPool2DBackward.
func (t *poolTask[T]) avgBackward(lo, hi int) {
	g, dx, dy := &t.g, t.out, t.dy
	hw, ohw, sw := g.H*g.W, g.OH*g.OW, g.Stride[1]
	buf := getScratch[T](g.OW)
	defer putScratch(buf)
	share := *buf
	for pl := lo; pl < hi; pl++ {
		dxp, dyp := dx[pl*hw:][:hw], dy[pl*ohw:][:ohw]
		clear(dxp)
		for oh := 0; oh < g.OH; oh++ {
			divisors(g, oh, share)
			for i, d := range dyp[oh*g.OW:][:g.OW] {
				share[i] = d / share[i]
			}
			h0, h1 := extent(g, oh)
			for h := h0; h < h1; h++ {
				dxr := dxp[h*g.W:][:g.W]
				for kw := 0; kw < g.Window[1]; kw++ {
					off, lo, hi := taps(g, kw)
					for ow := lo; ow < hi; ow++ {
						dxr[ow*sw+off] += share[ow]
					}
				}
			}
		}
	}
}

// GlobalAvgPool2D sets y ([N, C] or [N, C, 1, 1]) to the mean of each channel
// plane of x [N, C, H, W], summed in float64. Errors wrap ErrShape, ErrDType,
// ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) GlobalAvgPool2D(y, x *tensor.Tensor) error {
	if err := b.open("global average pool"); err != nil {
		return err
	}
	g, err := tensor.CheckGlobalAvgPool(b, false, y, x)
	if err != nil {
		return err
	}
	if y.DType() == tensor.Float32 {
		globalAvgPool(b, &g, data[float32](y), data[float32](x))
	} else {
		globalAvgPool(b, &g, data[float64](y), data[float64](x))
	}
	return nil
}

func globalAvgPool[T scalar](b *Backend, g *tensor.PoolGeom, y, x []T) {
	runPoolTask(b, g, poolGlobalAvg, y, x, nil)
}

// GlobalAvgPool2DBackward sets every element of plane (n, c) of dx
// [N, C, H, W] to dy[n, c]/(H·W); dy is [N, C] or [N, C, 1, 1]. Errors wrap
// ErrShape, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) GlobalAvgPool2DBackward(dx, dy *tensor.Tensor) error {
	if err := b.open("global average pool backward"); err != nil {
		return err
	}
	g, err := tensor.CheckGlobalAvgPool(b, true, dy, dx)
	if err != nil {
		return err
	}
	if dx.DType() == tensor.Float32 {
		globalAvgPoolBackward(b, &g, data[float32](dx), data[float32](dy))
	} else {
		globalAvgPoolBackward(b, &g, data[float64](dx), data[float64](dy))
	}
	return nil
}

func globalAvgPoolBackward[T scalar](b *Backend, g *tensor.PoolGeom, dx, dy []T) {
	runPoolTask(b, g, poolGlobalAvgBackward, dx, nil, dy)
}
