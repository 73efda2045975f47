package cpu

import "github.com/vkcnn/vkcnn/tensor"

// The three convolution ops lower every (image, group) pair to GEMMs over
// the im2col matrix of that image and group: a [C/G·KH·KW, OH·OW] matrix whose
// row (c, kh, kw) holds, for every output position, the input value that the
// kernel tap (c, kh, kw) multiplies there (0 in the padding). With
// Cg = C/G, Kg = K/G and the group's kernel Wg as a [Kg, Cg·KH·KW] matrix:
//
//	forward       Yg  = Wg · col                 (+ bias)
//	input grad    col = Wgᵀ · dYg, then col2im adds col back onto dXg
//	kernel grad   dWg += dYg · colᵀ               (summed over the batch)
//
// The matrix is built a band of output rows at a time (tileRows rows, about
// Backend.colBudget elements), which bounds the scratch memory for large
// images and keeps the band in cache between im2col and the GEMM. A 1×1
// kernel with stride 1 and no padding needs no im2col: the input image of the
// group, [Cg, H·W], already is that matrix.
//
// The forward and kernel-gradient ops split their work over (image, group,
// band) items, so that even one image keeps every thread busy; the input
// gradient splits over (image, group) pairs, as the bands of one image add
// onto overlapping input rows. Each worker has its own im2col buffer, and for
// the kernel gradient its own partial sum of dW, added up at the end.
//
// Measured against direct loops (scalar, and with gonum's vectorised AXPY
// over output rows), im2col + GEMM was 2 to 12 times faster on every forward
// shape of BenchmarkConv2D, the 1-channel first layer included, so it is used
// for every case.

// defaultColBudget is the target size, in elements, of one worker's im2col
// band (1 MiB of float32): Backend.colBudget, which tests lower to exercise
// banding on small images.
const defaultColBudget = 1 << 18

// convDims is a convolution's geometry plus the sizes the kernels derive.
type convDims struct {
	tensor.ConvGeom
	cg, kg    int  // input and output channels per group
	ckk       int  // cg·KH·KW: rows of the im2col matrix, columns of Wg
	hw, ohw   int  // input and output plane sizes
	pointwise bool // 1×1 kernel, stride 1, no padding: the input is its own im2col matrix
	tileRows  int  // output rows per im2col band
}

func newConvDims(g tensor.ConvGeom, colBudget int) convDims {
	d := convDims{ConvGeom: g, cg: g.C / g.Groups, kg: g.K / g.Groups, hw: g.H * g.W, ohw: g.OH * g.OW}
	d.ckk = d.cg * g.KH * g.KW
	d.pointwise = g.KH == 1 && g.KW == 1 && g.Stride == [2]int{1, 1} && g.Pad == [2]int{0, 0}
	d.tileRows = g.OH
	if !d.pointwise {
		d.tileRows = min(g.OH, max(1, colBudget/(d.ckk*g.OW)))
	}
	return d
}

// colLen is the size of one worker's im2col buffer (0 when none is needed).
func (d *convDims) colLen() int {
	if d.pointwise {
		return 0
	}
	return d.ckk * d.tileRows * d.OW
}

// bands returns the number of im2col bands per image and group.
func (d *convDims) bands() int { return (d.OH + d.tileRows - 1) / d.tileRows }

// item splits work item it of the forward and kernel-gradient ops into its
// (image, group) unit and its band of output rows [oh0, oh1).
func (d *convDims) item(it int) (u, oh0, oh1 int) {
	nb := d.bands()
	u, oh0 = it/nb, (it%nb)*d.tileRows
	return u, oh0, min(oh0+d.tileRows, d.OH)
}

// unit splits a work unit into its image and group and returns that group's
// input [Cg, H·W] of x, output [Kg, OH·OW] of y and kernel [Kg, Cg·KH·KW] of w.
func unit[T scalar](d *convDims, u int, x, y, w []T) (xg, yg, wg []T) {
	n, g := u/d.Groups, u%d.Groups
	xg = x[(n*d.C+g*d.cg)*d.hw:][:d.cg*d.hw]
	yg = y[(n*d.K+g*d.kg)*d.ohw:][:d.kg*d.ohw]
	wg = w[g*d.kg*d.ckk:][:d.kg*d.ckk]
	return xg, yg, wg
}

// band returns the im2col matrix of output rows [oh0, oh1) of one group's
// input xg and its row stride: xg itself for a pointwise convolution (one
// band covers the image), else col filled by im2col.
func band[T scalar](d *convDims, col, xg []T, oh0, oh1 int) ([]T, int) {
	if d.pointwise {
		return xg, d.hw
	}
	n := (oh1 - oh0) * d.OW
	col = col[:d.ckk*n]
	im2col(d, col, xg, oh0, oh1)
	return col, n
}

// span returns the range [lo, hi) of output positions o in [0, out) whose input
// position o·stride + off lies inside [0, in).
func span(out, stride, off, in int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if in > off {
		hi = (in - off + stride - 1) / stride
	}
	hi = min(hi, out)
	return min(lo, hi), hi
}

// rowSpan is span for the output rows of kernel row kh, limited to the band
// [oh0, oh1).
func rowSpan(d *convDims, kh, oh0, oh1 int) (offH, lo, hi int) {
	offH = kh*d.Dilation[0] - d.Pad[0]
	lo, hi = span(d.OH, d.Stride[0], offH, d.H)
	lo = min(max(lo, oh0), oh1)
	return offH, lo, max(min(hi, oh1), lo)
}

// im2col writes the band of output rows [oh0, oh1) of the im2col matrix of one
// group's input x [Cg, H, W] into col [Cg·KH·KW, (oh1−oh0)·OW].
func im2col[T scalar](d *convDims, col, x []T, oh0, oh1 int) {
	sh, sw := d.Stride[0], d.Stride[1]
	n := (oh1 - oh0) * d.OW
	for c := 0; c < d.cg; c++ {
		xc := x[c*d.hw:][:d.hw]
		for kh := 0; kh < d.KH; kh++ {
			offH, ohLo, ohHi := rowSpan(d, kh, oh0, oh1)
			for kw := 0; kw < d.KW; kw++ {
				offW := kw*d.Dilation[1] - d.Pad[1]
				owLo, owHi := span(d.OW, sw, offW, d.W)
				row := col[((c*d.KH+kh)*d.KW+kw)*n:][:n]
				clear(row[:(ohLo-oh0)*d.OW])
				clear(row[(ohHi-oh0)*d.OW:])
				for oh := ohLo; oh < ohHi; oh++ {
					dst := row[(oh-oh0)*d.OW:][:d.OW]
					clear(dst[:owLo])
					clear(dst[owHi:])
					if owLo == owHi {
						continue
					}
					src := xc[(oh*sh+offH)*d.W:][:d.W]
					if sw == 1 {
						copy(dst[owLo:owHi], src[owLo+offW:])
						continue
					}
					for ow := owLo; ow < owHi; ow++ {
						dst[ow] = src[ow*sw+offW]
					}
				}
			}
		}
	}
}

// col2im adds a band of output rows [oh0, oh1) of an im2col-shaped gradient,
// col [Cg·KH·KW, (oh1−oh0)·OW], onto one group's input gradient x [Cg, H, W]:
// the transpose of im2col.
func col2im[T scalar](d *convDims, x, col []T, oh0, oh1 int) {
	sh, sw := d.Stride[0], d.Stride[1]
	n := (oh1 - oh0) * d.OW
	for c := 0; c < d.cg; c++ {
		xc := x[c*d.hw:][:d.hw]
		for kh := 0; kh < d.KH; kh++ {
			offH, ohLo, ohHi := rowSpan(d, kh, oh0, oh1)
			for kw := 0; kw < d.KW; kw++ {
				offW := kw*d.Dilation[1] - d.Pad[1]
				owLo, owHi := span(d.OW, sw, offW, d.W)
				if owLo == owHi {
					continue
				}
				row := col[((c*d.KH+kh)*d.KW+kw)*n:][:n]
				for oh := ohLo; oh < ohHi; oh++ {
					src := row[(oh-oh0)*d.OW:][:d.OW]
					dst := xc[(oh*sh+offH)*d.W:][:d.W]
					if sw == 1 {
						dst := dst[owLo+offW:][:owHi-owLo]
						for i, v := range src[owLo:owHi] {
							dst[i] += v
						}
						continue
					}
					for ow := owLo; ow < owHi; ow++ {
						dst[ow*sw+offW] += src[ow]
					}
				}
			}
		}
	}
}

// Conv2D computes the cross-correlation y = b + Σ x ⋆ w: x is [N, C, H, W], w
// is [K, C/groups, KH, KW], b is [K] or nil and y is [N, K, OH, OW]. Errors wrap
// ErrShape, ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Conv2D(y, x, w, bias *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2D(b, y, x, w, bias, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if y.DType() == tensor.Float32 {
		convForward(b, &d, data[float32](y), data[float32](x), data[float32](w), optData[float32](bias))
	} else {
		convForward(b, &d, data[float64](y), data[float64](x), data[float64](w), optData[float64](bias))
	}
	return nil
}

func convForward[T scalar](b *Backend, d *convDims, y, x, w, bias []T) {
	items, cl := d.N*d.Groups*d.bands(), d.colLen()
	buf := getScratch[T](b.workers(items, 1) * cl)
	defer putScratch(buf)
	b.parallel(items, 1, func(wk, lo, hi int) {
		col := (*buf)[wk*cl:][:cl]
		for it := lo; it < hi; it++ {
			u, oh0, oh1 := d.item(it)
			xg, yg, wg := unit(d, u, x, y, w)
			n := (oh1 - oh0) * d.OW
			var beta T
			if bias != nil {
				for k, v := range bias[(u%d.Groups)*d.kg:][:d.kg] {
					row := yg[k*d.ohw+oh0*d.OW:][:n]
					for i := range row {
						row[i] = v
					}
				}
				beta = 1
			}
			src, ld := band(d, col, xg, oh0, oh1)
			gemm(false, false, d.kg, n, d.ckk, wg, d.ckk, src, ld, beta, yg[oh0*d.OW:], d.ohw)
		}
	})
}

// Conv2DInputGrad computes dx = Σ dy ∗ w, the gradient of Conv2D with respect
// to its input: dx is [N, C, H, W], dy is [N, K, OH, OW], w as in Conv2D.
// Input positions that no window reaches get 0. Errors wrap ErrShape,
// ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Conv2DInputGrad(dx, dy, w *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d input gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DInputGrad(b, dx, dy, w, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if dx.DType() == tensor.Float32 {
		convInputGrad(b, &d, data[float32](dx), data[float32](dy), data[float32](w))
	} else {
		convInputGrad(b, &d, data[float64](dx), data[float64](dy), data[float64](w))
	}
	return nil
}

func convInputGrad[T scalar](b *Backend, d *convDims, dx, dy, w []T) {
	units, cl := d.N*d.Groups, d.colLen()
	buf := getScratch[T](b.workers(units, 1) * cl)
	defer putScratch(buf)
	b.parallel(units, 1, func(wk, lo, hi int) {
		col := (*buf)[wk*cl:][:cl]
		for u := lo; u < hi; u++ {
			dxg, dyg, wg := unit(d, u, dx, dy, w)
			if d.pointwise {
				gemm(true, false, d.cg, d.ohw, d.kg, wg, d.ckk, dyg, d.ohw, 0, dxg, d.hw)
				continue
			}
			clear(dxg)
			for oh0 := 0; oh0 < d.OH; oh0 += d.tileRows {
				oh1 := min(oh0+d.tileRows, d.OH)
				n := (oh1 - oh0) * d.OW
				gemm(true, false, d.ckk, n, d.kg, wg, d.ckk, dyg[oh0*d.OW:], d.ohw, 0, col, n)
				col2im(d, dxg, col, oh0, oh1)
			}
		}
	})
}

// Conv2DKernelGrad computes dw = x ⋆ dy summed over the batch, the gradient of
// Conv2D with respect to its kernel. Shapes as in Conv2D, with dw in place of
// w. Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) Conv2DKernelGrad(dw, x, dy *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d kernel gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DKernelGrad(b, dw, x, dy, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if dw.DType() == tensor.Float32 {
		convKernelGrad(b, &d, data[float32](dw), data[float32](x), data[float32](dy))
	} else {
		convKernelGrad(b, &d, data[float64](dw), data[float64](x), data[float64](dy))
	}
	return nil
}

func convKernelGrad[T scalar](b *Backend, d *convDims, dw, x, dy []T) {
	items, cl := d.N*d.Groups*d.bands(), d.colLen()
	nw := b.workers(items, 1)
	// Worker 0 accumulates straight into dw; the others into partials of
	// dw's size stored after their im2col buffers.
	per := cl + len(dw)
	buf := getScratch[T](nw * per)
	defer putScratch(buf)
	b.parallel(items, 1, func(wk, lo, hi int) {
		col := (*buf)[wk*per:][:cl]
		part := dw
		if wk > 0 {
			part = (*buf)[wk*per+cl:][:len(dw)]
		}
		clear(part)
		for it := lo; it < hi; it++ {
			u, oh0, oh1 := d.item(it)
			xg, dyg, dwg := unit(d, u, x, dy, part)
			src, ld := band(d, col, xg, oh0, oh1)
			gemm(false, true, d.kg, d.ckk, (oh1-oh0)*d.OW, dyg[oh0*d.OW:], d.ohw, src, ld, 1, dwg, d.ckk)
		}
	})
	if nw > 1 {
		b.parallel(len(dw), elemGrain, func(_, lo, hi int) {
			out := dw[lo:hi]
			for wk := 1; wk < nw; wk++ {
				part := (*buf)[wk*per+cl+lo:][:hi-lo]
				for i, v := range part {
					out[i] += v
				}
			}
		})
	}
}
