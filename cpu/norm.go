package cpu

import (
	"math"

	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
)

// This file holds batch normalization. A channel's elements are Outer
// segments of Inner contiguous values (x [N, C, H, W]: N planes of H·W).
// Training and the backward pass work channel by channel, the channels split
// over the workers; every sum runs in float64 whatever the dtype, and the
// variance is taken in a second pass over the deviations from the mean, so
// that data far from zero loses nothing to cancellation. For float32, where
// the CPU has them, the passes over a channel run as internal/vec's AVX-512
// loops (8 elements per instruction, the same float64 arithmetic, sums in
// another order).

// vec32 returns x as []float32 when it is one and internal/vec's loops run
// on this CPU, else nil.
func vec32[T scalar](x []T) []float32 {
	if !vec.Enabled {
		return nil
	}
	v, _ := any(x).([]float32)
	return v
}

// chanSum returns the sum of channel c of x, in float64 with four
// independent accumulators per segment (a single chain would wait on the
// latency of each addition).
func chanSum[T scalar](g tensor.ChannelGeom, x []T, c int) float64 {
	if v := vec32(x); v != nil {
		return vec.Sum(v[c*g.Inner:], g.Outer, g.C*g.Inner, g.Inner)
	}
	var a0, a1, a2, a3 float64
	for o := 0; o < g.Outer; o++ {
		seg := x[(o*g.C+c)*g.Inner:][:g.Inner]
		i := 0
		for ; i+4 <= len(seg); i += 4 {
			a0 += float64(seg[i])
			a1 += float64(seg[i+1])
			a2 += float64(seg[i+2])
			a3 += float64(seg[i+3])
		}
		for ; i < len(seg); i++ {
			a0 += float64(seg[i])
		}
	}
	return (a0 + a1) + (a2 + a3)
}

// chanSqDev returns Σ(x − mu)² over channel c of x, in float64.
func chanSqDev[T scalar](g tensor.ChannelGeom, x []T, c int, mu float64) float64 {
	if v := vec32(x); v != nil {
		return vec.SqDev(v[c*g.Inner:], g.Outer, g.C*g.Inner, g.Inner, mu)
	}
	var a0, a1, a2, a3 float64
	for o := 0; o < g.Outer; o++ {
		seg := x[(o*g.C+c)*g.Inner:][:g.Inner]
		i := 0
		for ; i+4 <= len(seg); i += 4 {
			d0, d1 := float64(seg[i])-mu, float64(seg[i+1])-mu
			d2, d3 := float64(seg[i+2])-mu, float64(seg[i+3])-mu
			a0 += d0 * d0
			a1 += d1 * d1
			a2 += d2 * d2
			a3 += d3 * d3
		}
		for ; i < len(seg); i++ {
			d := float64(seg[i]) - mu
			a0 += d * d
		}
	}
	return (a0 + a1) + (a2 + a3)
}

// chanGradSums returns Σ dy and Σ dy·(x − mu) over channel c, in float64.
func chanGradSums[T scalar](g tensor.ChannelGeom, dy, x []T, c int, mu float64) (sdy, sdyx float64) {
	if v := vec32(x); v != nil {
		off := c * g.Inner
		return vec.GradSums(vec32(dy)[off:], v[off:], g.Outer, g.C*g.Inner, g.Inner, mu)
	}
	var a0, a1, b0, b1 float64
	for o := 0; o < g.Outer; o++ {
		off := (o*g.C + c) * g.Inner
		xs, gs := x[off:][:g.Inner], dy[off:][:g.Inner]
		i := 0
		for ; i+2 <= len(xs); i += 2 {
			d0, d1 := float64(gs[i]), float64(gs[i+1])
			a0 += d0
			a1 += d1
			b0 += d0 * (float64(xs[i]) - mu)
			b1 += d1 * (float64(xs[i+1]) - mu)
		}
		for ; i < len(xs); i++ {
			d := float64(gs[i])
			a0 += d
			b0 += d * (float64(xs[i]) - mu)
		}
	}
	return a0 + a1, b0 + b1
}

// channelGrain is the number of channels one worker gets at least, so that a
// worker has about elemGrain elements.
func channelGrain(g tensor.ChannelGeom) int { return max(1, elemGrain/max(g.PerChannel(), 1)) }

// affine returns gamma[c] and beta[c] as float64, or 1 and 0 when absent.
func affine[T scalar](gamma, beta []T, c int) (float64, float64) {
	ga, be := 1.0, 0.0
	if gamma != nil {
		ga = float64(gamma[c])
	}
	if beta != nil {
		be = float64(beta[c])
	}
	return ga, be
}

// BatchNormTrain normalizes x ([N, C, ...], rank ≥ 2) with its batch
// statistics per channel: y = gamma·(x − μ)·invStd + beta with μ the mean
// and σ² the biased variance of each channel (over every axis but 1) and
// invStd = 1/√(σ² + Eps). It writes mean = μ and invStd ([C]) and, when
// runningMean and runningVar are not nil, updates them with PyTorch's rule
// (the unbiased variance σ²·n/(n−1) enters the running variance). gamma nil
// is 1, beta nil is 0; y may alias x. The statistics are computed in float64
// by two passes (mean, then squared deviations). Errors wrap ErrParam (Eps,
// Momentum, one value per channel), ErrShape, ErrDType, ErrBackend, ErrFreed
// or ErrClosed (see tensor.CheckBatchNormTrain).
func (b *Backend) BatchNormTrain(y, mean, invStd, runningMean, runningVar, x, gamma, beta *tensor.Tensor, p tensor.BatchNormParams) error {
	if err := b.open("batch norm train"); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormTrain(b, y, mean, invStd, runningMean, runningVar, x, gamma, beta, p)
	if err != nil {
		return err
	}
	if x.DType() == tensor.Float32 {
		batchNormTrain(b, g, data[float32](y), data[float32](mean), data[float32](invStd), optData[float32](runningMean),
			optData[float32](runningVar), data[float32](x), optData[float32](gamma), optData[float32](beta), p)
	} else {
		batchNormTrain(b, g, data[float64](y), data[float64](mean), data[float64](invStd), optData[float64](runningMean),
			optData[float64](runningVar), data[float64](x), optData[float64](gamma), optData[float64](beta), p)
	}
	return nil
}

// normTask is a batch-norm op as a par.Task (task.go): training and the
// backward pass over channels, evaluation over [Inner] segments.
type normTask[T scalar] struct {
	kind int // normTrain, normEval or normBackward
	g    tensor.ChannelGeom
	p    tensor.BatchNormParams
	// Train: y, mean, invStd, rMean, rVar, x, gamma, beta. Eval: y, x and
	// scale, shift, mu. Backward: dx (in y), dgamma, dbeta, dy, x, gamma,
	// mean, invStd.
	y, mean, invStd, rMean, rVar, x, gamma, beta, dgamma, dbeta, dy []T
	scale, shift, mu                                                []float64
}

// The ops a normTask runs.
const (
	normTrain = iota
	normEval
	normBackward
)

// Run does the channels (or segments) [lo, hi).
func (t *normTask[T]) Run(_, lo, hi int) {
	switch t.kind {
	case normTrain:
		t.train(lo, hi)
	case normEval:
		t.eval(lo, hi)
	default:
		t.backward(lo, hi)
	}
}

func batchNormTrain[T scalar](b *Backend, g tensor.ChannelGeom, y, mean, invStd, rMean, rVar, x, gamma, beta []T, p tensor.BatchNormParams) {
	t := getTask[normTask[T], T](&normTasks)
	defer putTask[normTask[T], T](&normTasks, t)
	t.kind, t.g, t.p = normTrain, g, p
	t.y, t.mean, t.invStd, t.rMean, t.rVar, t.x, t.gamma, t.beta = y, mean, invStd, rMean, rVar, x, gamma, beta
	b.parallelTask(g.C, channelGrain(g), t)
}

// train normalizes the channels [lo, hi) (BatchNormTrain).
func (t *normTask[T]) train(lo, hi int) {
	g, p := t.g, t.p
	y, mean, invStd, rMean, rVar, x, gamma, beta := t.y, t.mean, t.invStd, t.rMean, t.rVar, t.x, t.gamma, t.beta
	n := float64(g.PerChannel())
	for c := lo; c < hi; c++ {
		mu := chanSum(g, x, c) / n
		q := chanSqDev(g, x, c, mu)
		v := q / n
		is := 1 / math.Sqrt(v+p.Eps)
		mean[c], invStd[c] = T(mu), T(is)
		if rMean != nil {
			m := p.Momentum
			rMean[c] = T((1-m)*float64(rMean[c]) + m*mu)
			rVar[c] = T((1-m)*float64(rVar[c]) + m*q/(n-1))
		}
		ga, be := affine(gamma, beta, c)
		sc := ga * is
		if v := vec32(x); v != nil {
			off := c * g.Inner
			vec.Affine(vec32(y)[off:], v[off:], g.Outer, g.C*g.Inner, g.Inner, mu, sc, be)
			continue
		}
		for o := 0; o < g.Outer; o++ {
			off := (o*g.C + c) * g.Inner
			xs, ys := x[off:][:g.Inner], y[off:][:g.Inner]
			for i, v := range xs {
				ys[i] = T((float64(v)-mu)*sc + be)
			}
		}
	}
}

// BatchNormEval normalizes x with the running statistics:
// y = gamma·(x − runningMean)/√(runningVar + Eps) + beta, in float64 and
// rounded once. Shapes as in BatchNormTrain; gamma nil is 1, beta nil is 0;
// y may alias x. Errors wrap ErrParam (Eps), ErrShape, ErrDType, ErrBackend,
// ErrFreed or ErrClosed (see tensor.CheckBatchNormEval).
func (b *Backend) BatchNormEval(y, x, gamma, beta, runningMean, runningVar *tensor.Tensor, p tensor.BatchNormParams) error {
	if err := b.open("batch norm eval"); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormEval(b, y, x, gamma, beta, runningMean, runningVar, p)
	if err != nil {
		return err
	}
	if x.DType() == tensor.Float32 {
		batchNormEval(b, g, data[float32](y), data[float32](x), optData[float32](gamma), optData[float32](beta),
			data[float32](runningMean), data[float32](runningVar), p)
	} else {
		batchNormEval(b, g, data[float64](y), data[float64](x), optData[float64](gamma), optData[float64](beta),
			data[float64](runningMean), data[float64](runningVar), p)
	}
	return nil
}

func batchNormEval[T scalar](b *Backend, g tensor.ChannelGeom, y, x, gamma, beta, rMean, rVar []T, p tensor.BatchNormParams) {
	buf := getScratch[float64](3 * g.C)
	defer putScratch(buf)
	scale, shift, mu := (*buf)[:g.C], (*buf)[g.C:2*g.C], (*buf)[2*g.C:]
	for c := range scale {
		ga, be := affine(gamma, beta, c)
		scale[c], shift[c], mu[c] = ga/math.Sqrt(float64(rVar[c])+p.Eps), be, float64(rMean[c])
	}
	t := getTask[normTask[T], T](&normTasks)
	defer putTask[normTask[T], T](&normTasks, t)
	t.kind, t.g, t.y, t.x, t.scale, t.shift, t.mu = normEval, g, y, x, scale, shift, mu
	// One item is one [Inner] segment of one channel.
	b.parallelTask(g.Outer*g.C, max(1, elemGrain/max(g.Inner, 1)), t)
}

// eval normalizes the segments [lo, hi) (BatchNormEval).
func (t *normTask[T]) eval(lo, hi int) {
	g, x, y, scale, shift, mu := t.g, t.x, t.y, t.scale, t.shift, t.mu
	for k := lo; k < hi; k++ {
		c := k % g.C
		xs, ys := x[k*g.Inner:][:g.Inner], y[k*g.Inner:][:g.Inner]
		if v := vec32(xs); v != nil {
			vec.Affine(vec32(ys), v, 1, 0, g.Inner, mu[c], scale[c], shift[c])
			continue
		}
		for i, v := range xs {
			ys[i] = T((float64(v)-mu[c])*scale[c] + shift[c])
		}
	}
}

// BatchNormBackward sets the gradients of BatchNormTrain from x, the output
// gradient dy and the saved mean and invStd ([C]): dbeta = Σ dy,
// dgamma = Σ dy·x̂ (sums over every axis but 1, in float64) and
// dx = gamma·invStd/n·(n·dy − dbeta − x̂·dgamma), with x̂ = (x − mean)·invStd
// and n the elements per channel. dx, dgamma and dbeta may each be nil;
// gamma nil is 1; dx may alias dy. Errors wrap ErrShape, ErrDType,
// ErrBackend, ErrFreed or ErrClosed (see tensor.CheckBatchNormBackward).
func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invStd *tensor.Tensor) error {
	if err := b.open("batch norm backward"); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormBackward(b, dx, dgamma, dbeta, dy, x, gamma, mean, invStd)
	if err != nil {
		return err
	}
	if x.DType() == tensor.Float32 {
		batchNormBackward(b, g, optData[float32](dx), optData[float32](dgamma), optData[float32](dbeta),
			data[float32](dy), data[float32](x), optData[float32](gamma), data[float32](mean), data[float32](invStd))
	} else {
		batchNormBackward(b, g, optData[float64](dx), optData[float64](dgamma), optData[float64](dbeta),
			data[float64](dy), data[float64](x), optData[float64](gamma), data[float64](mean), data[float64](invStd))
	}
	return nil
}

func batchNormBackward[T scalar](b *Backend, g tensor.ChannelGeom, dx, dgamma, dbeta, dy, x, gamma, mean, invStd []T) {
	t := getTask[normTask[T], T](&normTasks)
	defer putTask[normTask[T], T](&normTasks, t)
	t.kind, t.g = normBackward, g
	t.y, t.dgamma, t.dbeta, t.dy, t.x, t.gamma, t.mean, t.invStd = dx, dgamma, dbeta, dy, x, gamma, mean, invStd
	b.parallelTask(g.C, channelGrain(g), t)
}

// backward sets the gradients of the channels [lo, hi) (BatchNormBackward).
func (t *normTask[T]) backward(lo, hi int) {
	g := t.g
	dx, dgamma, dbeta, dy, x, gamma, mean, invStd := t.y, t.dgamma, t.dbeta, t.dy, t.x, t.gamma, t.mean, t.invStd
	n := float64(g.PerChannel())
	for c := lo; c < hi; c++ {
		mu, is := float64(mean[c]), float64(invStd[c])
		sdy, sdyx := chanGradSums(g, dy, x, c, mu) // Σ dy and Σ dy·(x − mean)
		sdyx *= is                                 // Σ dy·x̂
		if dgamma != nil {
			dgamma[c] = T(sdyx)
		}
		if dbeta != nil {
			dbeta[c] = T(sdy)
		}
		if dx == nil {
			continue
		}
		ga, _ := affine(gamma, nil, c)
		k := ga * is
		mdy, mdyx := sdy/n, sdyx/n
		if v := vec32(x); v != nil {
			off := c * g.Inner
			vec.NormGrad(vec32(dx)[off:], vec32(dy)[off:], v[off:], g.Outer, g.C*g.Inner, g.Inner, mu, is, mdy, mdyx, k)
			continue
		}
		for o := 0; o < g.Outer; o++ {
			off := (o*g.C + c) * g.Inner
			xs, gs, ds := x[off:][:g.Inner], dy[off:][:g.Inner], dx[off:][:g.Inner]
			for i, v := range xs {
				xh := (float64(v) - mu) * is
				ds[i] = T(k * (float64(gs[i]) - mdy - xh*mdyx))
			}
		}
	}
}
