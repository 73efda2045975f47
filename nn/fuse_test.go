package nn_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestFusedReLU checks that a model whose conv and dense layers absorb the
// following ReLU (on backends with the fused ops) computes the same outputs
// and gradients as the same model with leakyrelu(0), which is never fused,
// and that on the Vulkan backend the forward pass records two dispatches
// fewer.
func TestFusedReLU(t *testing.T) {
	const spec = "conv(2,4,3,p1) %s maxpool(2) flatten dense(64,6) %s dense(6,3)"
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			n := 5
			rng := rand.New(rand.NewPCG(7, 8))
			xs := make([]float64, n*2*8*8)
			for i := range xs {
				xs[i] = 2*rng.Float64() - 1
			}
			dys := make([]float64, n*3)
			for i := range dys {
				dys[i] = 2*rng.Float64() - 1
			}
			type run struct {
				out        []float64
				grads      [][]float64
				dispatches int
			}
			do := func(act string) run {
				m := buildModel(t, b, tb.dt, fmt.Sprintf(spec, act, act), tensor.Shape{2, 8, 8}, 1)
				x, dy := upload(t, b, tb.dt, tensor.Shape{n, 2, 8, 8}, xs), upload(t, b, tb.dt, tensor.Shape{n, 3}, dys)
				st, counts := b.(interface{ Stats() gpu.Stats })
				before := 0
				if counts {
					if err := b.Sync(); err != nil {
						t.Fatal(err)
					}
					before = st.Stats().Dispatches
				}
				out, err := m.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				var r run
				if counts {
					r.dispatches = st.Stats().Dispatches - before
				}
				r.out = toHost(t, out)
				if _, err := m.Backward(dy); err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Params() {
					r.grads = append(r.grads, toHost(t, p.Grad))
				}
				return r
			}
			fused, plain := do("relu"), do("leakyrelu(0)")
			same := func(what string, got, want []float64) {
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s[%d] = %v with relu, %v with leakyrelu(0)", what, i, got[i], want[i])
					}
				}
			}
			same("output", fused.out, plain.out)
			for i := range plain.grads {
				same(fmt.Sprintf("gradient of parameter %d", i), fused.grads[i], plain.grads[i])
			}
			if tb.name == "vulkan-float32" && fused.dispatches != plain.dispatches-2 {
				t.Errorf("forward: %d dispatches with relu, %d with leakyrelu(0); want 2 fewer (both ReLUs fused)", fused.dispatches, plain.dispatches)
			}
		})
	}
}

// toHost downloads x as float64 values.
func toHost(t testing.TB, x *tensor.Tensor) []float64 {
	t.Helper()
	h, err := nn.ToHost(x)
	if err != nil {
		t.Fatal(err)
	}
	return h.Float64s()
}
