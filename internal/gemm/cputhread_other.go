//go:build !linux

package gemm

// threadCPU returns 0: this OS gives no per-thread CPU time here.
func threadCPU() float64 { return 0 }

// ProcessCPU returns 0: CPU time is read on Linux only.
func ProcessCPU() float64 { return 0 }
