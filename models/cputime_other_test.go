//go:build !unix

package models_test

// processCPU returns 0: this platform's process CPU time is not read.
func processCPU() float64 { return 0 }
