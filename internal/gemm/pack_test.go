package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPack checks packA and packB, with and without the assembly routines,
// against the definition of the packed layouts, over sizes around the
// routines' block sizes.
func TestPack(t *testing.T) {
	saved := useAsmPack
	defer func() { useAsmPack = saved }()
	for _, asm := range []bool{false, saved} {
		useAsmPack = asm
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) {
			testPack[float32](t)
			testPack[float64](t)
		})
	}
}

func testPack[T float](t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const ld = 131
	src := make([]T, ld*ld)
	for i := range src {
		src[i] = T(i + 1)
	}
	for _, mr := range []int{4, 6, 8, 16, 32} {
		for range 20 {
			kq, rows := 1+rng.IntN(30), 1+rng.IntN(mr)
			p0, i0 := rng.IntN(ld-kq), rng.IntN(ld-rows)
			for _, trans := range []bool{false, true} {
				dst := make([]T, kq*mr+1)
				dst[kq*mr] = -1
				packA(dst[:kq*mr], src, ld, trans, i0, rows, p0, kq, mr)
				for p := range kq {
					for i := range mr {
						var want T
						if i < rows {
							want = src[(i0+i)*ld+p0+p]
							if trans {
								want = src[(p0+p)*ld+i0+i]
							}
						}
						if got := dst[p*mr+i]; got != want {
							t.Fatalf("packA(trans=%v, i0=%d, rows=%d, p0=%d, kq=%d, mr=%d): [p=%d][i=%d] = %v, expected %v",
								trans, i0, rows, p0, kq, mr, p, i, got, want)
						}
					}
				}
				if dst[kq*mr] != -1 {
					t.Fatalf("packA wrote past its panel")
				}

				nr, cols := mr, 1+rng.IntN(3*mr)
				j0 := rng.IntN(ld - cols)
				panels := (cols + nr - 1) / nr
				dst = make([]T, panels*kq*nr+1)
				dst[panels*kq*nr] = -1
				packB(dst[:panels*kq*nr], src, ld, trans, p0, kq, j0, cols, nr)
				for tp := range panels {
					for p := range kq {
						for j := range nr {
							var want T
							if c := tp*nr + j; c < cols {
								want = src[(p0+p)*ld+j0+c]
								if trans {
									want = src[(j0+c)*ld+p0+p]
								}
							}
							if got := dst[tp*kq*nr+p*nr+j]; got != want {
								t.Fatalf("packB(trans=%v, p0=%d, kq=%d, j0=%d, cols=%d, nr=%d): panel %d [p=%d][j=%d] = %v, expected %v",
									trans, p0, kq, j0, cols, nr, tp, p, j, got, want)
							}
						}
					}
				}
				if dst[panels*kq*nr] != -1 {
					t.Fatalf("packB wrote past its panels")
				}
			}
		}
	}
}
