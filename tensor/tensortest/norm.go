package tensortest

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// bnCase is one configuration of the batch-norm tests.
type bnCase struct {
	shape     []int   // [N, C, ...]
	offset    float64 // added to every input: data far from zero
	spread    float64 // inputs are offset + spread·U(−1, 1)
	constant  bool    // channel 0 holds one repeated value (variance 0)
	noAffine  bool    // gamma and beta nil
	noRunning bool    // runningMean and runningVar nil
	p         tensor.BatchNormParams
}

func (c bnCase) geom() bnGeom {
	s := tensor.Shape(c.shape)
	return bnGeom{outer: s[0], c: s[1], inner: s[2:].Len()}
}

// bnCases are the batch-norm configurations: dense [N, C] and image
// [N, C, H, W] inputs (and one of rank 3), batch 1 with H·W > 1, two values
// per channel, odd sizes, one large channel and many channels, data far from
// zero (where E[x²] − E[x]² would cancel), a constant channel, no affine
// parameters, no running statistics, and non-default eps and momentum.
func bnCases() []bnCase {
	def := tensor.DefaultBatchNorm()
	return []bnCase{
		{shape: []int{2, 3}, spread: 1, p: def},
		{shape: []int{5, 4}, spread: 2, p: def, noAffine: true},
		{shape: []int{64, 10}, spread: 1, offset: 0.5, p: def},
		{shape: []int{1, 3, 2, 2}, spread: 1, p: def},
		{shape: []int{1, 2, 1, 2}, spread: 1, p: def, noRunning: true},
		{shape: []int{3, 2, 5, 7}, spread: 1, p: tensor.BatchNormParams{Eps: 1e-3, Momentum: 1.0 / 3}},
		{shape: []int{2, 5, 1, 1}, spread: 3, p: def, constant: true},
		{shape: []int{4, 3, 7}, spread: 1, p: def, noAffine: true, noRunning: true},
		{shape: []int{3, 4, 6, 5}, spread: 0.5, offset: 100, p: def, constant: true},
		{shape: []int{7, 3, 9}, spread: 1e-2, offset: -30, p: tensor.BatchNormParams{Eps: 1e-5, Momentum: 1}},
		{shape: []int{8, 16, 14, 14}, spread: 1, p: def},
		{shape: []int{2, 1, 250, 250}, spread: 2, offset: 3, p: tensor.BatchNormParams{Eps: 1e-5, Momentum: 0}},
	}
}

// BatchNorm checks BatchNormTrain (outputs, saved statistics, running
// statistics, in place), BatchNormEval (in place too) and BatchNormBackward
// (every subset of outputs, dx aliasing dy) over bnCases against the
// references of reference.go.
func BatchNorm(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0xba7c
	r := newRand(seed)
	tol := Tolerance(dt)
	for ci, c := range bnCases() {
		h := newHarness(named(t, "seed %#x case %d %v %+v", seed, ci, c.shape, c), b, dt)
		g := c.geom()
		n := tensor.Shape(c.shape).Len()
		x := uniform(r, n, -c.spread, c.spread)
		for i := range x {
			x[i] += c.offset
		}
		if c.constant {
			g.each(0, func(k int) { x[k] = c.offset + 0.75 })
		}
		h.round(x)
		var gamma, beta, rMean, rVar []float64
		if !c.noAffine {
			gamma, beta = h.round(uniform(r, g.c, 0.5, 2)), h.round(uniform(r, g.c, -1, 1))
			gamma[0] = -gamma[0]
		}
		if !c.noRunning {
			rMean, rVar = h.round(uniform(r, g.c, -1, 1)), h.round(uniform(r, g.c, 0.5, 2))
		}
		opt := func(v []float64) *tensor.Tensor {
			if v == nil {
				return nil
			}
			return h.from(v, len(v))
		}
		ref := refBatchNormTrain(g, x, gamma, beta, rMean, rVar, c.p)

		// Training, into a separate output and in place.
		for _, inPlace := range []bool{false, true} {
			st := named(h.t, "train in place %v", inPlace)
			xt := h.from(x, c.shape...)
			y := h.dst(c.shape...)
			if inPlace {
				y = xt
			}
			mean, invStd := h.dst(g.c), h.dst(g.c)
			gt, bt, rmt, rvt := opt(gamma), opt(beta), opt(rMean), opt(rVar)
			if !h.ok("batch norm train", b.BatchNormTrain(y, mean, invStd, rmt, rvt, xt, gt, bt, c.p)) {
				continue
			}
			compare(st, "batch norm train output", h.read(y), ref.y, ref.yMag, tol)
			compare(st, "batch norm train mean", h.read(mean), ref.mean, ref.meanMag, tol)
			compare(st, "batch norm train inverse std", h.read(invStd), ref.invStd, nil, tol)
			if rmt != nil {
				compare(st, "batch norm train running mean", h.read(rmt), ref.rMean, ref.rMeanMag, tol)
				compare(st, "batch norm train running variance", h.read(rvt), ref.rVar, ref.rVarMag, tol)
			}
			if !inPlace {
				compare(st, "batch norm train input afterwards", h.read(xt), x, nil, exact)
			}
			if gt != nil {
				compare(st, "batch norm train gamma afterwards", h.read(gt), gamma, nil, exact)
			}
		}

		// Evaluation with the running statistics (or, without them, the
		// batch's own, which makes eval reproduce train).
		em, ev := rMean, rVar
		if em == nil {
			em, ev = h.round(append([]float64(nil), ref.mean...)), make([]float64, g.c)
			for k, is := range ref.invStd {
				ev[k] = 1/(is*is) - c.p.Eps
			}
			h.round(ev)
		}
		ey, eyMag := refBatchNormEval(g, x, gamma, beta, em, ev, c.p)
		for _, inPlace := range []bool{false, true} {
			st := named(h.t, "eval in place %v", inPlace)
			xt := h.from(x, c.shape...)
			y := h.dst(c.shape...)
			if inPlace {
				y = xt
			}
			if h.ok("batch norm eval", b.BatchNormEval(y, xt, opt(gamma), opt(beta), h.from(em, g.c), h.from(ev, g.c), c.p)) {
				compare(st, "batch norm eval output", h.read(y), ey, eyMag, tol)
			}
		}

		// Backward from the saved statistics as the dtype holds them.
		dy := h.round(uniform(r, n, -1, 1))
		sm, si := h.round(append([]float64(nil), ref.mean...)), h.round(append([]float64(nil), ref.invStd...))
		bref := refBatchNormBackward(g, dy, x, gamma, sm, si)
		for _, v := range []struct {
			name       string
			dx, dg, db bool
			aliasDy    bool
		}{
			{"all gradients", true, true, true, false},
			{"dx aliasing dy", true, true, true, true},
			{"dx only", true, false, false, false},
			{"dgamma and dbeta only", false, true, true, false},
			{"dbeta only", false, false, true, false},
		} {
			st := named(h.t, "backward, %s", v.name)
			xt, dyt := h.from(x, c.shape...), h.from(dy, c.shape...)
			var dx, dg, db *tensor.Tensor
			if v.dx {
				dx = h.dst(c.shape...)
				if v.aliasDy {
					dx = dyt
				}
			}
			if v.dg {
				dg = h.dst(g.c)
			}
			if v.db {
				db = h.dst(g.c)
			}
			if !h.ok("batch norm backward", b.BatchNormBackward(dx, dg, db, dyt, xt, opt(gamma), h.from(sm, g.c), h.from(si, g.c))) {
				continue
			}
			if dx != nil {
				compare(st, "batch norm input gradient", h.read(dx), bref.dx, bref.dxMag, tol)
			}
			if dg != nil {
				compare(st, "batch norm gamma gradient", h.read(dg), bref.dgamma, bref.dgammaMag, tol)
			}
			if db != nil {
				compare(st, "batch norm beta gradient", h.read(db), bref.dbeta, bref.dbetaMag, tol)
			}
			if !v.aliasDy {
				compare(st, "batch norm backward output gradient afterwards", h.read(dyt), dy, nil, exact)
			}
		}
		h.release()
	}
}
