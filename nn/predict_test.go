package nn

import (
	"math"
	"testing"
)

func TestPrediction(t *testing.T) {
	for _, c := range []struct {
		row   []float64
		last  string
		class int
		conf  float64
	}{
		{[]float64{0.9}, "sigmoid", 1, 0.9},
		{[]float64{0.2}, "sigmoid", 0, 0.8},
		{[]float64{0.2, 0.6}, "sigmoid", 1, 0.75},
		{[]float64{0, 0}, "sigmoid", 0, 0.5},
		{[]float64{0.1, 0.7, 0.2}, "softmax", 1, 0.7},
		{[]float64{0, math.Log(3)}, "dense", 1, 0.75},
		{[]float64{1000, 0, 0}, "dense", 0, 1},
	} {
		row := append([]float64(nil), c.row...)
		p := prediction(row, c.last)
		if p.Class != c.class || math.Abs(p.Confidence-c.conf) > 1e-12 {
			t.Errorf("prediction(%v, %s) = %+v, want class %d confidence %v", c.row, c.last, p, c.class, c.conf)
		}
		sum := 0.0
		for _, v := range p.Probs {
			sum += v
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("prediction(%v, %s): probabilities sum to %v, want 1", c.row, c.last, sum)
		}
	}
}
