package cpu_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/internal/gemm"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// convFromFuzz maps fuzz bytes to a small convolution configuration, mostly
// valid: batch 1–3, 1–6 channels, 1–12 pixels, kernels 1–7; stride 0–4,
// padding −1–6 and dilation 0–3 per axis (0 and −1 are invalid); one group,
// depthwise (with channel multiplier 1 or 2), or 0–6 groups that may not
// divide the channels.
func convFromFuzz(n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g uint8, bias bool) tensortest.ConvCase {
	cc := tensortest.ConvCase{
		N: 1 + int(n%3), C: 1 + int(c%6), H: 1 + int(h%12), W: 1 + int(w%12),
		K: 1 + int(k%6), KH: 1 + int(kh%7), KW: 1 + int(kw%7),
		Stride:   [2]int{int(sh % 5), int(sw % 5)},
		Pad:      [2]int{int(ph%8) - 1, int(pw%8) - 1},
		Dilation: [2]int{int(dh % 4), int(dw % 4)},
		Bias:     bias,
	}
	switch {
	case g < 64:
		cc.Groups = 1
	case g < 128:
		cc.Groups, cc.K = cc.C, cc.C*(1+int(k%2))
	default:
		cc.Groups = int(g % 7)
	}
	return cc
}

// FuzzConv2D runs the forward convolution and both gradients on fuzzed
// configurations: no panic, errors wrap the right tensor sentinel, and
// successes agree with the reference.
func FuzzConv2D(f *testing.F) {
	type args struct {
		n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g uint8
		bias                                             bool
	}
	for _, a := range []args{
		{1, 2, 4, 4, 2, 2, 2, 1, 1, 2, 2, 1, 1, 0, true},    // 3×3 same padding
		{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, false},   // all ones
		{2, 3, 9, 6, 3, 6, 6, 1, 1, 4, 4, 1, 1, 0, true},    // 7×7, padding 3
		{1, 3, 10, 11, 2, 0, 0, 3, 4, 1, 1, 1, 1, 0, false}, // 1×1, stride 3×4
		{0, 1, 8, 9, 1, 2, 0, 2, 1, 2, 1, 2, 1, 0, true},    // rectangular, dilation 2
		{1, 3, 7, 7, 0, 2, 2, 2, 2, 2, 2, 1, 1, 100, true},  // depthwise
		{0, 3, 7, 5, 3, 2, 1, 1, 1, 1, 1, 1, 1, 130, false}, // 4 channels, 4 outputs, groups 4
		{0, 2, 5, 5, 1, 2, 2, 1, 1, 1, 1, 1, 1, 130, false}, // groups 4 do not divide 3 channels
		{0, 0, 2, 2, 0, 6, 6, 1, 1, 1, 1, 1, 1, 0, false},   // kernel larger than the input
		{0, 0, 4, 4, 0, 2, 2, 0, 1, 1, 1, 1, 1, 0, false},   // stride 0
		{0, 0, 4, 4, 0, 2, 2, 1, 1, 0, 1, 1, 1, 0, false},   // padding −1
		{0, 0, 4, 4, 0, 2, 2, 1, 1, 1, 1, 0, 1, 0, false},   // dilation 0
		{0, 0, 4, 4, 0, 2, 2, 1, 1, 1, 1, 3, 3, 0, false},   // dilation 3 too wide
		{0, 1, 4, 4, 1, 2, 2, 1, 1, 1, 1, 1, 1, 133, false}, // groups 0
	} {
		f.Add(uint64(0), a.n, a.c, a.h, a.w, a.k, a.kh, a.kw, a.sh, a.sw, a.ph, a.pw, a.dh, a.dw, a.g, a.bias)
	}
	b := cpu.New()
	defer b.Close()
	// The seed also picks the GEMM micro-kernels, so that every set this
	// CPU runs is fuzzed.
	kernels := gemm.Kernels()
	f.Cleanup(func() { gemm.SetKernel("auto") })
	f.Fuzz(func(t *testing.T, seed uint64, n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g uint8, bias bool) {
		cc := convFromFuzz(n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, bias)
		dt := tensor.Float32
		if seed%2 == 1 {
			dt = tensor.Float64
		}
		if err := gemm.SetKernel(kernels[seed/2%uint64(len(kernels))]); err != nil {
			t.Fatal(err)
		}
		tensortest.CheckConvCase(t, b, dt, cc, seed)
	})
}

// poolFromFuzz maps fuzz bytes to a small pooling configuration: batch 1–2,
// 1–3 channels, 1–10 pixels; window 0–5, stride 0–4 and padding −1–2 per axis
// (0 windows and strides, negative padding and padding over half the window
// are invalid); both divisor modes.
func poolFromFuzz(n, c, h, w, kh, kw, sh, sw, ph, pw uint8, exclude bool) tensortest.PoolCase {
	return tensortest.PoolCase{
		N: 1 + int(n%2), C: 1 + int(c%3), H: 1 + int(h%10), W: 1 + int(w%10),
		Window:     [2]int{int(kh % 6), int(kw % 6)},
		Stride:     [2]int{int(sh % 5), int(sw % 5)},
		Pad:        [2]int{int(ph%4) - 1, int(pw%4) - 1},
		ExcludePad: exclude,
	}
}

// FuzzPool2D runs max and average pooling and their backward ops on fuzzed
// configurations, with the same assertions as FuzzConv2D.
func FuzzPool2D(f *testing.F) {
	type args struct {
		n, c, h, w, kh, kw, sh, sw, ph, pw uint8
		exclude                            bool
	}
	for _, a := range []args{
		{0, 0, 5, 5, 2, 2, 2, 2, 1, 1, false}, // 2×2 stride 2
		{1, 2, 6, 4, 3, 3, 2, 2, 2, 2, true},  // 3×3 stride 2 padding 1
		{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, false}, // 1×1 image, 1×1 window
		{0, 1, 8, 8, 2, 4, 4, 3, 1, 3, true},  // stride > window, padding 2
		{0, 0, 2, 2, 5, 5, 1, 1, 1, 1, false}, // window larger than the input
		{0, 0, 4, 4, 2, 2, 0, 1, 1, 1, false}, // stride 0
		{0, 0, 4, 4, 0, 2, 1, 1, 1, 1, false}, // window 0
		{0, 0, 4, 4, 2, 2, 1, 1, 3, 1, true},  // padding 2 > half of 2
		{0, 0, 4, 4, 2, 2, 1, 1, 0, 1, true},  // padding −1
	} {
		f.Add(uint64(0), a.n, a.c, a.h, a.w, a.kh, a.kw, a.sh, a.sw, a.ph, a.pw, a.exclude)
	}
	b := cpu.New()
	defer b.Close()
	f.Fuzz(func(t *testing.T, seed uint64, n, c, h, w, kh, kw, sh, sw, ph, pw uint8, exclude bool) {
		pc := poolFromFuzz(n, c, h, w, kh, kw, sh, sw, ph, pw, exclude)
		dt := tensor.Float32
		if seed%2 == 1 {
			dt = tensor.Float64
		}
		tensortest.CheckPoolCase(t, b, dt, pc, seed)
	})
}
