package tensor_test

import (
	"errors"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// countingStorage records how often it is released and can fail.
type countingStorage struct {
	released int
	err      error
}

func (s *countingStorage) Release() error {
	s.released++
	return s.err
}

func TestTensorAccessors(t *testing.T) {
	owner := tensortest.NewUnsupported("owner")
	shape := tensor.Shape{2, 3, 4}
	st := &countingStorage{}
	x := tensor.NewTensor(owner, tensor.Float64, shape, st)
	shape[0] = 99 // NewTensor copies the shape
	if !x.Shape().Equal(tensor.Shape{2, 3, 4}) || x.Rank() != 3 || x.Len() != 24 || x.DType() != tensor.Float64 {
		t.Errorf("tensor is %v, rank %d, len %d; expected float64[2 3 4]", x, x.Rank(), x.Len())
	}
	s := x.Shape()
	s[1] = 99 // Shape returns a copy
	if x.Dim(1) != 3 || x.Dim(-1) != 4 || x.Dim(-3) != 2 {
		t.Errorf("Dim(1), Dim(-1), Dim(-3) = %d %d %d, expected 3 4 2", x.Dim(1), x.Dim(-1), x.Dim(-3))
	}
	if x.Backend() != tensor.Backend(owner) || x.Storage() != tensor.Storage(st) || x.Freed() {
		t.Errorf("owner, storage or freed state wrong")
	}
	if got := x.String(); got != "float64[2 3 4]" {
		t.Errorf("String() = %q, expected float64[2 3 4]", got)
	}
}

func TestReshapeViewsAndFree(t *testing.T) {
	owner := tensortest.NewUnsupported("owner")
	st := &countingStorage{}
	x := tensor.NewTensor(owner, tensor.Float32, tensor.Shape{2, 6}, st)
	v, err := x.Reshape(tensor.Shape{3, 4})
	if err != nil {
		t.Fatalf("Reshape([2 6] to [3 4]): %v", err)
	}
	if !v.Shape().Equal(tensor.Shape{3, 4}) || !x.Shape().Equal(tensor.Shape{2, 6}) {
		t.Errorf("view %v of %v, expected [3 4] of [2 6]", v, x)
	}
	if v.Storage() != x.Storage() || v.Backend() != x.Backend() || v.DType() != x.DType() {
		t.Errorf("the view does not share the tensor's memory, owner and dtype")
	}
	vv, err := v.Reshape(tensor.Shape{12})
	if err != nil {
		t.Fatalf("Reshape of a view: %v", err)
	}

	for _, s := range []tensor.Shape{{5}, {2, 7}, {}} {
		if _, err := x.Reshape(s); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("Reshape([2 6] to %v) = %v, expected an ErrShape error", s, err)
		}
	}
	if _, err := x.Reshape(tensor.Shape{-2, -6}); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Reshape to [-2 -6] = %v, expected an ErrShape error", err)
	}

	// Freeing a view frees the memory once, for every view.
	if err := v.Free(); err != nil {
		t.Fatalf("Free: %v", err)
	}
	if st.released != 1 {
		t.Errorf("storage released %d times, expected once", st.released)
	}
	for name, y := range map[string]*tensor.Tensor{"tensor": x, "view": v, "view of view": vv} {
		if !y.Freed() || y.Storage() != nil {
			t.Errorf("%s: Freed() = %v, Storage() = %v after Free, expected true and nil", name, y.Freed(), y.Storage())
		}
		if err := y.Free(); !errors.Is(err, tensor.ErrFreed) {
			t.Errorf("%s: second Free = %v, expected an ErrFreed error", name, err)
		}
		if _, err := y.Reshape(tensor.Shape{12}); !errors.Is(err, tensor.ErrFreed) {
			t.Errorf("%s: Reshape after Free = %v, expected an ErrFreed error", name, err)
		}
	}
	if st.released != 1 {
		t.Errorf("storage released %d times after repeated Free, expected once", st.released)
	}
}

func TestFreeReturnsReleaseError(t *testing.T) {
	boom := errors.New("boom")
	x := tensor.NewTensor(tensortest.NewUnsupported("owner"), tensor.Float32, tensor.Shape{1}, &countingStorage{err: boom})
	if err := x.Free(); !errors.Is(err, boom) {
		t.Errorf("Free = %v, expected the storage's error", err)
	}
	if !x.Freed() {
		t.Errorf("tensor not marked freed after a failed release")
	}
}
