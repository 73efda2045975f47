package gemm

import (
	"runtime"
	"sync"
	"time"
)

// Peak is a measured register-FMA peak: float32 multiply-adds on registers
// only, many independent ones in flight, with the widest instructions of the
// kernel set in use. It is the ceiling that the micro-kernels approach and
// that no product can pass on this machine.
type Peak struct {
	// Kernel is the kernel set whose instructions ran ("avx512", "avx2",
	// "neon" or "generic").
	Kernel string `json:"kernel"`
	// Threads is the number of goroutines, each locked to its own OS
	// thread, that ran the loop at once.
	Threads int `json:"threads"`
	// GFLOPS is the wall-clock rate of all threads together, in 10⁹ FLOP/s
	// (an FMA counts 2 FLOP per lane). Other processes on the machine
	// lower it.
	GFLOPS float64 `json:"gflops"`
	// PerCPUSecond is the FLOPs per second of CPU time the threads used, in
	// 10⁹, summed over the threads' own CPU times: the rate of one core
	// that the loop had to itself, much less sensitive to other processes
	// than GFLOPS (it still counts a core shared with a sibling
	// hyperthread). 0 where the OS does not report a thread's CPU time.
	PerCPUSecond float64 `json:"per_cpu_second"`
}

// peakChunk is the number of loop iterations between clock reads: about
// 0.1 to 1 ms.
const peakChunk = 1 << 15

// MeasurePeak runs the register-FMA loop of the kernel set in use on threads
// goroutines (threads < 1 means Threads()) for about d and returns the
// rates.
func MeasurePeak(threads int, d time.Duration) Peak {
	threads = orThreads(threads)
	loop, flops := peakLoop(Kernel())
	type share struct {
		iters int
		cpu   float64
	}
	shares := make([]share, threads)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			n := 0
			for time.Since(start) < d {
				loop(peakChunk)
				n += peakChunk
			}
			shares[i] = share{n, threadCPU() - c0}
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	p := Peak{Kernel: Kernel(), Threads: threads}
	var total, cpu float64
	for _, s := range shares {
		total += float64(s.iters) * flops
		cpu += s.cpu
	}
	p.GFLOPS = total / wall / 1e9
	if cpu > 0 {
		p.PerCPUSecond = total / cpu / 1e9
	}
	return p
}

// peakGo is the loop of the generic kernel set: 8 independent float32
// multiply-adds per iteration (16 FLOP), as the pure-Go micro-kernel
// computes them.
func peakGo(n int) {
	var c0, c1, c2, c3, c4, c5, c6, c7 float32
	x, y := peakX, peakY
	for range n {
		c0 += x * y
		c1 += x * y
		c2 += x * y
		c3 += x * y
		c4 += x * y
		c5 += x * y
		c6 += x * y
		c7 += x * y
	}
	if s := c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7; s < 0 {
		peakX = s // never (the sums are positive): keeps them live
	}
}

// peakX and peakY are variables so that the compiler can neither fold
// peakGo's products nor drop its sums.
var peakX, peakY float32 = 0.5, 0.25
