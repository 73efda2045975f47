//go:build cgo

package gpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// This file drives shaders/gemm.comp, the one tiled matrix product behind
// MatMul and the three convolution ops, and implements MatMul.

// Tile shapes of shaders/gemm.comp: a workgroup of 64 invocations, each
// owning 8×8 outputs, computes a tile of 8·tm rows by 8·(64/tm) columns; tm is
// its TM specialization constant. gemmShapes lists the shapes in order of
// preference on ties (squarest first).
var gemmShapes = []int{8, 4, 16, 2, 32}

// gemmTile returns the rows and columns of a tile with tm invocations along
// the rows.
func gemmTile(tm int) (rows, cols int) { return 8 * tm, 8 * (64 / tm) }

// gemmShape picks the tile shape for an m×n product: the one that pads the
// product least, so that products with few rows (first layers, depthwise
// groups) or few columns waste little work.
func gemmShape(m, n int) int {
	best, bestArea := 0, 0
	for _, tm := range gemmShapes {
		r, c := gemmTile(tm)
		if area := divUp(m, r) * r * divUp(n, c) * c; best == 0 || area < bestArea {
			best, bestArea = tm, area
		}
	}
	return best
}

// Modes of shaders/gemm.comp (its MODE specialization constant).
const (
	gemmMatMul uint32 = iota
	gemmConvForward
	gemmConvInputGrad
	gemmConvKernelGrad
)

// gemmJob is one launch of shaders/gemm.comp: the product C[m, n] = Σ_k
// A(m, k)·B(k, n) for each of groups convolution groups, its reduction cut
// into splits chunks of kchunk indices (kchunk = k and splits = 1 when it is
// not split), with tiles of shape tm (0 picks one with gemmShape).
type gemmJob struct {
	tm             int
	mode           uint32
	transA, transB bool
	bias           bool
	act            tensor.Activation // MatMul and conv forward
	m, n, k        int
	kchunk, splits int
	conv           tensor.ConvGeom // zero for MatMul (groups 1)
}

// run records the dispatches of j with bufs bound as (C, A, B, bias). Grids
// larger than the device's workgroup-count limits are cut into several
// dispatches whose first tile the push constants name.
func (j gemmJob) run(b *Backend, bufs ...*tensor.Tensor) error {
	groups := max(j.conv.Groups, 1)
	if j.tm == 0 {
		j.tm = gemmShape(j.m, j.n)
	}
	rows, cols := gemmTile(j.tm)
	spec := []uint32{j.mode, flag(j.transA), flag(j.transB), flag(j.bias), u32(j.tm), uint32(j.act)}
	tiles := [3]int{divUp(j.n, cols), divUp(j.m, rows), groups * j.splits}
	g := j.conv
	push := []uint32{
		u32(j.m), u32(j.n), u32(j.k), u32(j.kchunk),
		0, 0, 0, u32(groups), // tileX, tileY, zBase filled in below
		u32(g.N), u32(g.C), u32(g.H), u32(g.W),
		u32(g.K), u32(g.KH), u32(g.KW),
		u32(g.OH), u32(g.OW),
		u32(g.Stride[0]), u32(g.Stride[1]), u32(g.Pad[0]), u32(g.Pad[1]),
		u32(g.Dilation[0]), u32(g.Dilation[1]),
	}
	return b.tiled(tiles, func(base, count [3]int) error {
		push[4], push[5], push[6] = u32(base[0]), u32(base[1]), u32(base[2])
		return b.dispatch("gemm", spec, push, [3]uint32{u32(count[0]), u32(count[1]), u32(count[2])}, bufs...)
	})
}

// tiled calls launch for consecutive blocks of a grid of workgroups, each
// block within the device's maxComputeWorkGroupCount, with the block's first
// workgroup (base) and size (count).
func (b *Backend) tiled(grid [3]int, launch func(base, count [3]int) error) error {
	var lim [3]int
	for i := range lim {
		lim[i] = max(int(b.maxGroups[i]), 1)
	}
	for z := 0; z < grid[2]; z += lim[2] {
		for y := 0; y < grid[1]; y += lim[1] {
			for x := 0; x < grid[0]; x += lim[0] {
				base := [3]int{x, y, z}
				count := [3]int{min(lim[0], grid[0]-x), min(lim[1], grid[1]-y), min(lim[2], grid[2]-z)}
				if err := launch(base, count); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// MatMul computes c = op(a)·op(bm) for 2-D float32 tensors, where op
// transposes its argument when the flag is set: c is [M, N], op(a) is [M, K],
// op(bm) is [K, N]. Each element is accumulated in float32 in a fixed order
// by shared-memory tiles of shaders/gemm.comp. Errors wrap ErrShape, ErrDType,
// ErrBackend or ErrFreed for bad arguments (see tensor.CheckMatMul) and
// ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) MatMul(c, a, bm *tensor.Tensor, transA, transB bool) error {
	if err := b.usable("matmul"); err != nil {
		return err
	}
	m, n, k, err := tensor.CheckMatMul(b, c, a, bm, transA, transB)
	if err != nil {
		return err
	}
	j := gemmJob{mode: gemmMatMul, transA: transA, transB: transB, m: m, n: n, k: k, kchunk: k, splits: 1}
	return j.run(b, c, a, bm, a)
}

// LinearAct computes y = act(x·wᵀ + bias) in one pass of shaders/gemm.comp
// (tensor.FusedLinear): x is [N, in], w [out, in], bias [out] or nil, y
// [N, out]; the results equal MatMul, AddBias and ReLU done one after the
// other. Errors wrap ErrShape, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckLinear), ErrParam for an unknown activation, and
// ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) LinearAct(y, x, w, bias *tensor.Tensor, act tensor.Activation) error {
	if err := b.usable(fusedLabel("linear", act)); err != nil {
		return err
	}
	m, n, k, err := tensor.CheckLinear(b, y, x, w, bias, act)
	if err != nil {
		return err
	}
	j := gemmJob{mode: gemmMatMul, transB: true, bias: bias != nil, act: act, m: m, n: n, k: k, kchunk: k, splits: 1}
	if bias == nil {
		bias = x // bound but unused
	}
	return j.run(b, y, x, w, bias)
}

// fusedLabel names a fused op in profiles: "conv2d+relu", or op alone
// without an activation.
func fusedLabel(op string, act tensor.Activation) string {
	switch {
	case act == tensor.ActNone:
		return op
	case op == "conv2d" && act == tensor.ActReLU: // the common case, without an allocation
		return "conv2d+relu"
	case op == "linear" && act == tensor.ActReLU:
		return "linear+relu"
	}
	return op + "+" + act.String()
}

// divUp returns ⌈a/b⌉ for a ≥ 0, b > 0.
func divUp(a, b int) int { return (a + b - 1) / b }

// u32 converts a size or index that validation has bounded to a push-constant
// word.
func u32(v int) uint32 { return uint32(v) }

// f32 converts v to the float32 bits of a push-constant or specialization word.
func f32(v float64) uint32 { return math.Float32bits(float32(v)) }

// flag converts a bool to a 0/1 word.
func flag(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}
