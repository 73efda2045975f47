package gemm

import "testing"

// BenchmarkPack measures packing a 384×320 float32 block of B into 32-column
// micro-panels and a 64×384 block of A into 8-row micro-panels, both ways,
// in elements per nanosecond.
func BenchmarkPack(b *testing.B) {
	const kq, cols, nr, ld = 384, 320, 32, 3136
	src := make([]float32, ld*ld)
	dst := make([]float32, kq*cols)
	for _, trans := range []bool{false, true} {
		name := "B"
		if trans {
			name = "Bt"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				packB(dst, src, ld, trans, 0, kq, 0, cols, nr)
			}
			b.ReportMetric(float64(kq*cols)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "elem/ns")
		})
	}
	const mr, rows = 8, 64
	for _, trans := range []bool{false, true} {
		name := "A"
		if trans {
			name = "At"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for r := 0; r < rows; r += mr {
					packA(dst[r*kq:(r+mr)*kq], src, ld, trans, r, mr, 0, kq, mr)
				}
			}
			b.ReportMetric(float64(kq*rows)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "elem/ns")
		})
	}
}
