package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// BenchmarkBatchNorm measures float32 batch normalization on the shapes of a
// small ResNet for 28×28 inputs (batch 128, 16 and 64 channels) and of a
// dense layer, reporting the input's gigabytes per second: /train is
// BatchNormTrain with running statistics, /backward BatchNormBackward with
// all three gradients, /eval BatchNormEval.
func BenchmarkBatchNorm(b *testing.B) {
	be := New()
	r := rand.New(rand.NewPCG(1, 3))
	for _, s := range []tensor.Shape{{128, 16, 28, 28}, {128, 64, 7, 7}, {256, 128}} {
		c := s[1]
		x, y, dy, dx := randTensor(b, be, r, s), randTensor(b, be, r, s), randTensor(b, be, r, s), randTensor(b, be, r, s)
		ch := func() *tensor.Tensor { return randTensor(b, be, r, tensor.Shape{c}) }
		gamma, beta, mean, invStd, rm, rv, dg, db := ch(), ch(), ch(), ch(), ch(), ch(), ch(), ch()
		if err := be.Fill(rv, 1); err != nil {
			b.Fatal(err)
		}
		p := tensor.DefaultBatchNorm()
		if err := be.BatchNormTrain(y, mean, invStd, rm, rv, x, gamma, beta, p); err != nil {
			b.Fatal(err)
		}
		gb := float64(4*s.Len()) / 1e9
		for _, op := range []struct {
			name string
			step func() error
		}{
			{"train", func() error { return be.BatchNormTrain(y, mean, invStd, rm, rv, x, gamma, beta, p) }},
			{"backward", func() error { return be.BatchNormBackward(dx, dg, db, dy, x, gamma, mean, invStd) }},
			{"eval", func() error { return be.BatchNormEval(y, x, gamma, beta, rm, rv, p) }},
		} {
			b.Run(s.String()+"/"+op.name, func(b *testing.B) { loop(b, gb, "GB", op.step) })
		}
	}
}
