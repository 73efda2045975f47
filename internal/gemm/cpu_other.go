//go:build (!amd64 && !arm64) || purego

package gemm

// archKernels returns no assembly kernels: this build runs the pure-Go ones.
func archKernels() []*kernelSet { return nil }
