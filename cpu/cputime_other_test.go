//go:build !unix

package cpu

// processCPU returns 0: this platform has no getrusage.
func processCPU() float64 { return 0 }
