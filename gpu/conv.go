//go:build cgo

package gpu

import "github.com/vkcnn/vkcnn/tensor"

// The three convolution ops are implicit GEMMs of shaders/gemm.comp: the
// im2col matrix is never stored; the shader computes each element of it from
// the tensor's index while loading a tile into shared memory. For group g,
// with Cg = C/groups, Kg = K/groups and R = Cg·KH·KW:
//
//	forward:       y_g [Kg, N·OH·OW]   = w_g [Kg, R] · im2col(x_g) [R, N·OH·OW]
//	input grad:    dx_g [Cg, N·H·W]    = w_gᵀ [Cg, Kg·KH·KW] · gather(dy_g)
//	kernel grad:   dw_g [Kg, R]        = dy_g [Kg, N·OH·OW] · im2col(x_g)ᵀ
//
// The input gradient is the full convolution with the flipped kernel written
// as a gather: B(k, (n, h, w)) is the dy element whose window puts kernel tap
// k on input position (h, w), or 0 where it falls outside dy. With a stride,
// the input positions split into sh·sw phases, each reached only by the taps
// of its phase, and each phase is its own product, so no work goes to the
// taps a stride skips. Every output element is owned by one invocation, so no
// op needs atomics and results are deterministic. gemmShape fits the tile to
// the product (16×256 to 256×16), so first layers (few channels) and tall
// kernel gradients waste little.

// Split-K tuning of the kernel gradient, whose product is small (Kg × R)
// while its reduction runs over the whole batch (N·OH·OW): when the output
// tiles would not fill the device, the reduction is cut into chunks whose
// partial sums a second pass adds up in a fixed order.
const (
	// kgradTargetGroups is the number of workgroups worth splitting for.
	kgradTargetGroups = 256
	// kgradMinChunk is the least reduction length one split handles.
	kgradMinChunk = 512
	// kgradMaxScratch caps the partial sums, in float32 elements (64 MiB).
	kgradMaxScratch = 1 << 24
)

// Conv2D computes the cross-correlation y = b + Σ x ⋆ w over NCHW float32
// tensors: x is [N, C, H, W], w is [K, C/groups, KH, KW], bias is [K] or nil,
// y is [N, K, OH, OW] (see tensor.Backend.Conv2D and tensor.Conv2DParams).
// Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckConv2D) and ErrClosed, ErrOutOfMemory or
// ErrDeviceLost from the device.
func (b *Backend) Conv2D(y, x, w, bias *tensor.Tensor, p tensor.Conv2DParams) error {
	return b.Conv2DAct(y, x, w, bias, p, tensor.ActNone)
}

// Conv2DAct computes y = act(b + Σ x ⋆ w), Conv2D with the activation applied
// in the same pass (tensor.FusedConv2D); the results equal Conv2D followed by
// ReLU. Errors are Conv2D's, and ErrParam for an unknown activation.
func (b *Backend) Conv2DAct(y, x, w, bias *tensor.Tensor, p tensor.Conv2DParams, act tensor.Activation) error {
	if err := b.usable(fusedLabel("conv2d", act)); err != nil {
		return err
	}
	if err := tensor.CheckActivation("conv2d", act); err != nil {
		return err
	}
	g, err := tensor.CheckConv2D(b, y, x, w, bias, p)
	if err != nil {
		return err
	}
	r := g.C / g.Groups * g.KH * g.KW
	j := gemmJob{mode: gemmConvForward, bias: bias != nil, act: act,
		m: g.K / g.Groups, n: g.N * g.OH * g.OW, k: r, kchunk: r, splits: 1, conv: g}
	if bias == nil {
		bias = w // bound but unused
	}
	return j.run(b, y, w, x, bias)
}

// Conv2DInputGrad computes dx = Σ dy ∗ w, the full convolution of the output
// gradient with the flipped kernel (the gradient of Conv2D with respect to
// x): dx is [N, C, H, W], dy is [N, K, OH, OW], w as in Conv2D. Input
// positions that no window reaches get 0. Errors wrap ErrShape, ErrParam,
// ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckConv2DInputGrad) and ErrClosed, ErrOutOfMemory or ErrDeviceLost
// from the device.
func (b *Backend) Conv2DInputGrad(dx, dy, w *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.usable("conv2d input gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DInputGrad(b, dx, dy, w, p)
	if err != nil {
		return err
	}
	// One product per group and stride phase; n and k bound the largest
	// phase's columns (input positions) and reduction (output channels ×
	// taps), and the shader works out each phase's own.
	sh, sw := g.Stride[0], g.Stride[1]
	q := g.K / g.Groups * divUp(g.KH, sh) * divUp(g.KW, sw)
	j := gemmJob{mode: gemmConvInputGrad, m: g.C / g.Groups, n: g.N * divUp(g.H, sh) * divUp(g.W, sw),
		k: q, kchunk: q, splits: sh * sw, conv: g}
	return j.run(b, dx, w, dy, w)
}

// Conv2DKernelGrad computes dw = x ⋆ dy summed over the batch (the gradient of
// Conv2D with respect to w), shapes as in Conv2D. When the kernel is too small
// to keep the device busy, the batch reduction is split into chunks whose
// partial sums are then added in a fixed order, so results are deterministic.
// Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckConv2DKernelGrad) and ErrClosed, ErrOutOfMemory
// or ErrDeviceLost from the device.
func (b *Backend) Conv2DKernelGrad(dw, x, dy *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.usable("conv2d kernel gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DKernelGrad(b, dw, x, dy, p)
	if err != nil {
		return err
	}
	r := g.C / g.Groups * g.KH * g.KW
	l := g.N * g.OH * g.OW
	j := gemmJob{mode: gemmConvKernelGrad, m: g.K / g.Groups, n: r, k: l, kchunk: l, splits: 1, conv: g}
	j.tm = gemmShape(j.m, j.n)
	rows, cols := gemmTile(j.tm)
	tiles := divUp(j.m, rows) * divUp(j.n, cols) * g.Groups
	splits := min(divUp(kgradTargetGroups, tiles), l/kgradMinChunk, kgradMaxScratch/dw.Len())
	if splits < 2 {
		return j.run(b, dw, dy, x, dy)
	}
	j.kchunk = divUp(divUp(l, splits), 16) * 16 // whole shared-memory stages
	j.splits = divUp(l, j.kchunk)
	part, err := b.scratch(j.splits * dw.Len())
	if err != nil {
		return err
	}
	if err := j.run(b, part, dy, x, dy); err != nil {
		return freeAfter(part, err)
	}
	return freeAfter(part, b.reduce(dw, part, 1, j.splits, dw.Len(), 1))
}

// freeAfter frees a scratch tensor once the dispatches that use it are
// recorded and returns err, or the Free error when err is nil.
func freeAfter(t *tensor.Tensor, err error) error {
	if ferr := t.Free(); err == nil {
		err = ferr
	}
	return err
}
