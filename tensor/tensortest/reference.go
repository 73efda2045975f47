package tensortest

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// The references: naive float64 loops written straight from the formulas in
// tensor/backend.go and tensor/params.go. They share no code with any backend
// and call nothing of the tensor package but DropoutUniform, which defines the
// dropout mask. Each returns, besides the result, the magnitude of its terms
// (mag, see Tol) where the result is a sum.

// at4 returns the flat index of [a, b, c, d] in a row-major [_, B, C, D] array.
func at4(a, b, c, d, B, C, D int) int { return ((a*B+b)*C+c)*D + d }

// refConv2D is the cross-correlation
// Y[n,k,i,j] = B[k] + Σ_c Σ_u Σ_v X[n, g·C/G + c, i·s−p + u·d, j·s−p + v·d]·W[k,c,u,v],
// g = k/(K/G), reading 0 outside the input. b may be nil.
func refConv2D(c ConvCase, x, w, b []float64) (y, mag []float64) {
	oh, ow := c.out()
	cpg, kpg := c.C/c.Groups, c.K/c.Groups
	y = make([]float64, c.N*c.K*oh*ow)
	mag = make([]float64, len(y))
	for n := 0; n < c.N; n++ {
		for k := 0; k < c.K; k++ {
			g := k / kpg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s, m float64
					if b != nil {
						s, m = b[k], math.Abs(b[k])
					}
					for ci := 0; ci < cpg; ci++ {
						for u := 0; u < c.KH; u++ {
							h := i*c.Stride[0] - c.Pad[0] + u*c.Dilation[0]
							if h < 0 || h >= c.H {
								continue
							}
							for v := 0; v < c.KW; v++ {
								ww := j*c.Stride[1] - c.Pad[1] + v*c.Dilation[1]
								if ww < 0 || ww >= c.W {
									continue
								}
								t := x[at4(n, g*cpg+ci, h, ww, c.C, c.H, c.W)] * w[at4(k, ci, u, v, cpg, c.KH, c.KW)]
								s += t
								m += math.Abs(t)
							}
						}
					}
					o := at4(n, k, i, j, c.K, oh, ow)
					y[o], mag[o] = s, m
				}
			}
		}
	}
	return y, mag
}

// refConv2DInputGrad is the full convolution of dY with the flipped kernel,
// written as a gather over input positions: dX[n, g·C/G + c, h, w] sums
// dY[n,k,i,j]·W[k,c,u,v] over the output channels k of group g and the kernel
// taps (u, v) for which output (i, j) = ((h + p − u·d)/s, (w + p − v·d)/s) is
// a whole, in-range position. Positions no window reaches get 0.
func refConv2DInputGrad(c ConvCase, dy, w []float64) (dx, mag []float64) {
	oh, ow := c.out()
	cpg, kpg := c.C/c.Groups, c.K/c.Groups
	dx = make([]float64, c.N*c.C*c.H*c.W)
	mag = make([]float64, len(dx))
	// tap returns the output index that tap u of a kernel with stride s,
	// padding p and dilation d places on input index h, or -1.
	tap := func(h, u, s, p, d, out int) int {
		t := h + p - u*d
		if t < 0 || t%s != 0 || t/s >= out {
			return -1
		}
		return t / s
	}
	for n := 0; n < c.N; n++ {
		for ch := 0; ch < c.C; ch++ {
			g, ci := ch/cpg, ch%cpg
			for h := 0; h < c.H; h++ {
				for ww := 0; ww < c.W; ww++ {
					var s, m float64
					for k := g * kpg; k < (g+1)*kpg; k++ {
						for u := 0; u < c.KH; u++ {
							i := tap(h, u, c.Stride[0], c.Pad[0], c.Dilation[0], oh)
							if i < 0 {
								continue
							}
							for v := 0; v < c.KW; v++ {
								j := tap(ww, v, c.Stride[1], c.Pad[1], c.Dilation[1], ow)
								if j < 0 {
									continue
								}
								t := dy[at4(n, k, i, j, c.K, oh, ow)] * w[at4(k, ci, u, v, cpg, c.KH, c.KW)]
								s += t
								m += math.Abs(t)
							}
						}
					}
					o := at4(n, ch, h, ww, c.C, c.H, c.W)
					dx[o], mag[o] = s, m
				}
			}
		}
	}
	return dx, mag
}

// refConv2DKernelGrad is the correlation of X with dY summed over the batch:
// dW[k,c,u,v] = Σ_n Σ_i Σ_j X[n, g·C/G + c, i·s−p + u·d, j·s−p + v·d]·dY[n,k,i,j].
func refConv2DKernelGrad(c ConvCase, x, dy []float64) (dw, mag []float64) {
	oh, ow := c.out()
	cpg, kpg := c.C/c.Groups, c.K/c.Groups
	dw = make([]float64, c.K*cpg*c.KH*c.KW)
	mag = make([]float64, len(dw))
	for k := 0; k < c.K; k++ {
		g := k / kpg
		for ci := 0; ci < cpg; ci++ {
			for u := 0; u < c.KH; u++ {
				for v := 0; v < c.KW; v++ {
					var s, m float64
					for n := 0; n < c.N; n++ {
						for i := 0; i < oh; i++ {
							h := i*c.Stride[0] - c.Pad[0] + u*c.Dilation[0]
							if h < 0 || h >= c.H {
								continue
							}
							for j := 0; j < ow; j++ {
								ww := j*c.Stride[1] - c.Pad[1] + v*c.Dilation[1]
								if ww < 0 || ww >= c.W {
									continue
								}
								t := x[at4(n, g*cpg+ci, h, ww, c.C, c.H, c.W)] * dy[at4(n, k, i, j, c.K, oh, ow)]
								s += t
								m += math.Abs(t)
							}
						}
					}
					o := at4(k, ci, u, v, cpg, c.KH, c.KW)
					dw[o], mag[o] = s, m
				}
			}
		}
	}
	return dw, mag
}

// refBiasGrad sums dy, viewed as [outer, ch, inner], over outer and inner.
func refBiasGrad(dy []float64, outer, ch, inner int) (db, mag []float64) {
	db = make([]float64, ch)
	mag = make([]float64, ch)
	for o := 0; o < outer; o++ {
		for c := 0; c < ch; c++ {
			for i := 0; i < inner; i++ {
				v := dy[(o*ch+c)*inner+i]
				db[c] += v
				mag[c] += math.Abs(v)
			}
		}
	}
	return db, mag
}

// window calls f for every in-range input position (h, w) of pooling window
// (i, j), in row-major window order, and returns the number of window
// positions that fall on padding.
func (c PoolCase) window(i, j int, f func(h, w int)) (padded int) {
	for u := 0; u < c.Window[0]; u++ {
		h := i*c.Stride[0] - c.Pad[0] + u
		for v := 0; v < c.Window[1]; v++ {
			w := j*c.Stride[1] - c.Pad[1] + v
			if h < 0 || h >= c.H || w < 0 || w >= c.W {
				padded++
				continue
			}
			f(h, w)
		}
	}
	return padded
}

// refMaxPool sets each output to the maximum of its window, padding being −∞,
// and returns with it the flat input index of that maximum (the first in
// row-major window order on ties).
func refMaxPool(c PoolCase, x []float64) (y []float64, arg []int) {
	oh, ow := c.out()
	y = make([]float64, c.N*c.C*oh*ow)
	arg = make([]int, len(y))
	for n := 0; n < c.N; n++ {
		for ch := 0; ch < c.C; ch++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					best, at := math.Inf(-1), -1
					c.window(i, j, func(h, w int) {
						k := at4(n, ch, h, w, c.C, c.H, c.W)
						if at < 0 || x[k] > best {
							best, at = x[k], k
						}
					})
					o := at4(n, ch, i, j, c.C, oh, ow)
					y[o], arg[o] = best, at
				}
			}
		}
	}
	return y, arg
}

// refMaxPoolBackward adds each dy element to the input position of its
// window's maximum.
func refMaxPoolBackward(c PoolCase, x, dy []float64) (dx, mag []float64) {
	_, arg := refMaxPool(c, x)
	dx = make([]float64, len(x))
	mag = make([]float64, len(x))
	for o, k := range arg {
		dx[k] += dy[o]
		mag[k] += math.Abs(dy[o])
	}
	return dx, mag
}

// divisor returns the number average pooling divides window (i, j) by: the
// full window, or the in-range positions when padding is excluded.
func (c PoolCase) divisor(i, j int) float64 {
	inside := 0
	padded := c.window(i, j, func(int, int) { inside++ })
	if c.ExcludePad {
		return float64(inside)
	}
	return float64(inside + padded)
}

// refAvgPool sets each output to the sum of its window over the divisor.
func refAvgPool(c PoolCase, x []float64) (y, mag []float64) {
	oh, ow := c.out()
	y = make([]float64, c.N*c.C*oh*ow)
	mag = make([]float64, len(y))
	for n := 0; n < c.N; n++ {
		for ch := 0; ch < c.C; ch++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s, m float64
					c.window(i, j, func(h, w int) {
						v := x[at4(n, ch, h, w, c.C, c.H, c.W)]
						s += v
						m += math.Abs(v)
					})
					d := c.divisor(i, j)
					o := at4(n, ch, i, j, c.C, oh, ow)
					y[o], mag[o] = s/d, m/d
				}
			}
		}
	}
	return y, mag
}

// refAvgPoolBackward adds dy/divisor to every in-range position of each window.
func refAvgPoolBackward(c PoolCase, dy []float64) (dx, mag []float64) {
	oh, ow := c.out()
	dx = make([]float64, c.N*c.C*c.H*c.W)
	mag = make([]float64, len(dx))
	for n := 0; n < c.N; n++ {
		for ch := 0; ch < c.C; ch++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					g := dy[at4(n, ch, i, j, c.C, oh, ow)] / c.divisor(i, j)
					c.window(i, j, func(h, w int) {
						k := at4(n, ch, h, w, c.C, c.H, c.W)
						dx[k] += g
						mag[k] += math.Abs(g)
					})
				}
			}
		}
	}
	return dx, mag
}

// refGlobalAvgPool averages x, viewed as [rows, size], over each row.
func refGlobalAvgPool(x []float64, rows, size int) (y, mag []float64) {
	y, mag = make([]float64, rows), make([]float64, rows)
	for r := 0; r < rows; r++ {
		for _, v := range x[r*size : (r+1)*size] {
			y[r] += v
			mag[r] += math.Abs(v)
		}
		y[r] /= float64(size)
		mag[r] /= float64(size)
	}
	return y, mag
}

// refGlobalAvgPoolBackward sets every element of row r of dx, viewed as
// [rows, size], to dy[r]/size.
func refGlobalAvgPoolBackward(dy []float64, rows, size int) []float64 {
	dx := make([]float64, rows*size)
	for r := 0; r < rows; r++ {
		for i := 0; i < size; i++ {
			dx[r*size+i] = dy[r] / float64(size)
		}
	}
	return dx
}

// refMatMul computes c = op(a)·op(b): c is [m, n], a is [m, k] ([k, m] when
// transA), b is [k, n] ([n, k] when transB).
func refMatMul(a, b []float64, m, n, k int, transA, transB bool) (c, mag []float64) {
	c = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, g float64
			for l := 0; l < k; l++ {
				av, bv := a[i*k+l], b[l*n+j]
				if transA {
					av = a[l*m+i]
				}
				if transB {
					bv = b[j*k+l]
				}
				s += av * bv
				g += math.Abs(av * bv)
			}
			c[i*n+j], mag[i*n+j] = s, g
		}
	}
	return c, mag
}

// refAddBias adds b[c] to x, viewed as [outer, ch, inner].
func refAddBias(x, b []float64, outer, ch, inner int) (y, mag []float64) {
	y = make([]float64, len(x))
	mag = make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for c := 0; c < ch; c++ {
			for i := 0; i < inner; i++ {
				k := (o*ch+c)*inner + i
				y[k] = x[k] + b[c]
				mag[k] = math.Abs(x[k]) + math.Abs(b[c])
			}
		}
	}
	return y, mag
}

// refSum sums src of the given shape over the axes marked in summed; the
// result is row-major over the remaining axes.
func refSum(src []float64, shape []int, summed []bool) (dst, mag []float64) {
	n := 1
	for a, d := range shape {
		if !summed[a] {
			n *= d
		}
	}
	dst = make([]float64, n)
	mag = make([]float64, n)
	idx := make([]int, len(shape))
	for _, v := range src {
		o := 0
		for a, d := range shape {
			if !summed[a] {
				o = o*d + idx[a]
			}
		}
		dst[o] += v
		mag[o] += math.Abs(v)
		for a := len(shape) - 1; a >= 0; a-- { // next multi-index
			idx[a]++
			if idx[a] < shape[a] {
				break
			}
			idx[a] = 0
		}
	}
	return dst, mag
}

// refSigmoid is 1/(1+e^−x), evaluated on the side where e^(−|x|) cannot
// overflow.
func refSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// refLeakyReLU is x for x > 0, else slope·x.
func refLeakyReLU(x, slope float64) float64 {
	if x > 0 {
		return x
	}
	return slope * x
}

// refLeakyReLUBackward is dy for x > 0, else slope·dy.
func refLeakyReLUBackward(dy, x, slope float64) float64 {
	if x > 0 {
		return dy
	}
	return slope * dy
}

// refSiLU is x·sigmoid(x).
func refSiLU(x float64) float64 { return x * refSigmoid(x) }

// refSiLUBackward is dy·s·(1 + x·(1−s)), s = sigmoid(x), and the magnitude
// of its terms, |dy|·s·(1 + |x|·(1−s)).
func refSiLUBackward(dy, x float64) (dx, mag float64) {
	s := refSigmoid(x)
	return dy * s * (1 + x*(1-s)), math.Abs(dy) * s * (1 + math.Abs(x)*(1-s))
}

// refMaxSumExp returns the largest value m of row and Σ exp(v − m) over it,
// the stable parts of softmax and log-sum-exp (log Σ exp(v) = m + log s).
func refMaxSumExp(row []float64) (m, s float64) {
	m = math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, v)
	}
	for _, v := range row {
		s += math.Exp(v - m)
	}
	return m, s
}

// refSoftmax is the softmax of each row of x ([rows, cols]).
func refSoftmax(x []float64, rows, cols int) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		m, s := refMaxSumExp(row)
		for c, v := range row {
			y[r*cols+c] = math.Exp(v-m) / s
		}
	}
	return y
}

// refSoftmaxBackward is dx = y ⊙ (dy − Σ_row dy ⊙ y).
func refSoftmaxBackward(dy, y []float64, rows, cols int) (dx, mag []float64) {
	dx = make([]float64, len(y))
	mag = make([]float64, len(y))
	for r := 0; r < rows; r++ {
		var dot, dotMag float64
		for c := 0; c < cols; c++ {
			k := r*cols + c
			dot += dy[k] * y[k]
			dotMag += math.Abs(dy[k] * y[k])
		}
		for c := 0; c < cols; c++ {
			k := r*cols + c
			dx[k] = y[k] * (dy[k] - dot)
			mag[k] = math.Abs(y[k]) * (math.Abs(dy[k]) + dotMag)
		}
	}
	return dx, mag
}

// refArgMax returns the index of the first largest element of each row.
func refArgMax(x []float64, rows, cols int) []float64 {
	out := make([]float64, rows)
	for r := 0; r < rows; r++ {
		best := 0
		for c := 1; c < cols; c++ {
			if x[r*cols+c] > x[r*cols+best] {
				best = c
			}
		}
		out[r] = float64(best)
	}
	return out
}

// lossRef is a loss value and gradient with the magnitudes of their terms.
type lossRef struct {
	loss, lossMag float64
	grad, gradMag []float64
}

// refMSE is mean((p − t)²) with gradient 2(p − t)/n.
func refMSE(p, t []float64) lossRef {
	n := float64(len(p))
	r := lossRef{grad: make([]float64, len(p)), gradMag: make([]float64, len(p))}
	for i := range p {
		d := p[i] - t[i]
		r.loss += d * d / n
		r.grad[i] = 2 * d / n
		r.gradMag[i] = 2 * (math.Abs(p[i]) + math.Abs(t[i])) / n
	}
	r.lossMag = r.loss
	return r
}

// refBCE is −mean(t·log max(p, ε) + (1−t)·log max(1−p, ε)) with gradient
// (−t/max(p, ε) + (1−t)/max(1−p, ε))/n, ε = tensor.BCEEpsilon.
func refBCE(p, t []float64) lossRef {
	const eps = tensor.BCEEpsilon
	n := float64(len(p))
	r := lossRef{grad: make([]float64, len(p)), gradMag: make([]float64, len(p))}
	for i := range p {
		lp, lq := math.Max(p[i], eps), math.Max(1-p[i], eps)
		a, b := t[i]*math.Log(lp), (1-t[i])*math.Log(lq)
		r.loss -= (a + b) / n
		r.lossMag += (math.Abs(a) + math.Abs(b)) / n
		ga, gb := -t[i]/lp, (1-t[i])/lq
		r.grad[i] = (ga + gb) / n
		r.gradMag[i] = (math.Abs(ga) + math.Abs(gb)) / n
	}
	return r
}

// refSoftmaxCrossEntropy is −(1/N)·Σ_n Σ_c t[n,c]·log softmax(x[n])_c with
// gradient (softmax(x) − t)/N, for x and t of shape [rows, cols].
func refSoftmaxCrossEntropy(x, t []float64, rows, cols int) lossRef {
	n := float64(rows)
	y := refSoftmax(x, rows, cols)
	r := lossRef{grad: make([]float64, len(x)), gradMag: make([]float64, len(x))}
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		m, s := refMaxSumExp(row)
		lse := m + math.Log(s)
		for c, v := range row {
			k := i*cols + c
			r.loss -= t[k] * (v - lse) / n
			r.lossMag += math.Abs(t[k]) * (math.Abs(v) + math.Abs(lse)) / n
			r.grad[k] = (y[k] - t[k]) / n
			r.gradMag[k] = (y[k] + math.Abs(t[k])) / n
		}
	}
	return r
}

// refSGD applies one SGD step in place: g = grad + wd·p; v = μ·v + g;
// p −= lr·v, or p −= lr·(g + μ·v) with Nesterov (p −= lr·g when μ = 0; v may
// then be nil). It returns the magnitudes of the terms of the new p and v.
func refSGD(p, grad, v []float64, o tensor.SGDParams) (pMag, vMag []float64) {
	pMag, vMag = make([]float64, len(p)), make([]float64, len(p))
	for i := range p {
		g := grad[i] + o.WeightDecay*p[i]
		gm := math.Abs(grad[i]) + math.Abs(o.WeightDecay*p[i])
		if o.Momentum != 0 {
			vMag[i] = gm + math.Abs(o.Momentum*v[i])
			v[i] = o.Momentum*v[i] + g
			if o.Nesterov {
				g += o.Momentum * v[i]
				gm += o.Momentum * vMag[i]
			} else {
				g, gm = v[i], vMag[i]
			}
		}
		pMag[i] = math.Abs(p[i]) + o.LR*gm
		p[i] -= o.LR * g
	}
	return pMag, vMag
}

// refAdam applies one Adam step (1-based step t) in place:
// g = grad + wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + ε). With Decoupled (AdamW) p is
// first multiplied by 1 − lr·wd and g = grad. It returns the magnitudes of
// the terms of the new p, m and v.
func refAdam(p, grad, m, v []float64, o tensor.AdamParams, t int) (pMag, mMag, vMag []float64) {
	pMag, mMag, vMag = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	c1 := 1 - math.Pow(o.Beta1, float64(t))
	c2 := 1 - math.Pow(o.Beta2, float64(t))
	for i := range p {
		pm := math.Abs(p[i])
		wd := o.WeightDecay
		if o.Decoupled {
			pm += math.Abs(o.LR * wd * p[i])
			p[i] *= 1 - o.LR*wd
			wd = 0
		}
		g := grad[i] + wd*p[i]
		gm := math.Abs(grad[i]) + math.Abs(wd*p[i])
		mMag[i] = o.Beta1*math.Abs(m[i]) + (1-o.Beta1)*gm
		vMag[i] = o.Beta2*v[i] + (1-o.Beta2)*gm*gm
		m[i] = o.Beta1*m[i] + (1-o.Beta1)*g
		v[i] = o.Beta2*v[i] + (1-o.Beta2)*g*g
		step := o.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + o.Eps)
		pMag[i] = pm + math.Abs(step)
		p[i] -= step
	}
	return pMag, mMag, vMag
}

// refDropout is the mask of n elements: 0 where DropoutUniform(seed, i) < rate,
// else 1/(1−rate).
func refDropout(n int, rate float64, seed uint64) []float64 {
	mask := make([]float64, n)
	for i := range mask {
		if float64(tensor.DropoutUniform(seed, uint32(i))) >= rate {
			mask[i] = 1 / (1 - rate)
		}
	}
	return mask
}

// bnGeom is the channel geometry of a batch-norm input: outer segments of
// inner values per channel.
type bnGeom struct{ outer, c, inner int }

// at returns the flat index of segment o, channel c, position i.
func (g bnGeom) at(o, c, i int) int { return (o*g.c+c)*g.inner + i }

// n returns the number of elements per channel.
func (g bnGeom) n() int { return g.outer * g.inner }

// each calls f with the flat index of every element of channel c.
func (g bnGeom) each(c int, f func(k int)) {
	for o := 0; o < g.outer; o++ {
		for i := 0; i < g.inner; i++ {
			f(g.at(o, c, i))
		}
	}
}

// bnTrainRef holds BatchNormTrain's results and the magnitudes of their
// terms.
type bnTrainRef struct {
	y, yMag               []float64
	mean, meanMag, invStd []float64
	rMean, rMeanMag       []float64 // nil without running statistics
	rVar, rVarMag         []float64
}

// refBatchNormTrain normalizes x with its per-channel batch statistics,
// straight from the definition: μ = Σx/n, σ² = Σ(x−μ)²/n,
// invStd = 1/√(σ²+eps), y = γ·(x−μ)·invStd + β (γ nil is 1, β nil is 0),
// and the running statistics, when given, move towards μ and σ²·n/(n−1) by
// the momentum. The magnitudes: Σ|x|/n for μ; |γ|·invStd·(|x−μ| + Σ|x|/n) +
// |β| for y, since an error in μ shifts every output; invStd relative to
// itself.
func refBatchNormTrain(g bnGeom, x, gamma, beta, rMean, rVar []float64, p tensor.BatchNormParams) bnTrainRef {
	n := float64(g.n())
	r := bnTrainRef{y: make([]float64, len(x)), yMag: make([]float64, len(x)),
		mean: make([]float64, g.c), meanMag: make([]float64, g.c), invStd: make([]float64, g.c)}
	if rMean != nil {
		r.rMean, r.rVar = append([]float64(nil), rMean...), append([]float64(nil), rVar...)
		r.rMeanMag, r.rVarMag = make([]float64, g.c), make([]float64, g.c)
	}
	for c := 0; c < g.c; c++ {
		var s, a float64
		g.each(c, func(k int) { s += x[k]; a += math.Abs(x[k]) })
		mu := s / n
		var q float64
		g.each(c, func(k int) { q += (x[k] - mu) * (x[k] - mu) })
		is := 1 / math.Sqrt(q/n+p.Eps)
		r.mean[c], r.meanMag[c], r.invStd[c] = mu, a/n, is
		ga, be := 1.0, 0.0
		if gamma != nil {
			ga = gamma[c]
		}
		if beta != nil {
			be = beta[c]
		}
		g.each(c, func(k int) {
			r.y[k] = ga*(x[k]-mu)*is + be
			r.yMag[k] = math.Abs(ga)*is*(math.Abs(x[k]-mu)+a/n) + math.Abs(be)
		})
		if rMean != nil {
			m := p.Momentum
			r.rMeanMag[c] = (1-m)*math.Abs(r.rMean[c]) + m*a/n
			r.rMean[c] = (1-m)*r.rMean[c] + m*mu
			r.rVarMag[c] = (1-m)*math.Abs(r.rVar[c]) + m*q/(n-1)
			r.rVar[c] = (1-m)*r.rVar[c] + m*q/(n-1)
		}
	}
	return r
}

// refBatchNormEval normalizes x with running statistics:
// y = γ·(x − rMean)/√(rVar + eps) + β, with magnitudes
// |γ|·(|x| + |rMean|)/√(rVar + eps) + |β|.
func refBatchNormEval(g bnGeom, x, gamma, beta, rMean, rVar []float64, p tensor.BatchNormParams) (y, mag []float64) {
	y, mag = make([]float64, len(x)), make([]float64, len(x))
	for c := 0; c < g.c; c++ {
		ga, be := 1.0, 0.0
		if gamma != nil {
			ga = gamma[c]
		}
		if beta != nil {
			be = beta[c]
		}
		s := 1 / math.Sqrt(rVar[c]+p.Eps)
		g.each(c, func(k int) {
			y[k] = ga*(x[k]-rMean[c])*s + be
			mag[k] = math.Abs(ga)*(math.Abs(x[k])+math.Abs(rMean[c]))*s + math.Abs(be)
		})
	}
	return y, mag
}

// bnBackwardRef holds BatchNormBackward's results and their magnitudes.
type bnBackwardRef struct {
	dx, dxMag, dgamma, dgammaMag, dbeta, dbetaMag []float64
}

// refBatchNormBackward is the gradient of BatchNormTrain from the definition:
// x̂ = (x − mean)·invStd, dβ = Σ dy, dγ = Σ dy·x̂ and
// dx = γ·invStd·(dy − dβ/n − x̂·dγ/n). Magnitudes take |x̂| as
// (|x| + |mean|)·invStd, the terms of x − mean.
func refBatchNormBackward(g bnGeom, dy, x, gamma, mean, invStd []float64) bnBackwardRef {
	n := float64(g.n())
	r := bnBackwardRef{dx: make([]float64, len(x)), dxMag: make([]float64, len(x)),
		dgamma: make([]float64, g.c), dgammaMag: make([]float64, g.c), dbeta: make([]float64, g.c), dbetaMag: make([]float64, g.c)}
	for c := 0; c < g.c; c++ {
		mu, is := mean[c], invStd[c]
		ga := 1.0
		if gamma != nil {
			ga = gamma[c]
		}
		var sdy, sdyx, ady, adyx float64
		g.each(c, func(k int) {
			sdy += dy[k]
			ady += math.Abs(dy[k])
			sdyx += dy[k] * (x[k] - mu) * is
			adyx += math.Abs(dy[k]) * (math.Abs(x[k]) + math.Abs(mu)) * is
		})
		r.dbeta[c], r.dbetaMag[c], r.dgamma[c], r.dgammaMag[c] = sdy, ady, sdyx, adyx
		g.each(c, func(k int) {
			xh := (x[k] - mu) * is
			r.dx[k] = ga * is * (dy[k] - sdy/n - xh*sdyx/n)
			r.dxMag[k] = math.Abs(ga) * is * (math.Abs(dy[k]) + ady/n + (math.Abs(x[k])+math.Abs(mu))*is*adyx/n)
		})
	}
	return r
}
