package tensortest

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// These tests check the suite itself, with no backend: that the
// configurations cover what the suite promises, and that the references agree
// with hand-computed results and with each other.

func TestConvCasesCoverage(t *testing.T) {
	cs := convCases()
	if n := len(cs) - len(edgeConvCases()); n < 200 {
		t.Errorf("%d random configurations, expected at least 200", n)
	}
	covered := map[string]bool{}
	for _, c := range cs {
		oh, ow := c.out()
		if oh < 1 || ow < 1 {
			t.Fatalf("%v: output %d×%d, expected a valid geometry", c, oh, ow)
		}
		mark := func(name string, ok bool) {
			if ok {
				covered[name] = true
			}
		}
		cpg := c.C / c.Groups
		mark("batch 1", c.N == 1)
		mark("batch 3", c.N == 3)
		mark("odd size", c.H%2 == 1 && c.W%2 == 1)
		mark("non-square input", c.H != c.W)
		mark("1x1 kernel", c.KH == 1 && c.KW == 1)
		mark("7x7 kernel", c.KH == 7 && c.KW == 7)
		mark("rectangular kernel", c.KH != c.KW)
		mark("stride larger than kernel", c.Stride[0] > c.KH || c.Stride[1] > c.KW)
		mark("padding kernel-1", c.KH > 1 && c.Pad[0] == c.KH-1 || c.KW > 1 && c.Pad[1] == c.KW-1)
		mark("dilation 2", c.Dilation[0] == 2 || c.Dilation[1] == 2)
		mark("one group", c.Groups == 1 && c.C > 1)
		mark("two groups", c.Groups == 2 && cpg > 1)
		mark("depthwise", c.Groups == c.C && c.C > 1)
		mark("depthwise multiplier 2", c.Groups == c.C && c.K == 2*c.C && c.C > 1)
		mark("bias", c.Bias)
		mark("no bias", !c.Bias)
		mark("1x1 output", oh == 1 && ow == 1)
	}
	for _, name := range []string{"batch 1", "batch 3", "odd size", "non-square input", "1x1 kernel", "7x7 kernel",
		"rectangular kernel", "stride larger than kernel", "padding kernel-1", "dilation 2", "one group",
		"two groups", "depthwise", "depthwise multiplier 2", "bias", "no bias", "1x1 output"} {
		if !covered[name] {
			t.Errorf("no configuration with %s", name)
		}
	}
}

func TestPoolCasesCoverage(t *testing.T) {
	covered := map[string]bool{}
	for i, c := range poolCases() {
		if 2*c.Pad[0] > c.Window[0] || 2*c.Pad[1] > c.Window[1] {
			t.Errorf("%v: padding more than half the window", c)
		}
		oh, ow := c.out()
		if oh < 1 || ow < 1 {
			t.Fatalf("%v: output %d×%d, expected a valid geometry", c, oh, ow)
		}
		padded := c.Pad[0] > 0 || c.Pad[1] > 0
		covered["ties"] = covered["ties"] || i%5 != 1 && i%2 == 0
		covered["padding, divisor with padding"] = covered["padding, divisor with padding"] || padded && !c.ExcludePad
		covered["padding, divisor without padding"] = covered["padding, divisor without padding"] || padded && c.ExcludePad
		covered["negative input with padding"] = covered["negative input with padding"] || padded && i%5 == 0
		covered["overlapping windows"] = covered["overlapping windows"] || c.Stride[0] < c.Window[0]
		covered["stride larger than window"] = covered["stride larger than window"] || c.Stride[1] > c.Window[1]
	}
	for _, name := range []string{"ties", "padding, divisor with padding", "padding, divisor without padding",
		"negative input with padding", "overlapping windows", "stride larger than window"} {
		if !covered[name] {
			t.Errorf("no pooling configuration with %s", name)
		}
	}
}

// dot is Σ a_i·b_i.
func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestConvReferenceAdjoint checks that the input and kernel gradients are the
// adjoints of the forward reference: ⟨conv(x, w), dy⟩ = ⟨x, dX(dy, w)⟩ =
// ⟨w, dW(x, dy)⟩, exactly for dyadic data.
func TestConvReferenceAdjoint(t *testing.T) {
	for i, c := range convCases() {
		r := newRand(uint64(i))
		oh, ow := c.out()
		x, w := dyadic(r, c.N*c.C*c.H*c.W), dyadic(r, c.K*(c.C/c.Groups)*c.KH*c.KW)
		dy := dyadic(r, c.N*c.K*oh*ow)
		y, _ := refConv2D(c, x, w, nil)
		dx, _ := refConv2DInputGrad(c, dy, w)
		dw, _ := refConv2DKernelGrad(c, x, dy)
		fwd, in, ker := dot(y, dy), dot(x, dx), dot(w, dw)
		if fwd != in || fwd != ker {
			t.Errorf("case %d (%v): <y, dy> = %v, <x, dx> = %v, <w, dw> = %v, expected equal", i, c, fwd, in, ker)
		}
	}
}

func TestConvReferenceExample(t *testing.T) {
	one := [2]int{1, 1}
	// x = 1..9 in 3×3, kernel [[1 0] [0 −1]]: y[i,j] = x[i,j] − x[i+1,j+1] = −4,
	// plus the bias 0.5.
	c := ConvCase{N: 1, C: 1, H: 3, W: 3, K: 1, KH: 2, KW: 2, Stride: one, Dilation: one, Groups: 1}
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y, mag := refConv2D(c, x, []float64{1, 0, 0, -1}, []float64{0.5})
	want := []float64{-3.5, -3.5, -3.5, -3.5}
	wantMag := []float64{0.5 + 1 + 5, 0.5 + 2 + 6, 0.5 + 4 + 8, 0.5 + 5 + 9}
	for i := range want {
		if y[i] != want[i] || mag[i] != wantMag[i] {
			t.Errorf("y[%d] = %v (mag %v), expected %v (mag %v)", i, y[i], mag[i], want[i], wantMag[i])
		}
	}
	// Stride 2, padding 1, 3×3 kernel of ones: window sums of the padded input.
	c = ConvCase{N: 1, C: 1, H: 3, W: 3, K: 1, KH: 3, KW: 3, Stride: [2]int{2, 2}, Pad: one, Dilation: one, Groups: 1}
	y, _ = refConv2D(c, x, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, nil)
	want = []float64{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}
	for i := range want {
		if y[i] != want[i] {
			t.Errorf("padded y[%d] = %v, expected %v", i, y[i], want[i])
		}
	}
	// Dilation 2 on a 1×1×3×3 input with a 2×2 kernel reads the corners.
	c = ConvCase{N: 1, C: 1, H: 3, W: 3, K: 1, KH: 2, KW: 2, Stride: one, Dilation: [2]int{2, 2}, Groups: 1}
	y, _ = refConv2D(c, x, []float64{1, 10, 100, 1000}, nil)
	if want := 1.0 + 30 + 700 + 9000; len(y) != 1 || y[0] != want {
		t.Errorf("dilated y = %v, expected [%v]", y, want)
	}
	// Two groups: each output channel sees only its half of the input.
	c = ConvCase{N: 1, C: 2, H: 1, W: 1, K: 2, KH: 1, KW: 1, Stride: one, Dilation: one, Groups: 2}
	y, _ = refConv2D(c, []float64{3, 5}, []float64{2, 7}, nil)
	if y[0] != 6 || y[1] != 35 {
		t.Errorf("grouped y = %v, expected [6 35]", y)
	}
	// Stride 3 over a 1×2 kernel leaves input column 2 unreached.
	c = ConvCase{N: 1, C: 1, H: 1, W: 5, K: 1, KH: 1, KW: 2, Stride: [2]int{1, 3}, Dilation: one, Groups: 1}
	dx, _ := refConv2DInputGrad(c, []float64{1, 10}, []float64{2, 3})
	if want := []float64{2, 3, 0, 20, 30}; !slices.Equal(dx, want) {
		t.Errorf("strided dx = %v, expected %v", dx, want)
	}
}

func TestPoolReferenceExample(t *testing.T) {
	// One 2×3 image, window 2×2, stride 1, padding 1 on the width.
	c := PoolCase{N: 1, C: 1, H: 2, W: 3, Window: [2]int{2, 2}, Stride: [2]int{1, 1}, Pad: [2]int{0, 1}}
	x := []float64{-1, 4, 4, -2, 4, -3}
	y, arg := refMaxPool(c, x)
	if want := []float64{-1, 4, 4, 4}; !slices.Equal(y, want) {
		t.Errorf("max pool = %v, expected %v (padding never wins)", y, want)
	}
	if want := []int{0, 1, 1, 2}; len(arg) != 4 || arg[0] != want[0] || arg[1] != want[1] || arg[2] != want[2] || arg[3] != want[3] {
		t.Errorf("max positions = %v, expected %v (first in row-major window order)", arg, want)
	}
	dx, _ := refMaxPoolBackward(c, x, []float64{1, 2, 3, 4})
	if want := []float64{1, 5, 4, 0, 0, 0}; !slices.Equal(dx, want) {
		t.Errorf("max pool backward = %v, expected %v", dx, want)
	}
	avg, _ := refAvgPool(c, x)
	if want := []float64{-3.0 / 4, 5.0 / 4, 9.0 / 4, 1.0 / 4}; !slices.Equal(avg, want) {
		t.Errorf("average pool (padding counted) = %v, expected %v", avg, want)
	}
	c.ExcludePad = true
	avg, _ = refAvgPool(c, x)
	if want := []float64{-3.0 / 2, 5.0 / 4, 9.0 / 4, 1.0 / 2}; !slices.Equal(avg, want) {
		t.Errorf("average pool (padding excluded) = %v, expected %v", avg, want)
	}
	dx, _ = refAvgPoolBackward(c, []float64{2, 4, 8, 16})
	if want := []float64{1 + 1, 1 + 2, 2 + 8, 1 + 1, 1 + 2, 2 + 8}; !slices.Equal(dx, want) {
		t.Errorf("average pool backward (padding excluded) = %v, expected %v", dx, want)
	}
}

func TestDenseReferenceExamples(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6} // [2 3]
	b := []float64{1, 0, 2, 1, 0, 3} // [3 2]
	c, _ := refMatMul(a, b, 2, 2, 3, false, false)
	if want := []float64{5, 11, 14, 23}; !slices.Equal(c, want) {
		t.Errorf("matmul = %v, expected %v", c, want)
	}
	// a·aᵀ with transB, and aᵀ·a with transA.
	c, _ = refMatMul(a, a, 2, 2, 3, false, true)
	if want := []float64{14, 32, 32, 77}; !slices.Equal(c, want) {
		t.Errorf("a·aᵀ = %v, expected %v", c, want)
	}
	c, _ = refMatMul(a, a, 3, 3, 2, true, false)
	if want := []float64{17, 22, 27, 22, 29, 36, 27, 36, 45}; !slices.Equal(c, want) {
		t.Errorf("aᵀ·a = %v, expected %v", c, want)
	}
	s, _ := refSum([]float64{1, 2, 3, 4, 5, 6}, []int{2, 3}, []bool{true, false})
	if want := []float64{5, 7, 9}; !slices.Equal(s, want) {
		t.Errorf("sum over axis 0 = %v, expected %v", s, want)
	}
	s, _ = refSum([]float64{1, 2, 3, 4, 5, 6}, []int{2, 3}, []bool{false, true})
	if want := []float64{6, 15}; !slices.Equal(s, want) {
		t.Errorf("sum over axis 1 = %v, expected %v", s, want)
	}
	db, _ := refBiasGrad([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2)
	if want := []float64{1 + 2 + 5 + 6, 3 + 4 + 7 + 8}; !slices.Equal(db, want) {
		t.Errorf("bias gradient = %v, expected %v", db, want)
	}
	if got := refArgMax([]float64{1, 3, 3, -1, -1, -1}, 2, 3); !slices.Equal(got, []float64{1, 0}) {
		t.Errorf("argmax = %v, expected [1 0]", got)
	}
	y := refSoftmax([]float64{0, math.Log(3), 1000, 1000}, 2, 2)
	if want := []float64{0.25, 0.75, 0.5, 0.5}; math.Abs(y[0]-want[0]) > 1e-15 || math.Abs(y[1]-want[1]) > 1e-15 || y[2] != 0.5 || y[3] != 0.5 {
		t.Errorf("softmax = %v, expected %v", y, want)
	}
	if refSigmoid(-1000) != 0 || refSigmoid(1000) != 1 || refSigmoid(0) != 0.5 {
		t.Errorf("sigmoid(−1000, 1000, 0) = %v %v %v, expected 0 1 0.5", refSigmoid(-1000), refSigmoid(1000), refSigmoid(0))
	}
}

func TestLossReferenceExamples(t *testing.T) {
	m := refMSE([]float64{1, 2}, []float64{0, 4})
	if m.loss != 2.5 || !slices.Equal(m.grad, []float64{1, -2}) {
		t.Errorf("mse = %v, gradient %v, expected 2.5, [1 -2]", m.loss, m.grad)
	}
	bce := refBCE([]float64{0.5, 0}, []float64{1, 1})
	want := -(math.Log(0.5) + math.Log(tensor.BCEEpsilon)) / 2
	if math.Abs(bce.loss-want) > 1e-14 || relErr(bce.grad[1], -0.5/tensor.BCEEpsilon) > 1e-15 {
		t.Errorf("bce = %v, gradient %v, expected %v with a clamped gradient", bce.loss, bce.grad, want)
	}
	// Uniform logits over 4 classes: loss log 4.
	sce := refSoftmaxCrossEntropy([]float64{7, 7, 7, 7}, []float64{0, 1, 0, 0}, 1, 4)
	if math.Abs(sce.loss-math.Log(4)) > 1e-15 || !slices.Equal(sce.grad, []float64{0.25, -0.75, 0.25, 0.25}) {
		t.Errorf("softmax cross entropy = %v, gradient %v, expected log 4, [0.25 -0.75 0.25 0.25]", sce.loss, sce.grad)
	}
}

func TestOptimizerReferenceExamples(t *testing.T) {
	p, v := []float64{1}, []float64{0}
	refSGD(p, []float64{0.5}, v, tensor.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.5})
	// g = 0.5 + 0.5·1 = 1; v = 1; p = 1 − 0.1 = 0.9.
	refSGD(p, []float64{0.5}, v, tensor.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.5})
	// g = 0.5 + 0.45 = 0.95; v = 0.9 + 0.95 = 1.85; p = 0.9 − 0.185 = 0.715.
	if math.Abs(p[0]-0.715) > 1e-15 || math.Abs(v[0]-1.85) > 1e-15 {
		t.Errorf("sgd: p %v v %v, expected 0.715 1.85", p[0], v[0])
	}
	p, v = []float64{1}, []float64{0}
	o := tensor.SGDParams{LR: 0.1, Momentum: 0.5, Nesterov: true}
	refSGD(p, []float64{1}, v, o)
	// v = 1; p = 1 − 0.1·(1 + 0.5·1) = 0.85.
	refSGD(p, []float64{1}, v, o)
	// v = 0.5 + 1 = 1.5; p = 0.85 − 0.1·(1 + 0.75) = 0.675.
	if math.Abs(p[0]-0.675) > 1e-15 || v[0] != 1.5 {
		t.Errorf("nesterov sgd: p %v v %v, expected 0.675 1.5", p[0], v[0])
	}
	// AdamW: p = 2·(1 − 0.1·0.5) = 1.9, then the Adam step of g = 3 (no L2
	// term) moves it by lr = 0.1 when ε = 0.
	p, m, s := []float64{2}, []float64{0}, []float64{0}
	refAdam(p, []float64{3}, m, s, tensor.AdamParams{LR: 0.1, Beta1: 0.9, Beta2: 0.999, WeightDecay: 0.5, Decoupled: true}, 1)
	if math.Abs(p[0]-1.8) > 1e-15 || math.Abs(m[0]-0.3) > 1e-15 {
		t.Errorf("adamw first step: p %v m %v, expected 1.8 0.3", p[0], m[0])
	}
	// The first Adam step moves every parameter by lr·g/(|g| + ε): about lr.
	p, m, s = []float64{1, 1}, []float64{0, 0}, []float64{0, 0}
	refAdam(p, []float64{3, -0.001}, m, s, tensor.DefaultAdam(), 1)
	if math.Abs(p[0]-(1-1e-3)) > 1e-10 || math.Abs(p[1]-(1+1e-3)) > 1e-8 {
		t.Errorf("adam first step: %v, expected [0.999 1.001]", p)
	}
}

func TestTolerance(t *testing.T) {
	f32, f64 := Tolerance(tensor.Float32), Tolerance(tensor.Float64)
	if f32.Rel != 1e-5 || f64.Rel != 1e-12 {
		t.Errorf("relative tolerances %v and %v, expected 1e-5 and 1e-12 as documented", f32.Rel, f64.Rel)
	}
	if !f32.Close(1+5e-6, 1, 1) || f32.Close(1+2e-5, 1, 1) || !f32.Close(1+2e-5, 1, 10) {
		t.Errorf("float32 bound does not scale with the magnitude of the terms")
	}
	if f64.Close(math.NaN(), math.NaN(), 1) || f64.Close(math.NaN(), 0, math.Inf(1)) {
		t.Errorf("NaN compared close")
	}
	if !f64.Close(math.Inf(1), math.Inf(1), 0) || f64.Close(math.Inf(-1), math.Inf(1), 0) {
		t.Errorf("infinities compared wrongly")
	}
	if !f32.Close(1e-40, 0, 0) || exact.Close(1e-40, 0, 0) {
		t.Errorf("absolute floor wrong")
	}
}

func TestRelErr(t *testing.T) {
	for _, c := range []struct{ a, n, want float64 }{{1, 1, 0}, {2, 1, 0.5}, {0, 0, 0}, {1e-9, 0, 0.1}, {-1, 1, 2}} {
		if got := relErr(c.a, c.n); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("relErr(%v, %v) = %v, expected %v", c.a, c.n, got, c.want)
		}
	}
}

func TestNumGrad(t *testing.T) {
	// f(x) = [x0², x0·x1]: Σ r·f has gradient [2x0·r0 + x1·r1, x0·r1].
	x, r := []float64{0.75, -0.5}, []float64{1, 2}
	g := numGrad(x, r, func(x []float64) []float64 { return []float64{x[0] * x[0], x[0] * x[1]} })
	want := []float64{2*0.75 - 0.5*2, 0.75 * 2}
	for i := range want {
		if relErr(g[i], want[i]) > 1e-9 {
			t.Errorf("numeric gradient %v, expected %v", g, want)
		}
	}
}

func TestUnsupported(t *testing.T) {
	u := NewUnsupported("fake")
	var b tensor.Backend = u
	x := u.NewTensor(tensor.Float32, tensor.Shape{2, 3})
	if x.Backend() != b || x.Len() != 6 || b.Name() != "fake" {
		t.Errorf("NewTensor made %v owned by %q", x, x.Backend().Name())
	}
	if _, err := b.Alloc(tensor.Float32, tensor.Shape{1}); !errors.Is(err, tensor.ErrUnsupported) {
		t.Errorf("Alloc: %v, expected ErrUnsupported", err)
	}
	for name, err := range map[string]error{
		"conv2d":  b.Conv2D(x, x, x, nil, tensor.DefaultConv2D()),
		"add":     b.Add(x, x, x),
		"sync":    b.Sync(),
		"adam":    b.AdamStep(x, x, x, x, tensor.DefaultAdam(), 1),
		"dropout": b.DropoutMask(x, 0.5, 1),
	} {
		if !errors.Is(err, tensor.ErrUnsupported) {
			t.Errorf("%s: %v, expected ErrUnsupported", name, err)
		}
	}
	if err := x.Free(); err != nil || b.Close() != nil {
		t.Errorf("free or close failed: %v", err)
	}
}
