// Package parity_test holds the CPU-versus-Vulkan parity tests of vkcnn: every
// op and every gradient of tensor.Backend run on both backends over hundreds
// of randomized, seeded configurations with the same float32 inputs, and a
// small CNN trains for 50 steps on both from the same weights and batches.
//
// # Tolerances
//
// A Vulkan result g passes against the CPU result c when
//
//	|g − c| ≤ Rel·mag + Abs
//
// where mag is the magnitude of the terms that make up the result. For sums
// and products (convolutions, matmul, pooling averages, reductions, bias
// gradients) mag is Σ|terms|, obtained by running the same CPU op on the
// absolute values of the inputs; for pointwise results it is |c| (or the sum
// of the operands' magnitudes where the formula has several terms). The
// bounds, per family:
//
//	sums and products (float32 accumulation in any order)   Rel 2e-5 of Σ|terms|
//	softmax backward                                        Rel 2e-5 of |y|·(|dy| + Σ|dy·y|)
//	exp/log/tanh results (a few ulps of the GPU's exp/log)  Rel 1e-5 of |c|
//	tanh backward dy·(1 − y²)                               Rel 1e-5 of |dy|·(1 + y²)
//	SiLU backward dy·s·(1 + x·(1 − s))                      Rel 1e-5 of |dy|·s·(1 + |x|·(1 − s))
//	batch norm (mean, output, running statistics,
//	gradients; inverse std relative to itself)              Rel 2e-5 of Σ|terms|, where an
//	                                                        error in the mean counts as a term
//	                                                        of every output (see bnMags)
//	loss values (a float32 tree on the GPU, float64 CPU)    Rel 2e-5 of the loss (= Σ|terms|/n)
//	loss gradients                                          Rel 1e-5 of |c| + |t|/n
//	optimizer steps (float32 vs float64-then-rounded)       Rel 1e-5 of |p| + |step|
//	optimizer state (momentum, moments)                     Rel 1e-5 of |state| + |g|
//	one rounding or none: mul, scale, ReLU, leaky ReLU and
//	their backward, max pooling, argmax, dropout masks      exact
//
// Every bound also admits Abs = 1e-30, for results that underflow.
//
// The training run (train_test.go) asserts that the two loss curves agree
// within 1e-4 relative at every step.
//
// The tests need cgo and a Vulkan device: they use internal/vktest, which
// skips them without a device (fails them when VKCNN_REQUIRE_VULKAN=1) and
// fails them on any validation-layer message. This file, without build
// constraints, only keeps the package buildable without cgo.
package parity_test
