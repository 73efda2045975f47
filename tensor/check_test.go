package tensor_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// fixture makes tensors owned by b (and by a foreign backend) for the checks.
type fixture struct {
	b, other *tensortest.Unsupported
}

func newFixture() fixture {
	return fixture{b: tensortest.NewUnsupported("mine"), other: tensortest.NewUnsupported("other")}
}

func (f fixture) f32(s ...int) *tensor.Tensor { return f.b.NewTensor(tensor.Float32, tensor.Shape(s)) }
func (f fixture) f64(s ...int) *tensor.Tensor { return f.b.NewTensor(tensor.Float64, tensor.Shape(s)) }
func (f fixture) foreign(s ...int) *tensor.Tensor {
	return f.other.NewTensor(tensor.Float32, tensor.Shape(s))
}
func (f fixture) freed(s ...int) *tensor.Tensor {
	x := f.f32(s...)
	if err := x.Free(); err != nil {
		panic(err)
	}
	return x
}

// checkCase is one call of a Check function: want nil for valid input, else
// the sentinel the error must wrap and words its message must contain.
type checkCase struct {
	name  string
	want  error
	words []string
	call  func() error
}

func runChecks(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		err := c.call()
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v, expected nil", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, expected an error wrapping %q", c.name, err, c.want)
		case err != nil:
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: message %q does not mention %q", c.name, err, w)
				}
			}
		}
	}
}

func TestCheckArgs(t *testing.T) {
	f := newFixture()
	twin := tensortest.NewUnsupported("mine")
	a := func(name string, x *tensor.Tensor) tensor.Arg { return tensor.Arg{Name: name, T: x} }
	dt, err := tensor.CheckArgs(f.b, "op", a("x", f.f64(2)), a("y", f.f64(3)))
	if err != nil || dt != tensor.Float64 {
		t.Errorf("CheckArgs of two float64 tensors = %v, %v; expected float64, nil", dt, err)
	}
	runChecks(t, []checkCase{
		{"nil tensor", tensor.ErrShape, []string{"op", "y", "nil"}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("x", f.f32(1)), a("y", nil))
			return err
		}},
		{"freed tensor", tensor.ErrFreed, []string{"op", "x"}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("x", f.freed(1)))
			return err
		}},
		{"foreign tensor", tensor.ErrBackend, []string{"op", "w", "other", "mine"}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("x", f.f32(1)), a("w", f.foreign(1)))
			return err
		}},
		{"tensor of a second backend of the same name", tensor.ErrBackend, []string{"op", "w", fmt.Sprintf("mine backend %p", twin), fmt.Sprintf("mine backend %p", f.b)}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("x", f.f32(1)), a("w", twin.NewTensor(tensor.Float32, tensor.Shape{1})))
			return err
		}},
		{"invalid dtype", tensor.ErrDType, []string{"DType(0)"}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("x", f.b.NewTensor(0, tensor.Shape{1})))
			return err
		}},
		{"mixed dtypes", tensor.ErrDType, []string{"float64", "float32", "b"}, func() error {
			_, err := tensor.CheckArgs(f.b, "op", a("a", f.f32(1)), a("b", f.f64(1)))
			return err
		}},
	})
}

func TestCheckHost(t *testing.T) {
	f := newFixture()
	x32, x64 := f.f32(2, 3), f.f64(4)
	runChecks(t, []checkCase{
		{"float32 ok", nil, nil, func() error { return tensor.CheckHost("upload", x32, make([]float32, 6)) }},
		{"float64 ok", nil, nil, func() error { return tensor.CheckHost("download", x64, make([]float64, 4)) }},
		{"wrong float type", tensor.ErrDType, []string{"upload", "float64", "float32"}, func() error { return tensor.CheckHost("upload", x32, make([]float64, 6)) }},
		{"int slice", tensor.ErrDType, []string{"[]int"}, func() error { return tensor.CheckHost("upload", x32, []int{1}) }},
		{"nil", tensor.ErrDType, nil, func() error { return tensor.CheckHost("upload", x32, nil) }},
		{"short", tensor.ErrShape, []string{"5", "6"}, func() error { return tensor.CheckHost("upload", x32, make([]float32, 5)) }},
		{"long", tensor.ErrShape, nil, func() error { return tensor.CheckHost("download", x64, make([]float64, 5)) }},
	})
}

func TestCheckConv2D(t *testing.T) {
	f := newFixture()
	p := tensor.Conv2DParams{Stride: [2]int{2, 1}, Pad: [2]int{1, 0}, Dilation: [2]int{1, 2}, Groups: 2}
	// x [2 4 7 9], w [6 2 3 3]: OH = (7+2−3)/2+1 = 4, OW = (9−5)/1+1 = 5.
	g, err := tensor.CheckConv2D(f.b, f.f32(2, 6, 4, 5), f.f32(2, 4, 7, 9), f.f32(6, 2, 3, 3), f.f32(6), p)
	if err != nil {
		t.Fatalf("CheckConv2D: %v", err)
	}
	want := tensor.ConvGeom{N: 2, C: 4, H: 7, W: 9, K: 6, KH: 3, KW: 3, OH: 4, OW: 5, Groups: 2, Stride: p.Stride, Pad: p.Pad, Dilation: p.Dilation}
	if g != want {
		t.Errorf("geometry %+v, expected %+v", g, want)
	}
	if !g.XShape().Equal(tensor.Shape{2, 4, 7, 9}) || !g.WShape().Equal(tensor.Shape{6, 2, 3, 3}) || !g.YShape().Equal(tensor.Shape{2, 6, 4, 5}) {
		t.Errorf("shapes %v %v %v", g.XShape(), g.WShape(), g.YShape())
	}
	if got := g.FLOPs(); got != 2*2*6*4*5*2*3*3 {
		t.Errorf("FLOPs = %v, expected %v", got, 2*2*6*4*5*2*3*3)
	}
	def := tensor.DefaultConv2D()
	if def.Stride != [2]int{1, 1} || def.Dilation != [2]int{1, 1} || def.Pad != [2]int{} || def.Groups != 1 {
		t.Errorf("DefaultConv2D() = %+v", def)
	}
	x, w, y := f.f32(1, 3, 5, 5), f.f32(2, 3, 3, 3), f.f32(1, 2, 3, 3)
	with := func(mod func(*tensor.Conv2DParams)) tensor.Conv2DParams {
		q := def
		mod(&q)
		return q
	}
	conv := func(y, x, w, b *tensor.Tensor, p tensor.Conv2DParams) func() error {
		return func() error { _, err := tensor.CheckConv2D(f.b, y, x, w, b, p); return err }
	}
	runChecks(t, []checkCase{
		{"valid without bias", nil, nil, conv(y, x, w, nil, def)},
		{"input rank 3", tensor.ErrShape, []string{"conv2d", "input", "rank 4"}, conv(y, f.f32(3, 5, 5), w, nil, def)},
		{"kernel rank 3", tensor.ErrShape, []string{"kernel"}, conv(y, x, f.f32(2, 3, 9), nil, def)},
		{"channels differ", tensor.ErrShape, []string{"kernel", "input channels"}, conv(y, x, f.f32(2, 2, 3, 3), nil, def)},
		{"kernel larger than padded input", tensor.ErrShape, []string{"height"}, conv(y, x, f.f32(2, 3, 6, 3), nil, def)},
		{"dilated kernel too wide", tensor.ErrShape, []string{"width", "dilation"}, conv(y, x, w, nil, with(func(p *tensor.Conv2DParams) { p.Dilation[1] = 3 }))},
		{"stride 0", tensor.ErrParam, []string{"stride"}, conv(y, x, w, nil, with(func(p *tensor.Conv2DParams) { p.Stride[0] = 0 }))},
		{"dilation 0", tensor.ErrParam, []string{"dilation"}, conv(y, x, w, nil, with(func(p *tensor.Conv2DParams) { p.Dilation[0] = 0 }))},
		{"negative padding", tensor.ErrParam, []string{"padding"}, conv(y, x, w, nil, with(func(p *tensor.Conv2DParams) { p.Pad[1] = -1 }))},
		{"groups 0", tensor.ErrParam, []string{"groups"}, conv(y, x, w, nil, with(func(p *tensor.Conv2DParams) { p.Groups = 0 }))},
		{"groups not dividing input channels", tensor.ErrParam, []string{"groups 2", "3 input channels"}, conv(y, x, f.f32(2, 1, 3, 3), nil, with(func(p *tensor.Conv2DParams) { p.Groups = 2 }))},
		{"groups not dividing output channels", tensor.ErrParam, []string{"output channels"}, conv(f.f32(1, 3, 3, 3), f.f32(1, 4, 5, 5), f.f32(3, 2, 3, 3), nil, with(func(p *tensor.Conv2DParams) { p.Groups = 2 }))},
		{"wrong output", tensor.ErrShape, []string{"output", "[1 2 3 3]"}, conv(f.f32(1, 2, 3, 4), x, w, nil, def)},
		{"wrong bias", tensor.ErrShape, []string{"bias"}, conv(y, x, w, f.f32(3), def)},
		{"bias of another dtype", tensor.ErrDType, []string{"bias"}, conv(y, x, w, f.f64(2), def)},
		{"freed kernel", tensor.ErrFreed, []string{"kernel"}, conv(y, x, f.freed(2, 3, 3, 3), nil, def)},
		{"foreign input", tensor.ErrBackend, []string{"input"}, conv(y, f.foreign(1, 3, 5, 5), w, nil, def)},
	})

	ig := func(dx, dy, w *tensor.Tensor, p tensor.Conv2DParams) func() error {
		return func() error { _, err := tensor.CheckConv2DInputGrad(f.b, dx, dy, w, p); return err }
	}
	kg := func(dw, x, dy *tensor.Tensor, p tensor.Conv2DParams) func() error {
		return func() error { _, err := tensor.CheckConv2DKernelGrad(f.b, dw, x, dy, p); return err }
	}
	runChecks(t, []checkCase{
		{"input gradient valid", nil, nil, ig(x, y, w, def)},
		{"input gradient wrong output gradient", tensor.ErrShape, []string{"input gradient", "output gradient"}, ig(x, f.f32(1, 2, 2, 3), w, def)},
		{"input gradient stride 0", tensor.ErrParam, []string{"input gradient", "stride"}, ig(x, y, w, with(func(p *tensor.Conv2DParams) { p.Stride[1] = 0 }))},
		{"input gradient channels differ", tensor.ErrShape, nil, ig(f.f32(1, 4, 5, 5), y, w, def)},
		{"kernel gradient valid", nil, nil, kg(w, x, y, def)},
		{"kernel gradient wrong output gradient", tensor.ErrShape, []string{"kernel gradient"}, kg(w, x, f.f32(2, 2, 3, 3), def)},
		{"kernel gradient groups not dividing", tensor.ErrParam, []string{"groups"}, kg(f.f32(2, 1, 3, 3), x, y, with(func(p *tensor.Conv2DParams) { p.Groups = 2 }))},
		{"kernel gradient freed input", tensor.ErrFreed, nil, kg(w, f.freed(1, 3, 5, 5), y, def)},
	})
}

func TestCheckChannelOps(t *testing.T) {
	f := newFixture()
	g, err := tensor.CheckBiasGrad(f.b, f.f32(3), f.f32(2, 3, 4, 5))
	if err != nil || g != (tensor.ChannelGeom{Outer: 2, C: 3, Inner: 20}) {
		t.Errorf("CheckBiasGrad = %+v, %v; expected {2 3 20}", g, err)
	}
	g, err = tensor.CheckAddBias(f.b, f.f32(4, 7), f.f32(4, 7), f.f32(7))
	if err != nil || g != (tensor.ChannelGeom{Outer: 4, C: 7, Inner: 1}) {
		t.Errorf("CheckAddBias = %+v, %v; expected {4 7 1}", g, err)
	}
	runChecks(t, []checkCase{
		{"bias gradient rank 1", tensor.ErrShape, []string{"bias gradient", "rank ≥ 2"}, func() error { _, err := tensor.CheckBiasGrad(f.b, f.f32(3), f.f32(3)); return err }},
		{"bias gradient wrong length", tensor.ErrShape, []string{"[3]"}, func() error { _, err := tensor.CheckBiasGrad(f.b, f.f32(4), f.f32(2, 3)); return err }},
		{"add bias wrong bias", tensor.ErrShape, []string{"add bias", "bias"}, func() error { _, err := tensor.CheckAddBias(f.b, f.f32(2, 3), f.f32(2, 3), f.f32(2)); return err }},
		{"add bias wrong output", tensor.ErrShape, []string{"output"}, func() error { _, err := tensor.CheckAddBias(f.b, f.f32(6), f.f32(2, 3), f.f32(3)); return err }},
		{"add bias foreign bias", tensor.ErrBackend, nil, func() error { _, err := tensor.CheckAddBias(f.b, f.f32(2, 3), f.f32(2, 3), f.foreign(3)); return err }},
	})
}

func TestCheckPool(t *testing.T) {
	f := newFixture()
	p := tensor.Pool2DParams{Window: [2]int{3, 2}, Stride: [2]int{2, 2}, Pad: [2]int{1, 1}, ExcludePad: true}
	// x [1 2 7 6]: OH = (7+2−3)/2+1 = 4, OW = (6+2−2)/2+1 = 4.
	g, err := tensor.CheckPool2D(f.b, "max pool", f.f32(1, 2, 4, 4), f.f32(1, 2, 7, 6), p)
	want := tensor.PoolGeom{N: 1, C: 2, H: 7, W: 6, OH: 4, OW: 4, Window: p.Window, Stride: p.Stride, Pad: p.Pad, ExcludePad: true}
	if err != nil || g != want {
		t.Errorf("CheckPool2D = %+v, %v; expected %+v", g, err, want)
	}
	if !g.XShape().Equal(tensor.Shape{1, 2, 7, 6}) || !g.YShape().Equal(tensor.Shape{1, 2, 4, 4}) {
		t.Errorf("shapes %v %v", g.XShape(), g.YShape())
	}
	x, y := f.f32(1, 2, 7, 6), f.f32(1, 2, 4, 4)
	pool := func(y, x *tensor.Tensor, p tensor.Pool2DParams) func() error {
		return func() error { _, err := tensor.CheckPool2D(f.b, "avg pool", y, x, p); return err }
	}
	back := func(dx, dy, x *tensor.Tensor, p tensor.Pool2DParams) func() error {
		return func() error { _, err := tensor.CheckPool2DBackward(f.b, "max pool backward", dx, dy, x, p); return err }
	}
	mod := func(m func(*tensor.Pool2DParams)) tensor.Pool2DParams {
		q := p
		m(&q)
		return q
	}
	runChecks(t, []checkCase{
		{"window 0", tensor.ErrParam, []string{"avg pool", "kernel size"}, pool(y, x, mod(func(q *tensor.Pool2DParams) { q.Window[0] = 0 }))},
		{"stride 0", tensor.ErrParam, []string{"stride"}, pool(y, x, mod(func(q *tensor.Pool2DParams) { q.Stride[1] = 0 }))},
		{"padding more than half the window", tensor.ErrParam, []string{"half the window"}, pool(y, x, mod(func(q *tensor.Pool2DParams) { q.Pad[1] = 2 }))},
		{"negative padding", tensor.ErrParam, []string{"padding"}, pool(y, x, mod(func(q *tensor.Pool2DParams) { q.Pad[0] = -1 }))},
		{"window larger than padded input", tensor.ErrShape, nil, pool(y, f.f32(1, 2, 1, 6), mod(func(q *tensor.Pool2DParams) { q.Pad[0] = 0 }))},
		{"input rank 2", tensor.ErrShape, []string{"rank 4"}, pool(y, f.f32(7, 6), p)},
		{"wrong output", tensor.ErrShape, []string{"output"}, pool(f.f32(1, 2, 4, 3), x, p)},
		{"backward valid with input", nil, nil, back(x, y, x, p)},
		{"backward valid without input", nil, nil, back(x, y, nil, p)},
		{"backward input of another shape", tensor.ErrShape, []string{"input"}, back(x, y, f.f32(1, 2, 6, 7), p)},
		{"backward wrong output gradient", tensor.ErrShape, []string{"output gradient"}, back(x, f.f32(1, 2, 4, 5), nil, p)},
		{"backward freed input", tensor.ErrFreed, nil, back(x, y, f.freed(1, 2, 7, 6), p)},
	})

	gp := func(backward bool, pooled, image *tensor.Tensor) func() error {
		return func() error { _, err := tensor.CheckGlobalAvgPool(f.b, backward, pooled, image); return err }
	}
	gg, err := tensor.CheckGlobalAvgPool(f.b, false, f.f32(2, 3, 1, 1), f.f32(2, 3, 4, 5))
	if err != nil || gg.N != 2 || gg.C != 3 || gg.H != 4 || gg.W != 5 || gg.OH != 1 || gg.OW != 1 {
		t.Errorf("CheckGlobalAvgPool = %+v, %v", gg, err)
	}
	runChecks(t, []checkCase{
		{"global pool [N C]", nil, nil, gp(false, f.f32(2, 3), f.f32(2, 3, 4, 5))},
		{"global pool wrong output", tensor.ErrShape, []string{"global average pool", "[2 3]"}, gp(false, f.f32(2, 4), f.f32(2, 3, 4, 5))},
		{"global pool backward wrong gradient", tensor.ErrShape, []string{"backward", "output gradient"}, gp(true, f.f32(3, 2), f.f32(2, 3, 4, 5))},
		{"global pool rank 3 image", tensor.ErrShape, []string{"rank 4"}, gp(false, f.f32(2, 3), f.f32(2, 3, 4))},
	})
}

func TestCheckMatMulAndSum(t *testing.T) {
	f := newFixture()
	for _, c := range []struct {
		a, b   []int
		ta, tb bool
	}{{[]int{2, 3}, []int{3, 4}, false, false}, {[]int{3, 2}, []int{3, 4}, true, false}, {[]int{2, 3}, []int{4, 3}, false, true}, {[]int{3, 2}, []int{4, 3}, true, true}} {
		m, n, k, err := tensor.CheckMatMul(f.b, f.f32(2, 4), f.f32(c.a...), f.f32(c.b...), c.ta, c.tb)
		if err != nil || m != 2 || n != 4 || k != 3 {
			t.Errorf("CheckMatMul(a %v, b %v, %v, %v) = %d %d %d, %v; expected 2 4 3", c.a, c.b, c.ta, c.tb, m, n, k, err)
		}
	}
	mm := func(c, a, b *tensor.Tensor, ta, tb bool) func() error {
		return func() error { _, _, _, err := tensor.CheckMatMul(f.b, c, a, b, ta, tb); return err }
	}
	sum := func(dst, src *tensor.Tensor, axes ...int) func() error {
		return func() error { _, err := tensor.CheckSum(f.b, dst, src, axes); return err }
	}
	runChecks(t, []checkCase{
		{"matmul inner mismatch", tensor.ErrShape, []string{"matmul", "inner"}, mm(f.f32(2, 4), f.f32(2, 3), f.f32(4, 4), false, false)},
		{"matmul wrong output", tensor.ErrShape, []string{"[2 4]"}, mm(f.f32(4, 2), f.f32(2, 3), f.f32(3, 4), false, false)},
		{"matmul rank 1", tensor.ErrShape, []string{"rank 2"}, mm(f.f32(2, 4), f.f32(6), f.f32(3, 4), false, false)},
		{"sum rows", nil, nil, sum(f.f32(3), f.f32(2, 3), 0)},
		{"sum rows keeping the axis", nil, nil, sum(f.f32(1, 3), f.f32(2, 3), 0)},
		{"sum all into a scalar", nil, nil, sum(f.f32(), f.f32(2, 3))},
		{"sum all into [1 1 1]", nil, nil, sum(f.f32(1, 1, 1), f.f32(2, 3))},
		{"sum all axes listed", nil, nil, sum(f.f32(1), f.f32(2, 3), 1, 0)},
		{"sum axis out of range", tensor.ErrParam, []string{"axis 2"}, sum(f.f32(1), f.f32(2, 3), 2)},
		{"sum negative axis", tensor.ErrParam, []string{"axis -1"}, sum(f.f32(3), f.f32(2, 3), -1)},
		{"sum axis twice", tensor.ErrParam, []string{"twice"}, sum(f.f32(3), f.f32(2, 3), 0, 0)},
		{"sum wrong output", tensor.ErrShape, []string{"[3]", "[1 3]"}, sum(f.f32(2), f.f32(2, 3), 0)},
	})
	summed, err := tensor.CheckSum(f.b, f.f32(2, 1, 4), f.f32(2, 3, 4), []int{1})
	if err != nil || len(summed) != 3 || summed[0] || !summed[1] || summed[2] {
		t.Errorf("CheckSum over axis 1 = %v, %v; expected [false true false]", summed, err)
	}
}

func TestCheckElementwiseRowsLoss(t *testing.T) {
	f := newFixture()
	a := func(name string, x *tensor.Tensor) tensor.Arg { return tensor.Arg{Name: name, T: x} }
	n, err := tensor.CheckElementwise(f.b, "add", a("dst", f.f32(6)), a("a", f.f32(2, 3)), a("b", f.f32(3, 2)))
	if err != nil || n != 6 {
		t.Errorf("CheckElementwise = %d, %v; expected 6, nil", n, err)
	}
	rows, cols, err := tensor.CheckRows(f.b, "argmax", a("x", f.f32(2, 3, 5)), &tensor.Arg{Name: "dst", T: f.f32(6)}, a("y", f.f32(2, 3, 5)))
	if err != nil || rows != 6 || cols != 5 {
		t.Errorf("CheckRows = %d %d, %v; expected 6 5", rows, cols, err)
	}
	n, err = tensor.CheckLoss(f.b, "mse loss", f.f32(1, 1), nil, f.f32(4, 3), f.f32(4, 3))
	if err != nil || n != 12 {
		t.Errorf("CheckLoss = %d, %v; expected 12", n, err)
	}
	runChecks(t, []checkCase{
		{"elementwise count", tensor.ErrShape, []string{"mul", "b", "6"}, func() error {
			_, err := tensor.CheckElementwise(f.b, "mul", a("dst", f.f32(6)), a("a", f.f32(6)), a("b", f.f32(5)))
			return err
		}},
		{"elementwise mixed dtypes", tensor.ErrDType, nil, func() error {
			_, err := tensor.CheckElementwise(f.b, "mul", a("dst", f.f32(6)), a("a", f.f64(6)))
			return err
		}},
		{"rows scalar", tensor.ErrShape, []string{"scalar"}, func() error {
			_, _, err := tensor.CheckRows(f.b, "softmax", a("x", f.f32()), nil)
			return err
		}},
		{"rows other shape", tensor.ErrShape, []string{"y"}, func() error {
			_, _, err := tensor.CheckRows(f.b, "softmax", a("x", f.f32(2, 3)), nil, a("y", f.f32(3, 2)))
			return err
		}},
		{"rows output count", tensor.ErrShape, []string{"one per row"}, func() error {
			_, _, err := tensor.CheckRows(f.b, "argmax", a("x", f.f32(2, 3)), &tensor.Arg{Name: "dst", T: f.f32(3)})
			return err
		}},
		{"loss two elements", tensor.ErrShape, []string{"one element"}, func() error {
			_, err := tensor.CheckLoss(f.b, "bce loss", f.f32(2), nil, f.f32(2), f.f32(2))
			return err
		}},
		{"loss target shape", tensor.ErrShape, []string{"target"}, func() error {
			_, err := tensor.CheckLoss(f.b, "bce loss", f.f32(1), nil, f.f32(2, 2), f.f32(4))
			return err
		}},
		{"loss gradient shape", tensor.ErrShape, []string{"gradient"}, func() error {
			_, err := tensor.CheckLoss(f.b, "bce loss", f.f32(1), f.f32(4), f.f32(2, 2), f.f32(2, 2))
			return err
		}},
		{"loss freed gradient", tensor.ErrFreed, nil, func() error {
			_, err := tensor.CheckLoss(f.b, "mse loss", f.f32(1), f.freed(2), f.f32(2), f.f32(2))
			return err
		}},
	})
}

func TestCheckOptimizersAndDropout(t *testing.T) {
	f := newFixture()
	p := f.f32(3, 2)
	sgd := func(v *tensor.Tensor, o tensor.SGDParams) func() error {
		return func() error { _, err := tensor.CheckSGD(f.b, p, f.f32(3, 2), v, o); return err }
	}
	adam := func(o tensor.AdamParams, step int, v *tensor.Tensor) func() error {
		return func() error { _, err := tensor.CheckAdam(f.b, p, f.f32(3, 2), f.f32(3, 2), v, o, step); return err }
	}
	ad := func(m func(*tensor.AdamParams)) tensor.AdamParams {
		o := tensor.DefaultAdam()
		m(&o)
		return o
	}
	if d := tensor.DefaultAdam(); d.LR != 1e-3 || d.Beta1 != 0.9 || d.Beta2 != 0.999 || d.Eps != 1e-8 || d.WeightDecay != 0 {
		t.Errorf("DefaultAdam() = %+v", d)
	}
	runChecks(t, []checkCase{
		{"sgd plain", nil, nil, sgd(nil, tensor.SGDParams{LR: 0.1})},
		{"sgd momentum", nil, nil, sgd(f.f32(3, 2), tensor.SGDParams{LR: 0.1, Momentum: 0.9})},
		{"sgd momentum without velocity", tensor.ErrShape, []string{"velocity"}, sgd(nil, tensor.SGDParams{LR: 0.1, Momentum: 0.9})},
		{"sgd velocity shape", tensor.ErrShape, []string{"velocity"}, sgd(f.f32(6), tensor.SGDParams{LR: 0.1, Momentum: 0.9})},
		{"sgd negative lr", tensor.ErrParam, []string{"learning rate"}, sgd(nil, tensor.SGDParams{LR: -1})},
		{"sgd NaN momentum", tensor.ErrParam, []string{"momentum"}, sgd(f.f32(3, 2), tensor.SGDParams{LR: 1, Momentum: math.NaN()})},
		{"sgd infinite weight decay", tensor.ErrParam, []string{"weight decay"}, sgd(nil, tensor.SGDParams{LR: 1, WeightDecay: math.Inf(1)})},
		{"adam default", nil, nil, adam(tensor.DefaultAdam(), 1, f.f32(3, 2))},
		{"adam step 0", tensor.ErrParam, []string{"step 0"}, adam(tensor.DefaultAdam(), 0, f.f32(3, 2))},
		{"adam beta1 1", tensor.ErrParam, []string{"beta1"}, adam(ad(func(o *tensor.AdamParams) { o.Beta1 = 1 }), 1, f.f32(3, 2))},
		{"adam beta2 above 1", tensor.ErrParam, []string{"beta2"}, adam(ad(func(o *tensor.AdamParams) { o.Beta2 = 1.1 }), 1, f.f32(3, 2))},
		{"adam negative beta1", tensor.ErrParam, []string{"beta1"}, adam(ad(func(o *tensor.AdamParams) { o.Beta1 = -0.1 }), 1, f.f32(3, 2))},
		{"adam negative epsilon", tensor.ErrParam, []string{"epsilon"}, adam(ad(func(o *tensor.AdamParams) { o.Eps = -1 }), 1, f.f32(3, 2))},
		{"adam second moment shape", tensor.ErrShape, []string{"second moment"}, adam(tensor.DefaultAdam(), 1, f.f32(2, 3))},
		{"adam foreign second moment", tensor.ErrBackend, nil, adam(tensor.DefaultAdam(), 1, f.foreign(3, 2))},
		{"dropout 0", nil, nil, func() error { return tensor.CheckDropout(f.b, f.f32(4), 0) }},
		{"dropout 0.999", nil, nil, func() error { return tensor.CheckDropout(f.b, f.f32(4), 0.999) }},
		{"dropout 1", tensor.ErrParam, []string{"rate"}, func() error { return tensor.CheckDropout(f.b, f.f32(4), 1) }},
		{"dropout negative", tensor.ErrParam, nil, func() error { return tensor.CheckDropout(f.b, f.f32(4), -0.5) }},
		{"dropout NaN", tensor.ErrParam, nil, func() error { return tensor.CheckDropout(f.b, f.f32(4), math.NaN()) }},
		{"dropout freed", tensor.ErrFreed, nil, func() error { return tensor.CheckDropout(f.b, f.freed(4), 0.5) }},
	})
}
