//go:build cgo

package gpu_test

import (
	"errors"
	"testing"

	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/tensor/tensortest"
)

// TestBatchNormFolded runs the batch-norm conformance rows with the
// workgroup limits lowered, so that channels hold more elements per
// invocation than the default (few chunks) and the elementwise passes fold
// into y and z; with fewer allowed groups along y than channels, the ops
// return ErrUnsupported instead of dispatching.
func TestBatchNormFolded(t *testing.T) {
	b := vktest.Open(t)
	b.SetMaxGroups([3]uint32{3, 20, 65535})
	tensortest.BatchNorm(t, b, tensor.Float32)

	b.SetMaxGroups([3]uint32{3, 2, 65535})
	x, y, dy := alloc(t, b, 4, 3), alloc(t, b, 4, 3), alloc(t, b, 4, 3)
	c := func() *tensor.Tensor { return alloc(t, b, 3) }
	mean, invStd, rm, rv := c(), c(), c(), c()
	p := tensor.DefaultBatchNorm()
	for name, err := range map[string]error{
		"train":    b.BatchNormTrain(y, mean, invStd, nil, nil, x, nil, nil, p),
		"eval":     b.BatchNormEval(y, x, nil, nil, rm, rv, p),
		"backward": b.BatchNormBackward(y, nil, nil, dy, x, nil, mean, invStd),
	} {
		if !errors.Is(err, tensor.ErrUnsupported) {
			t.Errorf("batch norm %s with 3 channels and at most 2 workgroups along y: %v, expected ErrUnsupported", name, err)
		}
	}
}
