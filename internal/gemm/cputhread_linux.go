package gemm

import "syscall"

// threadCPU returns the CPU time, user and system, that the calling OS
// thread has used, in seconds, or 0 when it cannot be read.
func threadCPU() float64 {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// ProcessCPU returns the CPU time, user and system, that the process has
// used so far, in seconds, or 0 when it cannot be read: with MeasurePeak's
// PerCPUSecond, the measure of efficiency that other processes on the
// machine do not distort.
func ProcessCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
