package gemm

import (
	"strconv"
	"testing"
	"time"
)

// TestMeasurePeak checks that the peak loop of every kernel set runs and
// gives a positive rate (no figure is asserted: timings are benchmarks').
func TestMeasurePeak(t *testing.T) {
	t.Cleanup(func() { SetKernel("auto") })
	for _, k := range Kernels() {
		if err := SetKernel(k); err != nil {
			t.Fatal(err)
		}
		p := MeasurePeak(2, 20*time.Millisecond)
		if p.Kernel != k || p.Threads != 2 || !(p.GFLOPS > 0) || p.PerCPUSecond < 0 {
			t.Errorf("MeasurePeak on %s: %+v", k, p)
		}
	}
}

// BenchmarkPeak reports the register-FMA peak of each kernel set on one
// thread and on Threads() threads, as wall-clock GFLOP/s and GFLOP per
// CPU-second (see Peak).
func BenchmarkPeak(b *testing.B) {
	b.Cleanup(func() { SetKernel("auto") })
	for _, k := range Kernels() {
		for _, th := range []int{1, Threads()} {
			b.Run(k+"/threads="+strconv.Itoa(th), func(b *testing.B) {
				if err := SetKernel(k); err != nil {
					b.Fatal(err)
				}
				var p Peak
				for range b.N {
					p = MeasurePeak(th, 200*time.Millisecond)
				}
				b.ReportMetric(p.GFLOPS, "GFLOP/s")
				b.ReportMetric(p.PerCPUSecond, "GFLOP/cpu-s")
			})
		}
	}
}
