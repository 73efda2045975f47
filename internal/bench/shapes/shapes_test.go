package shapes

import "testing"

func TestParseConv(t *testing.T) {
	for _, c := range []struct {
		name           string
		oh, ow, kh, kw int
		groups         int
		flops          float64
	}{
		{"N64_C1_K8_28x28_k3p1", 28, 28, 3, 3, 1, 2 * 64 * 8 * 28 * 28 * 1 * 9},
		{"N32_C64_K128_28x28_k3s2p1", 14, 14, 3, 3, 1, 2 * 32 * 128 * 14 * 14 * 64 * 9},
		{"N32_C256_K64_14x14_k1", 14, 14, 1, 1, 1, 2 * 32 * 64 * 14 * 14 * 256},
		{"N1_C4_K6_9x10_k3x5d2g2", 5, 2, 3, 5, 2, 2 * 6 * 5 * 2 * 2 * 15},
	} {
		g, err := ParseConv(c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if g.OH != c.oh || g.OW != c.ow || g.KH != c.kh || g.KW != c.kw || g.Groups != c.groups || g.FLOPs() != c.flops {
			t.Errorf("%s: out %dx%d kernel %dx%d groups %d FLOPs %v, want %dx%d %dx%d %d %v",
				c.name, g.OH, g.OW, g.KH, g.KW, g.Groups, g.FLOPs(), c.oh, c.ow, c.kh, c.kw, c.groups, c.flops)
		}
	}
	for _, s := range Conv {
		if _, err := ParseConv(s); err != nil {
			t.Errorf("default shape %s: %v", s, err)
		}
	}
}

func TestParsePool(t *testing.T) {
	for _, c := range []struct {
		name           string
		oh, ow, sh, sw int
	}{
		{"N32_C64_56x56_w2s2", 28, 28, 2, 2},
		{"N1_C1_7x9_w3", 2, 3, 3, 3},
		{"N1_C1_7x9_w3x2s1p1", 7, 10, 1, 1},
	} {
		g, err := ParsePool(c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if g.OH != c.oh || g.OW != c.ow || g.Stride != [2]int{c.sh, c.sw} {
			t.Errorf("%s: out %dx%d stride %v, want %dx%d [%d %d]", c.name, g.OH, g.OW, g.Stride, c.oh, c.ow, c.sh, c.sw)
		}
	}
}
