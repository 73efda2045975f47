// Package tensortest is the conformance suite every vkcnn backend runs: one
// exported function per op family takes a tensor.Backend and a dtype and
// checks the backend's ops against naive float64 references written straight
// from the formulas (reference.go), never against code under test. RunAll runs
// them all as subtests:
//
//	func TestConformance(t *testing.T) {
//		b := mybackend.New()
//		defer b.Close()
//		tensortest.RunAll(t, b, tensor.Float32)
//	}
//
// # Inputs
//
// Inputs are drawn from math/rand/v2 generators with fixed seeds, rounded to
// the dtype before the reference sees them, so the reference and the backend
// compute with the same numbers. A failure names the seed, the case number and
// the configuration, so that it can be reproduced. Convolutions run over at
// least 200 random configurations per op (odd and non-square sizes, batch 1,
// 1×1 to 7×7 and rectangular kernels, stride larger than the kernel, padding
// up to kernel−1, dilation 2, one group, two groups and depthwise) plus a list
// of hand-picked edge cases; pooling runs with integer-valued inputs (ties)
// and padding, in both divisor modes.
//
// # Tolerances
//
// A backend result got passes against the reference ref when
//
//	|got − ref| ≤ Rel·mag + Abs
//
// where mag is the magnitude of the terms that make up ref: Σ|terms| for sums
// and products (a convolution output, a matmul element, a reduction, a loss),
// and |ref| or the sum of the magnitudes of the operands for pointwise
// results. Rel and Abs come from Tolerance, the one place they are stated:
//
//	float32: Rel 1e-5,  Abs 1e-30   (about 170 float32 ulps of the terms: a GPU
//	                                 accumulates in float32, in any order, with
//	                                 or without fused multiply-add, and its
//	                                 exp may be a few ulps off)
//	float64: Rel 1e-12, Abs 1e-300  (about 4500 float64 ulps)
//
// Abs only admits results that underflow or flush to zero. Tanh is compared
// with mag = 1 (absolutely), since tanh computed from exponentials cancels
// near 0. Selections that involve no arithmetic (max pooling, ReLU, arg max,
// the keep-or-drop choice of dropout, copies, uploads and downloads) must
// match exactly, and so must leaky ReLU and its backward, one correctly
// rounded multiplication by the slope rounded to the dtype. SiLU's backward
// is compared relative to its terms |dy|·s·(1 + |x|·(1−s)). Batch
// normalization counts the mean's terms Σ|x|/n in every output
// (|γ|·invStd·(|x−μ| + Σ|x|/n) + |β|), since an error in the mean shifts them
// all; its inverse std is compared relative to itself, which a float32
// variance taken as E[x²] − E[x]² misses on data far from zero. The longest reductions of same-signed terms (losses over
// 17000 elements) stay within the float32 bound only when a backend sums
// pairwise, in a tree or in a wider type, not serially in float32.
//
// Some tensors are large on purpose (up to about 100000 elements, pooling over
// 80 channels, GEMMs up to 300 wide) so that backends split, tile and
// vectorize the work as they do in real use.
//
// # Gradient checks
//
// GradCheck (float64 only) compares every backward op with central
// differences taken through the backend's own forward ops:
//
//	n_i = Σ_j r_j·(f(x + ε·e_i)_j − f(x − ε·e_i)_j) / (2ε),  ε = 2^−20 ≈ 9.5e-7
//
// where r is a random upstream gradient (for a loss, r = 1). Inputs are
// multiples of 1/64 so that linear ops (convolution, pooling, matmul, bias)
// are evaluated exactly, and lie away from kinks (ReLU at 0, max-pool ties).
// The analytic gradient a passes when its relative error
//
//	|a_i − n_i| / max(|a_i|, |n_i|, 1e-8)
//
// is below 1e-6 for every element i.
//
// # Bad input
//
// BadInput checks, case by case, that invalid arguments return an error
// wrapping the documented sentinel (errors.Is) and that no call panics.
// Ownership checks use tensors of Unsupported, a backend that owns tensors but
// implements no op; Foreign repeats them with tensors of a second real backend.
// Closed checks a backend after Close; RunAll leaves it out because it closes
// the backend.
//
// # Fuzzing
//
// CheckConvCase and CheckPoolCase check one configuration that may be
// invalid, for fuzz targets over shapes and parameters: a valid one must agree
// with the reference, an invalid one must fail with the sentinel its violation
// calls for (tensor.ErrParam or tensor.ErrShape), and no call may panic.
package tensortest
