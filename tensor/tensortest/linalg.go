package tensortest

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// MatMul checks Backend.MatMul in all four transpose combinations over random
// sizes from 1 to 40 and fixed ones up to 300, including vectors and sizes
// just past powers of two, which end tiles of any size with a remainder.
func MatMul(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x3a3
	r := newRand(seed)
	tol := Tolerance(dt)
	sizes := [][3]int{{1, 1, 1}, {1, 7, 1}, {7, 1, 1}, {1, 1, 9}, {3, 5, 4}, {16, 16, 16}, {17, 33, 9}, {40, 3, 31}, {2, 39, 40},
		{65, 129, 64}, {129, 33, 130}, {1, 300, 257}, {257, 1, 33}, {200, 200, 1}}
	for range 12 {
		sizes = append(sizes, [3]int{1 + r.IntN(40), 1 + r.IntN(40), 1 + r.IntN(40)})
	}
	for _, s := range sizes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				h := newHarness(named(t, "seed %#x m %d n %d k %d transA %v transB %v", seed, m, n, k, ta, tb), b, dt)
				as, bs := []int{m, k}, []int{k, n}
				if ta {
					as = []int{k, m}
				}
				if tb {
					bs = []int{n, k}
				}
				a, bv := h.round(uniform(r, m*k, -1, 1)), h.round(uniform(r, k*n, -1, 1))
				if c := h.dst(m, n); h.ok("matmul", b.MatMul(c, h.from(a, as...), h.from(bv, bs...), ta, tb)) {
					ref, mag := refMatMul(a, bv, m, n, k, ta, tb)
					compare(h.t, "matmul", h.read(c), ref, mag, tol)
				}
				h.release()
			}
		}
	}
}

// AddBias checks Backend.AddBias on [N, F] and [N, C, H, W] inputs, into a
// separate output and in place.
func AddBias(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0xadd
	r := newRand(seed)
	tol := Tolerance(dt)
	for _, s := range [][]int{{1, 1}, {4, 10}, {1, 3, 1, 1}, {2, 3, 5, 7}, {3, 8, 4, 4}, {2, 2, 3}, {16, 64, 9, 9}} {
		for _, inPlace := range []bool{false, true} {
			h := newHarness(named(t, "seed %#x x %v in place %v", seed, s, inPlace), b, dt)
			n := tensor.Shape(s).Len()
			x, bias := h.round(uniform(r, n, -1, 1)), h.round(uniform(r, s[1], -1, 1))
			xt := h.from(x, s...)
			y := xt
			if !inPlace {
				y = h.dst(s...)
			}
			if h.ok("add bias", b.AddBias(y, xt, h.from(bias, s[1]))) {
				ref, mag := refAddBias(x, bias, s[0], s[1], n/(s[0]*s[1]))
				compare(h.t, "add bias", h.read(y), ref, mag, tol)
				if !inPlace {
					compare(h.t, "add bias input afterwards", h.read(xt), x, nil, exact)
				}
			}
			h.release()
		}
	}
}

// Sum checks Backend.Sum over every subset of axes of tensors of rank 1 to 4,
// with the summed axes removed and kept as 1, and with no axes (a total).
func Sum(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x5a3
	r := newRand(seed)
	tol := Tolerance(dt)
	for _, s := range [][]int{{1}, {13}, {3, 1}, {4, 7}, {2, 3, 5}, {3, 1, 4, 6}, {2, 5, 3, 3}, {40, 50, 37}} {
		rank := len(s)
		for set := 0; set < 1<<rank; set++ {
			var axes []int
			summed := make([]bool, rank)
			for a := 0; a < rank; a++ {
				if set&(1<<a) != 0 {
					axes = append(axes, a)
					summed[a] = true
				}
			}
			// Listing no axes sums everything too.
			if set == 0 {
				for a := range summed {
					summed[a] = true
				}
			}
			var removed, ones []int
			for a, d := range s {
				if summed[a] {
					ones = append(ones, 1)
				} else {
					removed = append(removed, d)
					ones = append(ones, d)
				}
			}
			if len(removed) == 0 {
				removed = []int{1}
			}
			for _, ds := range [][]int{removed, ones} {
				h := newHarness(named(t, "seed %#x src %v axes %v dst %v", seed, s, axes, ds), b, dt)
				src := h.round(uniform(r, tensor.Shape(s).Len(), -1, 1))
				// Reverse the axes: their order must not matter.
				rev := make([]int, len(axes))
				for i, a := range axes {
					rev[len(axes)-1-i] = a
				}
				if dst := h.dst(ds...); h.ok("sum", b.Sum(dst, h.from(src, s...), rev...)) {
					ref, mag := refSum(src, s, summed)
					compare(h.t, "sum", h.read(dst), ref, mag, tol)
				}
				h.release()
			}
		}
	}
}
