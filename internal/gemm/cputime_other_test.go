//go:build !unix

package gemm

// processCPU returns 0: this platform's CPU time is not read.
func processCPU() float64 { return 0 }
