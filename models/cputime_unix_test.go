//go:build unix

package models_test

import "syscall"

// processCPU returns the CPU time the process has used so far, user and
// system, in seconds, or 0 when it cannot be read.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
