package nn

import (
	"math"
	"math/rand/v2"
)

// Initializers for Param values, matching torch.nn.init (gain √2 for the He
// variants, gain 1 for Xavier). Each is an Init; pass one to WeightInit or
// BiasInit. Build draws from a math/rand/v2 PCG generator seeded with the seed
// given to Build, layer by layer, so the same seed gives the same weights.

// Zeros sets every value to 0 (the default bias initializer).
func Zeros(w []float64, _, _ int, _ *rand.Rand) { clear(w) }

// Constant returns an initializer that sets every value to v.
func Constant(v float64) Init {
	return func(w []float64, _, _ int, _ *rand.Rand) {
		for i := range w {
			w[i] = v
		}
	}
}

// XavierUniform (Glorot) draws from U(−a, a) with a = √(6/(fanIn+fanOut)).
func XavierUniform(w []float64, fanIn, fanOut int, r *rand.Rand) {
	uniform(w, math.Sqrt(6/float64(max(fanIn+fanOut, 1))), r)
}

// XavierNormal (Glorot) draws from N(0, σ²) with σ = √(2/(fanIn+fanOut)).
func XavierNormal(w []float64, fanIn, fanOut int, r *rand.Rand) {
	normal(w, math.Sqrt(2/float64(max(fanIn+fanOut, 1))), r)
}

// HeUniform (Kaiming, fan-in mode, for ReLU) draws from U(−a, a) with
// a = √(6/fanIn). It is the default weight initializer.
func HeUniform(w []float64, fanIn, _ int, r *rand.Rand) {
	uniform(w, math.Sqrt(6/float64(max(fanIn, 1))), r)
}

// HeNormal (Kaiming, fan-in mode, for ReLU) draws from N(0, σ²) with
// σ = √(2/fanIn).
func HeNormal(w []float64, fanIn, _ int, r *rand.Rand) {
	normal(w, math.Sqrt(2/float64(max(fanIn, 1))), r)
}

func uniform(w []float64, a float64, r *rand.Rand) {
	for i := range w {
		w[i] = (2*r.Float64() - 1) * a
	}
}

func normal(w []float64, sigma float64, r *rand.Rand) {
	for i := range w {
		w[i] = r.NormFloat64() * sigma
	}
}

// newRand returns the generator Build initializes parameters from.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x766b636e6e)) }
