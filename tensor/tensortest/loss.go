package tensortest

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// lossOp is a loss of the Backend interface.
type lossOp func(loss, grad, pred, target *tensor.Tensor) error

// checkLoss runs op on pred and target of shape s, with and without a gradient
// and with a loss tensor of shape [1] and [1 1], and compares with ref.
func checkLoss(h *harness, name string, op lossOp, s []int, pred, target []float64, ref lossRef) {
	h.t.Helper()
	tol := Tolerance(h.dt)
	pt, tt := h.from(pred, s...), h.from(target, s...)
	for _, ls := range [][]int{{1}, {1, 1}} {
		for _, withGrad := range []bool{true, false} {
			loss := h.dst(ls...)
			var grad *tensor.Tensor
			if withGrad {
				grad = h.dst(s...)
			}
			if !h.ok(name, op(loss, grad, pt, tt)) {
				continue
			}
			compare(h.t, name+" value", h.read(loss), []float64{ref.loss}, []float64{ref.lossMag}, tol)
			if withGrad {
				compare(h.t, name+" gradient", h.read(grad), ref.grad, ref.gradMag, tol)
			}
		}
	}
	compare(h.t, name+" prediction afterwards", h.read(pt), pred, nil, exact)
	compare(h.t, name+" target afterwards", h.read(tt), target, nil, exact)
}

// Losses checks MSELoss, BCELoss (including predictions of exactly 0 and 1,
// which the ε clamp keeps finite) and SoftmaxCrossEntropy (one-hot and soft
// targets, logits near 1000), with and without gradients.
func Losses(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x1055
	r := newRand(seed)
	for _, s := range [][]int{{1}, {5}, {4, 3}, {2, 3, 4, 5}, {17, 1000}} {
		h := newHarness(named(t, "seed %#x mse %v", seed, s), b, dt)
		n := tensor.Shape(s).Len()
		p, tg := h.round(uniform(r, n, -2, 2)), h.round(uniform(r, n, -2, 2))
		checkLoss(h, "mse loss", b.MSELoss, s, p, tg, refMSE(p, tg))
		h.release()
	}

	for _, s := range [][]int{{1}, {6}, {4, 3}, {2, 3, 4, 5}, {17000}} {
		for _, soft := range []bool{false, true} {
			h := newHarness(named(t, "seed %#x bce %v soft targets %v", seed, s, soft), b, dt)
			n := tensor.Shape(s).Len()
			p := h.round(uniform(r, n, 0.05, 0.95))
			tg := integers(r, n, 0, 1)
			if soft {
				tg = h.round(uniform(r, n, 0, 1))
			}
			checkLoss(h, "bce loss", b.BCELoss, s, p, tg, refBCE(p, tg))
			h.release()
		}
	}
	h := newHarness(named(t, "bce clamp"), b, dt)
	p := h.round([]float64{0, 1, 0, 1, 1e-20, 1, 0.5, 0})
	tg := []float64{1, 0, 0, 1, 1, 0.5, 1, 0.25}
	checkLoss(h, "bce loss", b.BCELoss, []int{len(p)}, p, tg, refBCE(p, tg))
	h.release()

	for _, s := range [][2]int{{1, 1}, {1, 5}, {4, 10}, {16, 3}, {3, 7}, {1000, 17}} {
		for _, soft := range []bool{false, true} {
			h := newHarness(named(t, "seed %#x softmax cross entropy %v soft targets %v", seed, s, soft), b, dt)
			rows, cols := s[0], s[1]
			x := h.round(uniform(r, rows*cols, -5, 5))
			if rows > 2 {
				for c := 0; c < cols; c++ {
					x[c] += 1000
					x[cols+c] -= 1000
				}
				h.round(x)
			}
			tg := make([]float64, rows*cols)
			for i := 0; i < rows; i++ {
				row := tg[i*cols : (i+1)*cols]
				if !soft {
					row[r.IntN(cols)] = 1
					continue
				}
				var sum float64
				for c := range row {
					row[c] = r.Float64()
					sum += row[c]
				}
				for c := range row {
					row[c] /= sum
				}
				h.round(row)
			}
			checkLoss(h, "softmax cross entropy", b.SoftmaxCrossEntropy, s[:], x, tg, refSoftmaxCrossEntropy(x, tg, rows, cols))
			h.release()
		}
	}
}

// optimSteps is the number of consecutive optimizer steps each case takes.
const optimSteps = 3

// Optimizers checks SGDStep (plain, with momentum, with weight decay, with
// Nesterov momentum) and AdamStep (PyTorch defaults, AdamW with its defaults,
// and non-default values that make every term count, with coupled and
// decoupled weight decay) over several steps against the documented update rules; the state
// tensors carry over from step to step and the gradient is left unchanged.
// Parameters and gradients have magnitudes in [0.1, 1], so that the bound,
// relative to the parameter, admits a float32 backend's rounding of β1, β2
// and the bias corrections yet not a wrong update rule (off by about LR).
func Optimizers(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x0971
	r := newRand(seed)
	tol := Tolerance(dt)
	// The last configuration of each optimizer also runs on a large tensor,
	// so that backends split the work.
	shapes := func(last bool) [][]int {
		if last {
			return [][]int{{1}, {37}, {3, 4, 5}, {70_001}}
		}
		return [][]int{{1}, {37}, {3, 4, 5}}
	}
	gradient := func(h *harness, n int) []float64 { // |g| ≥ 0.1: no cancellation with weight decay
		return h.round(awayFromZero(r, n))
	}
	sgds := []tensor.SGDParams{{LR: 0.1}, {LR: 0.05, Momentum: 0.9}, {LR: 0.1, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, Nesterov: true}, {LR: 0.01, Momentum: 0.5, WeightDecay: 0.05, Nesterov: true},
		{LR: 0.01, Momentum: 0.5, WeightDecay: 0.05}}
	for i, o := range sgds {
		for _, s := range shapes(i == len(sgds)-1) {
			h := newHarness(named(t, "seed %#x sgd %+v shape %v", seed, o, s), b, dt)
			n := tensor.Shape(s).Len()
			p := h.round(awayFromZero(r, n))
			v := make([]float64, n)
			pt := h.from(p, s...)
			var vt *tensor.Tensor
			if o.Momentum != 0 {
				vt = h.zeros(s...)
			}
			for step := 1; step <= optimSteps; step++ {
				g := gradient(h, n)
				gt := h.from(g, s...)
				if !h.ok("sgd step", b.SGDStep(pt, gt, vt, o)) {
					break
				}
				pMag, vMag := refSGD(p, g, v, o)
				st := named(h.t, "step %d", step)
				compare(st, "sgd parameter", h.read(pt), p, pMag, tol)
				if vt != nil {
					compare(st, "sgd velocity", h.read(vt), v, vMag, tol)
				}
				compare(st, "sgd gradient afterwards", h.read(gt), g, nil, exact)
			}
			h.release()
		}
	}
	adams := []tensor.AdamParams{tensor.DefaultAdam(), tensor.DefaultAdamW(),
		{LR: 0.01, Beta1: 0.8, Beta2: 0.9, Eps: 0.1, WeightDecay: 0.5, Decoupled: true},
		{LR: 0.01, Beta1: 0.8, Beta2: 0.9, Eps: 0.1, WeightDecay: 0.05}}
	for i, o := range adams {
		for _, s := range shapes(i == len(adams)-1) {
			h := newHarness(named(t, "seed %#x adam %+v shape %v", seed, o, s), b, dt)
			n := tensor.Shape(s).Len()
			p := h.round(awayFromZero(r, n))
			m, v := make([]float64, n), make([]float64, n)
			pt, mt, vt := h.from(p, s...), h.zeros(s...), h.zeros(s...)
			// Steps 1, 2, 3 and then 100: only the count given matters.
			for i, step := range []int{1, 2, 3, 100} {
				g := gradient(h, n)
				gt := h.from(g, s...)
				if !h.ok("adam step", b.AdamStep(pt, gt, mt, vt, o, step)) {
					break
				}
				pMag, mMag, vMag := refAdam(p, g, m, v, o, step)
				st := named(h.t, "call %d step %d", i+1, step)
				compare(st, "adam parameter", h.read(pt), p, pMag, tol)
				compare(st, "adam first moment", h.read(mt), m, mMag, tol)
				compare(st, "adam second moment", h.read(vt), v, vMag, tol)
				compare(st, "adam gradient afterwards", h.read(gt), g, nil, exact)
			}
			h.release()
		}
	}
}
