//go:build cgo

package gpu_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/shaders"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestSPIRVWrites checks the bindings each shader may write, as read from
// its SPIR-V (readonly blocks are reads only).
func TestSPIRVWrites(t *testing.T) {
	for name, want := range map[string]uint64{
		"gemm":    0b1,    // c; a, b and bias are readonly
		"eltwise": 0b1,    // dst
		"sum":     0b1,    // dst
		"optim":   0b1101, // param, m, v; grad is readonly
		// arrays of buffers, by binding
		"optim_batch": 0b1101,
	} {
		code, err := shaders.SPIRV(name)
		if err != nil {
			t.Fatal(err)
		}
		words := make([]uint32, len(code)/4)
		for i := range words {
			words[i] = binary.LittleEndian.Uint32(code[4*i:])
		}
		got, err := gpu.SPIRVWrites(words)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s writes bindings %b, want %b", name, got, want)
		}
	}
	if _, err := gpu.SPIRVWrites([]uint32{1, 2, 3}); err == nil {
		t.Error("a module without a header was accepted")
	}
	if _, err := gpu.SPIRVWrites([]uint32{0x07230203, 0, 0, 0, 0, 9 << 16}); err == nil {
		t.Error("a truncated instruction was accepted")
	}
}

// TestStatsAndProfile checks the exact counts of a small sequence (two
// independent adds share no barrier, a dependent one gets one) and that the
// profile charges device time to the ops that recorded the commands.
func TestStatsAndProfile(t *testing.T) {
	b := vktest.Open(t, gpu.Profile())
	a, c, d1, d2, e := alloc(t, b, 300), alloc(t, b, 300), alloc(t, b, 300), alloc(t, b, 300), alloc(t, b, 300)
	va, vc := make([]float32, 300), make([]float32, 300)
	for i := range va {
		va[i], vc[i] = float32(i), float32(2*i)
	}
	upload(t, b, a, va)
	upload(t, b, c, vc)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.ResetStats()
	for _, step := range []func() error{
		func() error { return b.Add(d1, a, c) }, // after the uploads: a barrier
		func() error { return b.Add(d2, c, a) }, // independent of the first: none
		func() error { return b.Add(e, d1, d2) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	got := download(t, b, e)
	for i, v := range got {
		if want := float32(6 * i); v != want {
			t.Fatalf("e[%d] = %v, want %v", i, v, want)
		}
	}
	s := b.Stats()
	if s.Dispatches != 3 || s.Barriers != 3 || s.Transfers != 1 || s.Submits != 1 || s.Downloaded != 1200 || s.Uploaded != 0 {
		t.Errorf("stats %+v, want 3 dispatches, 3 barriers (before the first and third add and the download), 1 transfer, 1 submit, 1200 bytes down", s)
	}
	if !s.Profiling || !s.Timestamps || s.TimestampPeriod <= 0 || s.TimestampBits <= 0 {
		t.Fatalf("profiling %v, timestamps %v (period %v ns, %d valid bits): want timestamps on lavapipe",
			s.Profiling, s.Timestamps, s.TimestampPeriod, s.TimestampBits)
	}
	calls := map[string]int{}
	for _, o := range s.Ops {
		calls[o.Op] = o.Calls
		if o.Time < 0 {
			t.Errorf("op %s: negative time %v", o.Op, o.Time)
		}
	}
	if calls["add"] != 3 || calls["download"] != 1 || len(calls) != 2 {
		t.Errorf("profiled ops %v, want add ×3 and download ×1", calls)
	}
	if s.Total() <= 0 {
		t.Errorf("total device time %v, want > 0", s.Total())
	}
	table := s.String()
	for _, want := range []string{"| add | 3 |", "| download | 1 |", "3 dispatches, 1 transfers, 3 barriers, 1 submits"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	b.ResetStats()
	if s := b.Stats(); s.Dispatches != 0 || len(s.Ops) != 0 {
		t.Errorf("after ResetStats: %+v", s)
	}
}

// TestStatsWithoutProfile checks that counting works without profiling and
// takes no timestamps.
func TestStatsWithoutProfile(t *testing.T) {
	t.Setenv(gpu.EnvProfile, "")
	b := vktest.Open(t)
	x := alloc(t, b, 10)
	if err := b.Fill(x, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	s := b.Stats()
	if s.Profiling || len(s.Ops) != 0 || s.Dispatches != 1 || s.Transfers != 1 {
		t.Errorf("stats %+v, want 1 dispatch, 1 transfer (the zero fill), no profile", s)
	}
}

// TestOptimizerDistinctNoAllocs checks that the batched optimizers' check
// that entries do not share memory, run every training step, allocates
// nothing, and still finds a tensor given twice.
func TestOptimizerDistinctNoAllocs(t *testing.T) {
	b := vktest.Open(t)
	var ps, gs, ms, vs []*tensor.Tensor
	for i := range 11 {
		n := 100 + 37*i
		ps, gs, ms, vs = append(ps, alloc(t, b, n)), append(gs, alloc(t, b, n)), append(ms, alloc(t, b, n)), append(vs, alloc(t, b, n))
	}
	check := b.DistinctCheck(ps, gs, ms, vs)
	var err error
	if n := testing.AllocsPerRun(20, func() { err = check() }); n != 0 || err != nil {
		t.Errorf("distinct over 11 entries: %v allocations, error %v; want 0, nil", n, err)
	}
	ms[7] = vs[2]
	if err := b.DistinctCheck(ps, gs, ms, vs)(); !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "entry 7") {
		t.Errorf("entry 7's first moment is entry 2's second: error %v, want ErrParam naming entry 7", err)
	}
}

// TestBatchedOptimizerDispatches checks that AdamSteps over 11 parameters
// records ⌈11/BatchParams⌉ dispatches and no barrier between them.
func TestBatchedOptimizerDispatches(t *testing.T) {
	b := vktest.Open(t)
	np := b.BatchParams()
	if np < 1 {
		t.Fatalf("BatchParams = %d: lavapipe has shaderStorageBufferArrayDynamicIndexing, want ≥ 1", np)
	}
	var ps, gs, ms, vs []*tensor.Tensor
	for i := range 11 {
		n := 100 + 37*i
		ps, gs, ms, vs = append(ps, alloc(t, b, n)), append(gs, alloc(t, b, n)), append(ms, alloc(t, b, n)), append(vs, alloc(t, b, n))
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := b.AdamSteps(ps, gs, ms, vs, tensor.DefaultAdam(), 1); err != nil { // after the zero fills: one barrier
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	b.ResetStats()
	if err := b.AdamSteps(ps, gs, ms, vs, tensor.DefaultAdam(), 2); err != nil {
		t.Fatal(err)
	}
	want := (11 + np - 1) / np
	if s := b.Stats(); s.Dispatches != want || s.Barriers != 1 {
		t.Errorf("AdamSteps over 11 parameters: %d dispatches, %d barriers; want %d (%d per dispatch) and 1 (after the previous step)", s.Dispatches, s.Barriers, want, np)
	}
}
