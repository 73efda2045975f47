// Package tensor defines the contract every vkcnn compute backend implements:
// the Backend interface, the device-resident Tensor handle, shapes and dtypes,
// the parameters of convolution, pooling and optimizer ops, the output-size
// geometry, the validation that every backend shares, and the sentinel errors.
//
// The package holds no device code. Tensors are handles to memory owned by a
// backend; data moves only through Backend.Upload and Backend.Download. Every
// op writes into a destination tensor that the caller allocated, so a training
// step reuses its buffers and never allocates per call.
//
// Layouts are row-major (C order). Images are NCHW; convolution kernels are
// [Cout, Cin/groups, KH, KW], the layout PyTorch uses.
package tensor
