package nn

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/tensor"
)

// ErrNonFinite is wrapped by the errors of Predict, Evaluate and
// CheckFinite when an input, a parameter, a buffer or an output holds NaN or
// ±Inf.
var ErrNonFinite = errors.New("non-finite value")

// FirstNonFinite returns the index of the first NaN or ±Inf in v, or -1
// when every value is finite.
func FirstNonFinite[T float32 | float64](v []T) int {
	for i, x := range v {
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return i
		}
	}
	return -1
}

// firstNonFiniteAny is FirstNonFinite for a []float32 or []float64 held in
// an any; other types have no non-finite values.
func firstNonFiniteAny(v any) (int, float64) {
	switch d := v.(type) {
	case []float32:
		if i := FirstNonFinite(d); i >= 0 {
			return i, float64(d[i])
		}
	case []float64:
		if i := FirstNonFinite(d); i >= 0 {
			return i, d[i]
		}
	}
	return -1, 0
}

// NonFiniteError returns the ErrNonFinite error for value v at flat index i
// of a tensor of the given shape, named what ("input sample 3",
// "parameter 0.weight", "x.npy"): "what[1 0 2] is NaN, expected finite
// values".
func NonFiniteError(what string, shape tensor.Shape, i int, v float64) error {
	return fmt.Errorf("%s%v is %v, expected finite values: %w", what, Unravel(i, shape), v, ErrNonFinite)
}

// Unravel turns flat index i of a row-major tensor of the given shape into
// one index per axis ([i] for an empty or mismatched shape).
func Unravel(i int, shape tensor.Shape) []int {
	if len(shape) == 0 || i >= shape.Len() {
		return []int{i}
	}
	idx := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		if shape[a] > 0 {
			idx[a] = i % shape[a]
			i /= shape[a]
		}
	}
	return idx
}

// SetFiniteChecks turns the finiteness checks of Predict and Evaluate on
// (the default) or off. The checks read every input value on the host, read
// back every parameter and buffer once per call, and read back the outputs
// (Evaluate without a loss: one more small download per batch); callers who
// vouch for their data and need the speed may turn them off.
func (m *Sequential) SetFiniteChecks(on bool) { m.unchecked = !on }

// CheckFinite returns nil when every parameter and buffer of m holds finite
// values, else an ErrNonFinite error naming the first one (state_dict name,
// in state_dict order) and the index of its first NaN or ±Inf. Errors also:
// ErrNotBuilt and the backend's errors.
func (m *Sequential) CheckFinite() error {
	if err := m.ready("check finite"); err != nil {
		return err
	}
	for _, p := range m.Params() {
		if err := checkTensorFinite("parameter", p.Name, p.Value); err != nil {
			return err
		}
	}
	for _, b := range m.Buffers() {
		if b.Value != nil {
			if err := checkTensorFinite("buffer", b.Name, b.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkTensorFinite reads t back into pooled host memory and checks it;
// kind and name ("parameter", "0.weight") name it in errors.
func checkTensorFinite(kind, name string, t *tensor.Tensor) error {
	var i int
	var v float64
	var err error
	if t.DType() == tensor.Float64 {
		i, v, err = firstNonFiniteOf[float64](t, &finiteHost[1])
	} else {
		i, v, err = firstNonFiniteOf[float32](t, &finiteHost[0])
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	if i >= 0 {
		return NonFiniteError(kind+" "+name, t.Shape(), i, v)
	}
	return nil
}

// finiteHost pools the host buffers of checkTensorFinite: *[]float32 at
// index 0, *[]float64 at 1.
var finiteHost [2]sync.Pool

// firstNonFiniteOf downloads t into a buffer from pool and returns the index
// and value of its first NaN or ±Inf (index -1 when there is none).
func firstNonFiniteOf[T float32 | float64](t *tensor.Tensor, pool *sync.Pool) (int, float64, error) {
	n := t.Len()
	buf, ok := pool.Get().(*[]T)
	if !ok || cap(*buf) < n {
		s := make([]T, n)
		buf = &s
	}
	defer pool.Put(buf)
	h := (*buf)[:n]
	if err := t.Backend().Download(h, t); err != nil {
		return -1, 0, err
	}
	if i := FirstNonFinite(h); i >= 0 {
		return i, float64(h[i]), nil
	}
	return -1, 0, nil
}

// checkEvalStart is the check at the start of Predict and Evaluate: the
// inputs (all of d.Images) and the weights.
func (m *Sequential) checkEvalStart(d *data.Dataset) error {
	if m.unchecked {
		return nil
	}
	if i := FirstNonFinite(d.Images); i >= 0 {
		per := m.shapes[0].Len()
		return NonFiniteError(fmt.Sprintf("input sample %d ", i/per), m.shapes[0], i%per, float64(d.Images[i]))
	}
	if i := FirstNonFinite(d.Targets); i >= 0 {
		out := m.shapes[len(m.shapes)-1]
		return NonFiniteError(fmt.Sprintf("target of sample %d ", i/out.Len()), out, i%out.Len(), float64(d.Targets[i]))
	}
	return m.CheckFinite()
}

// checkOutputs checks a batch's outputs (host rows of the output size) read
// back into h; lo is the index of the batch's first sample.
func (m *Sequential) checkOutputs(h any, lo int) error {
	if m.unchecked {
		return nil
	}
	if i, v := firstNonFiniteAny(h); i >= 0 {
		out := m.shapes[len(m.shapes)-1]
		return NonFiniteError(fmt.Sprintf("output of sample %d ", lo+i/out.Len()), out, i%out.Len(), v)
	}
	return nil
}

// checkEvalBatch checks one evaluated batch of d: its loss when there is
// one, else its outputs out, read back.
func (m *Sequential) checkEvalBatch(d *data.Dataset, idx []int, loss Loss, lossValue float64, out *tensor.Tensor) error {
	if m.unchecked || len(idx) == 0 {
		return nil
	}
	if loss != nil && (d.Labels != nil || d.Targets != nil) {
		if math.IsNaN(lossValue) || math.IsInf(lossValue, 0) {
			return fmt.Errorf("%s loss of samples %d–%d is %v (non-finite outputs), expected a finite value: %w",
				loss.Name(), idx[0], idx[len(idx)-1], lossValue, ErrNonFinite)
		}
		return nil
	}
	if out == nil {
		return nil
	}
	h, err := ToHost(out)
	if err != nil {
		return err
	}
	return m.checkOutputs(h.Data, idx[0])
}
