package cpu

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestElementwise(t *testing.T) { both(t, testElementwise[float32], testElementwise[float64]) }

func testElementwise[T scalar](t *testing.T) {
	b := New()
	s := tensor.Shape{2, 3}
	a := put[T](t, b, s, -2, -1, 0, 0.5, 1, 2)
	c := put[T](t, b, s, 1, 2, 3, 4, 5, 6)
	d := put[T](t, b, s)
	must(t, b.Add(d, a, c))
	near(t, "add", get[T](t, b, d), []float64{-1, 1, 3, 4.5, 6, 8}, 0)
	must(t, b.Mul(d, a, c))
	near(t, "mul", get[T](t, b, d), []float64{-2, -2, 0, 2, 5, 12}, 0)
	must(t, b.Scale(d, a, -2))
	near(t, "scale", get[T](t, b, d), []float64{4, 2, 0, -1, -2, -4}, 0)
	must(t, b.ReLU(d, a))
	near(t, "relu", get[T](t, b, d), []float64{0, 0, 0, 0.5, 1, 2}, 0)
	must(t, b.ReLUBackward(d, c, a))
	near(t, "relu backward", get[T](t, b, d), []float64{0, 0, 0, 4, 5, 6}, 0)
	must(t, b.Tanh(d, a))
	want := make([]float64, 6)
	for i, v := range []float64{-2, -1, 0, 0.5, 1, 2} {
		want[i] = math.Tanh(v)
	}
	near(t, "tanh", get[T](t, b, d), want, tol[T]())
	y := put[T](t, b, s, 0.5, 0.25, 0, 1, -1, 0.1)
	must(t, b.TanhBackward(d, c, y))
	near(t, "tanh backward", get[T](t, b, d), []float64{0.75, 1.875, 3, 0, 0, 6 * 0.99}, tol[T]())
	must(t, b.SigmoidBackward(d, c, y))
	near(t, "sigmoid backward", get[T](t, b, d), []float64{0.25, 0.375, 0, 0, -10, 6 * 0.09}, tol[T]())

	// In place: dst aliases an input.
	must(t, b.Add(a, a, c))
	near(t, "add in place", get[T](t, b, a), []float64{-1, 1, 3, 4.5, 6, 8}, 0)
}

func TestSigmoidExtremes(t *testing.T) {
	both(t, testSigmoidExtremes[float32], testSigmoidExtremes[float64])
}

func testSigmoidExtremes[T scalar](t *testing.T) {
	b := New()
	x := put[T](t, b, tensor.Shape{5}, -1e30, -800, 0, 800, 1e30)
	must(t, b.Sigmoid(x, x))
	near(t, "sigmoid", get[T](t, b, x), []float64{0, 0, 0.5, 1, 1}, 0)
}

func TestSoftmax(t *testing.T) { both(t, testSoftmax[float32], testSoftmax[float64]) }

func testSoftmax[T scalar](t *testing.T) {
	b := New()
	// The second row is the first plus 1000: the same softmax, no overflow.
	x := put[T](t, b, tensor.Shape{2, 3}, 1, 2, 3, 1001, 1002, 1003)
	y := put[T](t, b, tensor.Shape{2, 3})
	must(t, b.Softmax(y, x))
	e := []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}
	near(t, "softmax", get[T](t, b, y), append(e, e...), tol[T]())

	// dx = y ⊙ (dy − Σ dy ⊙ y); with dy = one-hot(2): Σ = y2.
	dy := put[T](t, b, tensor.Shape{2, 3}, 0, 0, 1, 1, 1, 1)
	dx := put[T](t, b, tensor.Shape{2, 3})
	must(t, b.SoftmaxBackward(dx, dy, y))
	want := []float64{-e[0] * e[2], -e[1] * e[2], e[2] * (1 - e[2]), 0, 0, 0}
	near(t, "softmax backward", get[T](t, b, dx), want, tol[T]())

	must(t, b.Softmax(x, x))
	near(t, "softmax in place", get[T](t, b, x), append(e, e...), tol[T]())
}

func TestArgMax(t *testing.T) {
	b := New()
	x := put[float32](t, b, tensor.Shape{3, 4}, 1, 5, 5, 2, -3, -2, -1, -1, 0, 0, 0, 0)
	d := put[float32](t, b, tensor.Shape{3})
	must(t, b.ArgMax(d, x))
	near(t, "argmax", get[float32](t, b, d), []float64{1, 2, 0}, 0)
}

func TestDropoutMask(t *testing.T) { both(t, testDropoutMask[float32], testDropoutMask[float64]) }

func testDropoutMask[T scalar](t *testing.T) {
	b := New()
	const n, rate, seed = 100000, 0.3, 42
	m := put[T](t, b, tensor.Shape{n})
	must(t, b.DropoutMask(m, rate, seed))
	got := get[T](t, b, m)
	keep := float64(1 / (1 - T(rate)))
	kept := 0
	for i, v := range got {
		u := float64(tensor.DropoutUniform(seed, uint32(i)))
		switch {
		case u >= rate && v != keep, u < rate && v != 0:
			t.Fatalf("element %d (u = %v) is %v, want %v or 0", i, u, v, keep)
		case v != 0:
			kept++
		}
	}
	if f := float64(kept) / n; math.Abs(f-(1-rate)) > 0.01 {
		t.Errorf("kept fraction %v, want about %v", f, 1-rate)
	}
	must(t, b.DropoutMask(m, 0, seed))
	for i, v := range get[T](t, b, m) {
		if v != 1 {
			t.Fatalf("rate 0: element %d is %v, want 1", i, v)
		}
	}
}

func TestBias(t *testing.T) { both(t, testBias[float32], testBias[float64]) }

func testBias[T scalar](t *testing.T) {
	b := New()
	x := put[T](t, b, tensor.Shape{2, 2, 1, 2}, 1, 2, 3, 4, 5, 6, 7, 8)
	bias := put[T](t, b, tensor.Shape{2}, 10, 100)
	must(t, b.AddBias(x, x, bias))
	near(t, "add bias", get[T](t, b, x), []float64{11, 12, 103, 104, 15, 16, 107, 108}, 0)
	db := put[T](t, b, tensor.Shape{2})
	must(t, b.BiasGrad(db, x))
	near(t, "bias gradient", get[T](t, b, db), []float64{11 + 12 + 15 + 16, 103 + 104 + 107 + 108}, 0)
}

func TestSum(t *testing.T) { both(t, testSum[float32], testSum[float64]) }

func testSum[T scalar](t *testing.T) {
	// x[i, j, k] = 100i + 10j + k over [2, 3, 4].
	var v []float64
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				v = append(v, float64(100*i+10*j+k))
			}
		}
	}
	cases := []struct {
		axes []int
		out  tensor.Shape
		want []float64
	}{
		{nil, tensor.Shape{1}, []float64{2*(0+100)*6 + 2*3*(0+1+2+3) + 2*4*(0+10+20)}},
		{[]int{0}, tensor.Shape{3, 4}, []float64{100, 102, 104, 106, 120, 122, 124, 126, 140, 142, 144, 146}},
		{[]int{1}, tensor.Shape{2, 1, 4}, []float64{30, 33, 36, 39, 330, 333, 336, 339}},
		{[]int{2}, tensor.Shape{2, 3}, []float64{6, 46, 86, 406, 446, 486}},
		{[]int{0, 2}, tensor.Shape{3}, []float64{412, 492, 572}},
		{[]int{2, 1}, tensor.Shape{2}, []float64{138, 1338}},
	}
	for _, threads := range []int{1, 2} {
		b := New(Threads(threads))
		x := put[T](t, b, tensor.Shape{2, 3, 4}, v...)
		for _, c := range cases {
			d := put[T](t, b, c.out)
			must(t, b.Sum(d, x, c.axes...))
			near(t, "sum", get[T](t, b, d), c.want, 0)
		}
	}
	// Big enough to split a summed and a kept outer axis over workers.
	b := New(Threads(3))
	x := put[T](t, b, tensor.Shape{3 * elemGrain, 2})
	must(t, b.Fill(x, 1))
	d := put[T](t, b, tensor.Shape{2})
	must(t, b.Sum(d, x, 0))
	near(t, "big sum over axis 0", get[T](t, b, d), []float64{3 * elemGrain, 3 * elemGrain}, 0)
	d = put[T](t, b, tensor.Shape{3 * elemGrain})
	must(t, b.Sum(d, x, 1))
	for i, v := range get[T](t, b, d) {
		if v != 2 {
			t.Fatalf("big sum over axis 1: element %d is %v, want 2", i, v)
		}
	}
}

func TestMatMul(t *testing.T) { both(t, testMatMul[float32], testMatMul[float64]) }

func testMatMul[T scalar](t *testing.T) {
	b := New()
	a := put[T](t, b, tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)
	bt := put[T](t, b, tensor.Shape{2, 3}, 1, 0, -1, 2, 1, 0)
	c := put[T](t, b, tensor.Shape{2, 2})
	// a·btᵀ: rows of a against rows of bt.
	must(t, b.MatMul(c, a, bt, false, true))
	near(t, "a·bᵀ", get[T](t, b, c), []float64{-2, 4, -2, 13}, 0)
	c = put[T](t, b, tensor.Shape{3, 3})
	// aᵀ·bt: [3,2]·[2,3].
	must(t, b.MatMul(c, a, bt, true, false))
	near(t, "aᵀ·b", get[T](t, b, c), []float64{9, 4, -1, 12, 5, -2, 15, 6, -3}, 0)
}

func TestReLUBackwardSpecial(t *testing.T) {
	both(t, testReLUBackwardSpecial[float32], testReLUBackwardSpecial[float64])
}

// ReLUBackward passes dy through exactly where x > 0 and gives +0 elsewhere,
// even for infinite or NaN dy and for NaN, −0 and +0 inputs.
func testReLUBackwardSpecial[T scalar](t *testing.T) {
	b := New()
	inf, nan := math.Inf(1), math.NaN()
	x := put[T](t, b, tensor.Shape{7}, 1, -1, nan, math.Copysign(0, -1), 0, 2, 3)
	dy := put[T](t, b, tensor.Shape{7}, inf, inf, inf, nan, nan, -inf, -0.5)
	dx := put[T](t, b, tensor.Shape{7})
	must(t, b.ReLUBackward(dx, dy, x))
	got := get[T](t, b, dx)
	want := []float64{inf, 0, 0, 0, 0, -inf, -0.5}
	for i := range want {
		if got[i] != want[i] || math.Signbit(got[i]) != math.Signbit(want[i]) {
			t.Fatalf("ReLUBackward = %v, want %v", got, want)
		}
	}
}
