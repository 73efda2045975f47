package nn_test

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// TestOutputs: Outputs gives the raw rows Predict interprets, in batches of
// any size, for float32 and float64 models.
func TestOutputs(t *testing.T) {
	b := cpu64(t)
	train := blobs(10, 4)
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		m := buildModel(t, b, dt, "conv(1,2,3,p1) tanh flatten dense(72,3)", tensor.Shape{1, 6, 6}, 2)
		out, err := m.Outputs(train.Images, 4)
		if err != nil || len(out) != 30 {
			t.Fatalf("%v: %d outputs, %v", dt, len(out), err)
		}
		preds, err := m.Predict(train.Images, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range preds {
			if want := m.Interpret(append([]float64(nil), out[3*i:3*i+3]...)); want.Class != p.Class || math.Abs(want.Confidence-p.Confidence) > 1e-12 {
				t.Errorf("%v sample %d: Predict %+v, Interpret(Outputs) %+v", dt, i, p, want)
			}
		}
		if _, err := m.Outputs(train.Images[:5], 4); err == nil {
			t.Errorf("%v: Outputs of a partial sample succeeded", dt)
		}
	}
}
