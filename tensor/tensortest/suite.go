package tensortest

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// RunAll runs every test of the suite on b in dtype dt, each as a subtest
// named after its function. GradCheck runs only when dt is Float64 and b
// supports it. b must support dt and stays open.
func RunAll(t *testing.T, b tensor.Backend, dt tensor.DType) {
	if !b.Caps().Supports(dt) {
		t.Fatalf("backend %q does not support %v (dtypes %v)", b.Name(), dt, b.Caps().DTypes)
	}
	tests := []struct {
		name string
		f    func(*testing.T, tensor.Backend, tensor.DType)
	}{
		{"CopyFill", CopyFill},
		{"Conv2D", Conv2D},
		{"Conv2DInputGrad", Conv2DInputGrad},
		{"Conv2DKernelGrad", Conv2DKernelGrad},
		{"BiasGrad", BiasGrad},
		{"Pool2D", Pool2D},
		{"GlobalAvgPool", GlobalAvgPool},
		{"MatMul", MatMul},
		{"AddBias", AddBias},
		{"Sum", Sum},
		{"Elementwise", Elementwise},
		{"Activations", Activations},
		{"Softmax", Softmax},
		{"ArgMax", ArgMax},
		{"Dropout", Dropout},
		{"Losses", Losses},
		{"Optimizers", Optimizers},
		{"Fused", Fused},
		{"BatchNorm", BatchNorm},
		{"BadInput", BadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, b, dt) })
	}
	if dt == tensor.Float64 && b.Caps().Supports(tensor.Float64) {
		t.Run("GradCheck", func(t *testing.T) { GradCheck(t, b, dt) })
	}
}
