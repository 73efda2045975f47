package nn_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// testBackend is one backend and dtype the tests run against.
type testBackend struct {
	name string
	dt   tensor.DType
	// open returns the backend for a (sub)test and closes it when the test
	// ends; it skips the test when the backend is unavailable.
	open func(t testing.TB) tensor.Backend
}

// backends lists the backends and dtypes to test; each test runs them as
// subtests, so a missing Vulkan device skips only its own subtest (unless
// VKCNN_REQUIRE_VULKAN=1). A new backend is one more line here.
func backends() []testBackend {
	return []testBackend{
		{"cpu-float32", tensor.Float32, cpu64},
		{"cpu-float64", tensor.Float64, cpu64},
		{"vulkan-float32", tensor.Float32, func(t testing.TB) tensor.Backend { return vktest.Open(t) }},
	}
}

// cpu64 returns a CPU backend (float32 and float64), closed when t ends.
func cpu64(t testing.TB) tensor.Backend {
	c := cpu.New()
	t.Cleanup(func() { c.Close() })
	return c
}

// buildModel parses spec and builds it on b in dtype dt for samples of shape
// in, from seed; the model is freed when t ends.
func buildModel(t testing.TB, b tensor.Backend, dt tensor.DType, spec string, in tensor.Shape, seed uint64) *nn.Sequential {
	t.Helper()
	m, err := nn.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BuildDType(b, dt, in, seed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	return m
}
