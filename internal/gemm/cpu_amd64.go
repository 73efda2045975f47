//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// archKernels returns the assembly kernel sets this CPU runs, fastest first.
func archKernels() []*kernelSet {
	var sets []*kernelSet
	if cpu.X86.HasAVX512F && cpu.X86.HasFMA {
		sets = append(sets, &kernelSet{
			name: "avx512",
			s: &microKernel[float32]{mr: 8, nr: 32, kc: 384, nc: 192, fn: sgemmAVX512, fused: sgemmAVX512Pack, half: sgemmAVX512Half, rows: sgemmAVX512Rows,
				gaps:  []func(int, *float32, *float32, *int, int, int, *float32, int, float32, float32){sgemmAVX512Gap0, sgemmAVX512Gap1},
				rowsA: sgemmAVX512RowsA, rowsAT: sgemmAVX512RowsAT},
			d: &microKernel[float64]{mr: 8, nr: 16, kc: 256, nc: 128, fn: dgemmAVX512, fused: dgemmAVX512Pack, half: dgemmAVX512Half, rows: dgemmAVX512Rows,
				gaps:  []func(int, *float64, *float64, *int, int, int, *float64, int, float64, float64){dgemmAVX512Gap0, dgemmAVX512Gap1},
				rowsA: dgemmAVX512RowsA, rowsAT: dgemmAVX512RowsAT},
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sets = append(sets, &kernelSet{
			name: "avx2",
			s:    &microKernel[float32]{mr: 6, nr: 16, kc: 384, nc: 192, fn: sgemmAVX2, fused: sgemmAVX2Pack, half: sgemmAVX2Half, rows: sgemmAVX2Rows},
			d:    &microKernel[float64]{mr: 6, nr: 8, kc: 256, nc: 128, fn: dgemmAVX2, fused: dgemmAVX2Pack, half: dgemmAVX2Half, rows: dgemmAVX2Rows},
		})
	}
	return sets
}
