package data

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// toy returns n 1×2×2 images whose pixels all equal i/100 and labels i%3.
func toy(n int) *Dataset {
	d := &Dataset{Name: "toy", Images: make([]float32, 4*n), Labels: make([]int, n),
		Shape: tensor.Shape{1, 2, 2}, Classes: 3, ClassNames: []string{"a", "b", "c"}}
	for i := range n {
		for j := range 4 {
			d.Images[4*i+j] = float32(i) / 100
		}
		d.Labels[i] = i % 3
	}
	return d
}

func TestDatasetValidate(t *testing.T) {
	if err := toy(5).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		break_ func(*Dataset)
		want   error
	}{
		{"rank", func(d *Dataset) { d.Shape = tensor.Shape{4} }, tensor.ErrShape},
		{"zero dim", func(d *Dataset) { d.Shape = tensor.Shape{1, 0, 4} }, tensor.ErrShape},
		{"image count", func(d *Dataset) { d.Images = d.Images[:7] }, tensor.ErrShape},
		{"classes", func(d *Dataset) { d.Classes = 0 }, tensor.ErrParam},
		{"names", func(d *Dataset) { d.ClassNames = []string{"a"} }, tensor.ErrShape},
		{"label", func(d *Dataset) { d.Labels[2] = 3 }, tensor.ErrParam},
		{"targets", func(d *Dataset) { d.Targets = make([]float32, 7) }, tensor.ErrShape},
	} {
		d := toy(5)
		c.break_(d)
		if err := d.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSubsetSplitKeepClasses(t *testing.T) {
	d := toy(10)
	s, err := d.Subset("s", []int{9, 0, 9})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Labels, []int{0, 0, 0}) || s.Image(0)[3] != 0.09 || s.Image(1)[0] != 0 || s.Len() != 3 {
		t.Errorf("subset labels %v, images %v", s.Labels, s.Images)
	}
	s.Images[0] = 5
	if d.Images[36] == 5 {
		t.Error("Subset shares memory with the original")
	}
	if _, err := d.Subset("s", []int{10}); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("index 10 of 10: got %v, want ErrParam", err)
	}
	// Target rows travel with their images.
	d.Targets = make([]float32, 2*d.Len())
	for i := range d.Targets {
		d.Targets[i] = float32(i)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if s, err := d.Subset("s", []int{9, 0}); err != nil || !slices.Equal(s.Targets, []float32{18, 19, 0, 1}) {
		t.Errorf("subset targets %v, %v; want [18 19 0 1]", s.Targets, err)
	}
	d.Targets = nil

	a, b, err := d.Split(7)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 7 || b.Len() != 3 || b.Image(0)[0] != 0.07 {
		t.Errorf("split: %d + %d images, first test pixel %v", a.Len(), b.Len(), b.Image(0)[0])
	}
	if _, _, err := d.Split(11); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("split at 11 of 10: got %v, want ErrParam", err)
	}

	k, err := d.KeepClasses("k", 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Images 0, 2, 3, 5, 6, 8, 9 have labels 0, 2, 0, 2, 0, 2, 0.
	if !slices.Equal(k.Labels, []int{1, 0, 1, 0, 1, 0, 1}) || k.Classes != 2 || k.ClassName(0) != "c" || k.Image(1)[0] != 0.02 {
		t.Errorf("keep classes: labels %v, %d classes %v", k.Labels, k.Classes, k.ClassNames)
	}
	if err := k.Validate(); err != nil {
		t.Error(err)
	}
	if !slices.Equal(k.ClassCounts(), []int{3, 4}) {
		t.Errorf("class counts %v, want [3 4]", k.ClassCounts())
	}
	for _, bad := range [][]int{nil, {3}, {1, 1}, {-1}} {
		if _, err := d.KeepClasses("k", bad...); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("keep classes %v: got %v, want ErrParam", bad, err)
		}
	}
}

func TestPermBatches(t *testing.T) {
	p := Perm(100, 7)
	if !slices.Equal(p, Perm(100, 7)) {
		t.Error("Perm is not deterministic")
	}
	if slices.Equal(p, Perm(100, 8)) || slices.Equal(p, seq(0, 100)) {
		t.Error("Perm does not depend on the seed or does not shuffle")
	}
	if !slices.Equal(slices.Sorted(slices.Values(p)), seq(0, 100)) {
		t.Errorf("Perm(100) is not a permutation: %v", p)
	}
	q := seq(0, 100)
	Shuffle(q, rand.New(rand.NewPCG(7, 0x76_6b_63_6e_6e)))
	if !slices.Equal(p, q) {
		t.Error("Perm(100, 7) is not Shuffle with its generator")
	}
	if len(Perm(0, 1)) != 0 || len(Perm(-3, 1)) != 0 {
		t.Error("Perm of n < 1 is not empty")
	}

	bs, err := Batches(seq(0, 10), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || !slices.Equal(bs[0], []int{0, 1, 2, 3}) || !slices.Equal(bs[2], []int{8, 9}) {
		t.Errorf("batches %v", bs)
	}
	if bs, _ := Batches(nil, 4); len(bs) != 0 {
		t.Errorf("batches of nothing: %v", bs)
	}
	if _, err := Batches(seq(0, 3), 0); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("batch size 0: got %v, want ErrParam", err)
	}
}

func TestBatchOneHot(t *testing.T) {
	d := toy(6)
	x := make([]float64, 2*4)
	y := make([]int, 2)
	if err := Batch(d, x, y, []int{5, 1}); err != nil {
		t.Fatal(err)
	}
	if x[0] != float64(float32(0.05)) || x[7] != float64(float32(0.01)) || !slices.Equal(y, []int{2, 1}) {
		t.Errorf("batch x %v y %v", x, y)
	}
	x32 := make([]float32, 4)
	if err := Batch(d, x32, nil, []int{3}); err != nil || x32[0] != 0.03 {
		t.Errorf("batch without labels: %v, x %v", err, x32)
	}
	for _, c := range []struct {
		name string
		x    []float32
		y    []int
		idx  []int
		want error
	}{
		{"short x", make([]float32, 7), nil, []int{0, 1}, tensor.ErrShape},
		{"short y", make([]float32, 8), make([]int, 1), []int{0, 1}, tensor.ErrShape},
		{"index", make([]float32, 4), nil, []int{6}, tensor.ErrParam},
		{"negative", make([]float32, 4), nil, []int{-1}, tensor.ErrParam},
	} {
		if err := Batch(d, c.x, c.y, c.idx); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}

	oh := []float32{9, 9, 9, 9, 9, 9}
	if err := OneHot(oh, []int{2, 0}, 3); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(oh, []float32{0, 0, 1, 1, 0, 0}) {
		t.Errorf("one-hot %v", oh)
	}
	if err := OneHot(make([]float64, 5), []int{2, 0}, 3); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("short one-hot buffer: got %v, want ErrShape", err)
	}
	if err := OneHot(make([]float64, 6), []int{3, 0}, 3); !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "label 3") {
		t.Errorf("label 3 of 3 classes: got %v, want ErrParam", err)
	}
	if err := OneHot(make([]float64, 0), nil, 0); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("0 classes: got %v, want ErrParam", err)
	}
}
