package nn_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestNonFinite: NaN and ±Inf in the inputs, the weights or the outputs are
// ErrNonFinite errors from Predict and Evaluate naming where the first one
// is, on every backend; SetFiniteChecks(false) lets them through.
func TestNonFinite(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			build := func(t *testing.T) *nn.Sequential {
				return buildModel(t, b, tb.dt, "conv(1,2,3) relu flatten dense(8,3)", tensor.Shape{1, 4, 4}, 1)
			}
			x := make([]float32, 3*16)
			for i := range x {
				x[i] = float32(i%7) / 7
			}
			labels := []int{0, 1, 2}
			expect := func(t *testing.T, what string, err error, want string) {
				t.Helper()
				if !errors.Is(err, nn.ErrNonFinite) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %v, want an ErrNonFinite error mentioning %q", what, err, want)
				}
			}

			// A NaN input: sample 1, element [0 2 3].
			m := build(t)
			bad := append([]float32(nil), x...)
			bad[16+11] = float32(math.NaN())
			_, err := m.Predict(bad, 2)
			expect(t, "predict NaN input", err, "input sample 1 [0 2 3] is NaN")
			_, err = m.Evaluate(&data.Dataset{Images: bad, Labels: labels}, nil, 2)
			expect(t, "evaluate NaN input", err, "input sample 1 [0 2 3] is NaN")

			// An infinite weight.
			sd, err := m.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			w := sd["3.weight"]
			switch d := w.Data.(type) {
			case []float32:
				d[5] = float32(math.Inf(1))
			case []float64:
				d[5] = math.Inf(1)
			}
			if err := m.LoadStateDict(sd); err != nil {
				t.Fatal(err)
			}
			expect(t, "CheckFinite", m.CheckFinite(), "parameter 3.weight[0 5] is +Inf")
			_, err = m.Predict(x, 3)
			expect(t, "predict Inf weight", err, "parameter 3.weight[0 5] is +Inf")
			_, err = m.Evaluate(&data.Dataset{Images: x, Labels: labels}, nn.CrossEntropyLoss(), 3)
			expect(t, "evaluate Inf weight", err, "parameter 3.weight[0 5] is +Inf")

			// Finite inputs and weights whose outputs overflow.
			m = build(t)
			sd, err = m.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"0.weight", "3.weight"} {
				switch d := sd[k].Data.(type) {
				case []float32:
					for i := range d {
						d[i] = 3e38
					}
				case []float64:
					for i := range d {
						d[i] = 1e307
					}
				}
			}
			if err := m.LoadStateDict(sd); err != nil {
				t.Fatal(err)
			}
			big := make([]float32, len(x))
			for i := range big {
				big[i] = 1e30
			}
			_, err = m.Predict(big, 3)
			expect(t, "predict overflow", err, "output of sample 0 [")
			_, err = m.Evaluate(&data.Dataset{Images: big, Labels: labels}, nil, 3)
			expect(t, "evaluate overflow", err, "output of sample 0 [")
			_, err = m.Evaluate(&data.Dataset{Images: big, Labels: labels}, nn.CrossEntropyLoss(), 3)
			expect(t, "evaluate overflow with a loss", err, "loss of samples 0–2")

			// Unchecked: the caller vouches for the data.
			m.SetFiniteChecks(false)
			if _, err := m.Predict(big, 3); err != nil {
				t.Errorf("unchecked predict: %v", err)
			}
			m.SetFiniteChecks(true)
			if _, err := m.Predict(x, 3); !errors.Is(err, nn.ErrNonFinite) {
				t.Errorf("checks back on: %v", err)
			}
		})
	}
}

func TestUnravel(t *testing.T) {
	for _, c := range []struct {
		i     int
		shape tensor.Shape
		want  string
	}{{0, tensor.Shape{2, 3}, "[0 0]"}, {5, tensor.Shape{2, 3}, "[1 2]"}, {7, tensor.Shape{1, 2, 4}, "[0 1 3]"}, {3, nil, "[3]"}} {
		if got := fmt.Sprint(nn.Unravel(c.i, c.shape)); got != c.want {
			t.Errorf("Unravel(%d, %v) = %s, want %s", c.i, c.shape, got, c.want)
		}
	}
}
