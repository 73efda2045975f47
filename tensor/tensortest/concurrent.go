package tensortest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// Concurrent checks that every method of b may be called from many goroutines
// at once (the contract's concurrency rule) and that each goroutine gets
// exactly the results a serial run of the same work gets. It runs three
// subtests, each first serially to get the reference results, then with
// ConcurrentGoroutines goroutines at once:
//
//   - SharedInput: every goroutine runs 50 Conv2D calls on one shared input,
//     kernel and bias into its own output, then downloads it (the program of
//     issue 14, which crashed or hung the Vulkan backend).
//   - AllocFree: 30 rounds per goroutine of Alloc, Upload, Conv2D, Download
//     and Free.
//   - Mixed: rounds of a small forward and backward pass (Conv2D, AddBias,
//     ReLU, MaxPool2D, Reshape, MatMul, Softmax, SoftmaxCrossEntropy,
//     BiasGrad, Conv2DInputGrad, Conv2DKernelGrad, Sum, Fill, Copy, Sync,
//     a scalar Download mid-way), freeing its tensors as it goes.
//
// Results must match the serial run bit for bit, except Conv2DKernelGrad,
// which may sum its batch in a scheduling-dependent order (the CPU backend
// hands images to workers dynamically) and is compared within Tolerance. Run
// it under the race detector; it keeps the work small enough for that.
func Concurrent(t *testing.T, b tensor.Backend, dt tensor.DType) {
	t.Run("SharedInput", func(t *testing.T) { concurrentSharedInput(t, b, dt) })
	t.Run("AllocFree", func(t *testing.T) { concurrentAllocFree(t, b, dt) })
	t.Run("Mixed", func(t *testing.T) { concurrentMixed(t, b, dt) })
}

// ConcurrentGoroutines is how many goroutines Concurrent runs at once.
const ConcurrentGoroutines = 8

// worker runs backend calls on one goroutine and keeps the first error.
type worker struct {
	b   tensor.Backend
	dt  tensor.DType
	err error
	// live are the tensors allocated and not freed yet.
	live []*tensor.Tensor
	// out collects the results, by name.
	out map[string][]float64
	// approx names the results compared within Tolerance.
	approx map[string]bool
}

func newWorker(b tensor.Backend, dt tensor.DType) *worker {
	return &worker{b: b, dt: dt, out: map[string][]float64{}, approx: map[string]bool{}}
}

// check records err, annotated with what, if it is the first.
func (w *worker) check(what string, err error) {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("%s: %w", what, err)
	}
}

// alloc allocates a tensor, or returns nil after an error.
func (w *worker) alloc(shape ...int) *tensor.Tensor {
	if w.err != nil {
		return nil
	}
	x, err := w.b.Alloc(w.dt, tensor.Shape(shape))
	w.check(fmt.Sprintf("alloc %v", shape), err)
	if x != nil {
		w.live = append(w.live, x)
	}
	return x
}

// from allocates a tensor holding data.
func (w *worker) from(data []float64, shape ...int) *tensor.Tensor {
	x := w.alloc(shape...)
	if x != nil {
		w.upload(x, data)
	}
	return x
}

func (w *worker) upload(x *tensor.Tensor, data []float64) {
	if w.err != nil {
		return
	}
	if x.DType() == tensor.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		w.check("upload", w.b.Upload(x, f))
		return
	}
	w.check("upload", w.b.Upload(x, append([]float64(nil), data...)))
}

// read downloads x into w.out[name].
func (w *worker) read(name string, x *tensor.Tensor) {
	if w.err != nil {
		return
	}
	out := make([]float64, x.Len())
	if x.DType() == tensor.Float32 {
		f := make([]float32, x.Len())
		w.check("download "+name, w.b.Download(f, x))
		for i, v := range f {
			out[i] = float64(v)
		}
	} else {
		w.check("download "+name, w.b.Download(out, x))
	}
	w.out[name] = out
}

// op runs one backend call unless an earlier one failed.
func (w *worker) op(name string, f func() error) {
	if w.err == nil {
		w.check(name, f())
	}
}

// free frees x now.
func (w *worker) free(x *tensor.Tensor) {
	if x == nil {
		return
	}
	for i, l := range w.live {
		if l == x {
			w.live = append(w.live[:i], w.live[i+1:]...)
			break
		}
	}
	w.check("free", x.Free())
}

// freeAll frees every tensor still live.
func (w *worker) freeAll() {
	for _, x := range w.live {
		if !x.Freed() {
			w.check("free", x.Free())
		}
	}
	w.live = nil
}

// runConcurrently runs job(g) serially for g in [0, ConcurrentGoroutines),
// then again with every g on its own goroutine at once, and fails t unless
// each concurrent result equals the serial one.
func runConcurrently(t *testing.T, b tensor.Backend, dt tensor.DType, job func(w *worker, g int)) {
	t.Helper()
	const n = ConcurrentGoroutines
	serial := make([]*worker, n)
	for g := range serial {
		serial[g] = newWorker(b, dt)
		job(serial[g], g)
		serial[g].freeAll()
		if serial[g].err != nil {
			t.Fatalf("serial run %d: %v", g, serial[g].err)
		}
	}
	conc := make([]*worker, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range conc {
		conc[g] = newWorker(b, dt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					conc[g].err = errors.Join(conc[g].err, fmt.Errorf("panic: %v", r))
				}
			}()
			<-start
			job(conc[g], g)
			conc[g].freeAll()
		}()
	}
	close(start)
	wg.Wait()
	if err := b.Sync(); err != nil {
		t.Fatalf("sync after the concurrent run: %v", err)
	}
	tol := Tolerance(dt)
	for g := range conc {
		if conc[g].err != nil {
			t.Errorf("goroutine %d: %v", g, conc[g].err)
			continue
		}
		want, got := serial[g].out, conc[g].out
		if len(got) != len(want) {
			t.Errorf("goroutine %d: %d results, the serial run had %d", g, len(got), len(want))
		}
		for name, ref := range want {
			v := got[name]
			if len(v) != len(ref) {
				t.Errorf("goroutine %d: %s has %d values, the serial run %d", g, name, len(v), len(ref))
				continue
			}
			mag := 0.0
			for _, r := range ref {
				mag += math.Abs(r)
			}
			for i := range ref {
				same := math.Float64bits(v[i]) == math.Float64bits(ref[i])
				if !same && serial[g].approx[name] {
					same = math.Abs(v[i]-ref[i]) <= tol.Rel*mag+tol.Abs
				}
				if !same {
					t.Errorf("goroutine %d: %s[%d] = %v, the serial run gave %v", g, name, i, v[i], ref[i])
					break
				}
			}
		}
	}
}

// concurrentSharedInput is the program of issue 14: goroutines share the
// input, kernel and bias and each runs Conv2D into its own output.
func concurrentSharedInput(t *testing.T, b tensor.Backend, dt tensor.DType) {
	r := newRand(1401)
	shared := newWorker(b, dt)
	x := shared.from(dyadic(r, 2*3*12*12), 2, 3, 12, 12)
	k := shared.from(dyadic(r, 4*3*3*3), 4, 3, 3, 3)
	bias := shared.from(dyadic(r, 4), 4)
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	defer shared.freeAll()
	p := tensor.DefaultConv2D()
	p.Pad = [2]int{1, 1}
	runConcurrently(t, b, dt, func(w *worker, g int) {
		y := w.alloc(2, 4, 12, 12)
		for i := range 50 {
			w.op(fmt.Sprintf("conv2d %d", i), func() error { return b.Conv2D(y, x, k, bias, p) })
		}
		w.read("y", y)
	})
}

// concurrentAllocFree runs rounds of Alloc, Upload, Conv2D, Download, Free.
func concurrentAllocFree(t *testing.T, b tensor.Backend, dt tensor.DType) {
	p := tensor.DefaultConv2D()
	p.Stride, p.Pad = [2]int{2, 1}, [2]int{1, 0}
	runConcurrently(t, b, dt, func(w *worker, g int) {
		r := newRand(uint64(1402 + g))
		for round := range 30 {
			x := w.from(dyadic(r, 2*3*9*8), 2, 3, 9, 8)
			k := w.from(dyadic(r, 5*3*3*3), 5, 3, 3, 3)
			y := w.alloc(2, 5, 5, 6)
			w.op("conv2d", func() error { return b.Conv2D(y, x, k, nil, p) })
			w.read(fmt.Sprintf("y%d", round), y)
			w.free(x)
			w.free(k)
			w.free(y)
		}
	})
}

// concurrentMixed runs rounds of a small training step made of many ops.
func concurrentMixed(t *testing.T, b tensor.Backend, dt tensor.DType) {
	cp := tensor.DefaultConv2D()
	cp.Pad = [2]int{1, 1}
	pp := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
	runConcurrently(t, b, dt, func(w *worker, g int) {
		r := newRand(uint64(1410 + g))
		const n, c, h, k, classes = 3, 2, 6, 4, 5
		feat := k * (h / 2) * (h / 2)
		for round := range 6 {
			name := func(s string) string { return fmt.Sprintf("%s%d", s, round) }
			x := w.from(dyadic(r, n*c*h*h), n, c, h, h)
			wk := w.from(dyadic(r, k*c*3*3), k, c, 3, 3)
			bk := w.from(dyadic(r, k), k)
			wd := w.from(dyadic(r, feat*classes), feat, classes)
			target := make([]float64, n*classes)
			for i := range n {
				target[i*classes+r.IntN(classes)] = 1
			}
			tgt := w.from(target, n, classes)
			conv := w.alloc(n, k, h, h)
			act := w.alloc(n, k, h, h)
			pool := w.alloc(n, k, h/2, h/2)
			logits := w.alloc(n, classes)
			probs := w.alloc(n, classes)
			loss := w.alloc(1)
			grad := w.alloc(n, classes)
			w.op("conv2d", func() error { return b.Conv2D(conv, x, wk, nil, cp) })
			w.op("add bias", func() error { return b.AddBias(conv, conv, bk) })
			w.op("relu", func() error { return b.ReLU(act, conv) })
			w.op("max pool", func() error { return b.MaxPool2D(pool, act, pp) })
			var flat *tensor.Tensor
			w.op("reshape", func() (err error) {
				flat, err = pool.Reshape(tensor.Shape{n, feat})
				return err
			})
			w.op("matmul", func() error { return b.MatMul(logits, flat, wd, false, false) })
			w.op("softmax", func() error { return b.Softmax(probs, logits) })
			w.op("cross-entropy", func() error { return b.SoftmaxCrossEntropy(loss, grad, logits, tgt) })
			w.read(name("loss"), loss)
			w.read(name("probs"), probs)
			// Backward through the dense layer and the convolution.
			dflat := w.alloc(n, feat)
			dwd := w.alloc(feat, classes)
			w.op("matmul dx", func() error { return b.MatMul(dflat, grad, wd, false, true) })
			w.op("matmul dw", func() error { return b.MatMul(dwd, flat, grad, true, false) })
			w.free(logits)
			w.free(probs)
			dpool, dact, dconv := w.alloc(n, k, h/2, h/2), w.alloc(n, k, h, h), w.alloc(n, k, h, h)
			w.op("copy", func() error { return b.Copy(dpool, dflat) })
			w.op("max pool backward", func() error { return b.MaxPool2DBackward(dact, dpool, act, pp) })
			w.op("relu backward", func() error { return b.ReLUBackward(dconv, dact, conv) })
			dx, dwk, dbk := w.alloc(n, c, h, h), w.alloc(k, c, 3, 3), w.alloc(k)
			w.op("input grad", func() error { return b.Conv2DInputGrad(dx, dconv, wk, cp) })
			w.op("kernel grad", func() error { return b.Conv2DKernelGrad(dwk, x, dconv, cp) })
			w.op("bias grad", func() error { return b.BiasGrad(dbk, dconv) })
			total := w.alloc(c)
			w.op("sum", func() error { return b.Sum(total, dx, 0, 2, 3) })
			w.op("fill", func() error { return b.Fill(x, float64(round)) })
			w.op("scale", func() error { return b.Scale(dwd, dwd, 0.5) })
			w.op("sync", b.Sync)
			w.read(name("dwd"), dwd)
			w.read(name("dx"), dx)
			w.read(name("dwk"), dwk)
			w.approx[name("dwk")] = true
			w.read(name("dbk"), dbk)
			w.read(name("sum"), total)
			w.read(name("x"), x)
			w.freeAll()
		}
	})
}

// ConcurrentClose closes b while ConcurrentGoroutines goroutines call ops on
// it: every call must succeed or fail with an error wrapping
// tensor.ErrClosed, none may panic, and freeing tensors afterwards must not
// fail. It leaves b closed.
func ConcurrentClose(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const n = ConcurrentGoroutines
	errs := make([]error, n)
	started := make(chan struct{}, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs[g] = fmt.Errorf("panic: %v", r)
				}
			}()
			w := newWorker(b, dt)
			r := newRand(uint64(1420 + g))
			for i := 0; w.err == nil; i++ {
				x := w.from(dyadic(r, 64), 8, 8)
				y := w.alloc(8, 8)
				w.op("relu", func() error { return b.ReLU(y, x) })
				w.op("matmul", func() error { return b.MatMul(y, x, x, false, true) })
				if y != nil {
					w.read("y", y)
				}
				if i == 0 {
					started <- struct{}{}
				}
				if i%2 == 0 {
					w.freeAll()
				}
			}
			if !errors.Is(w.err, tensor.ErrClosed) {
				errs[g] = fmt.Errorf("an error that does not wrap ErrClosed: %w", w.err)
			}
			for _, x := range w.live {
				if err := x.Free(); err != nil {
					errs[g] = errors.Join(errs[g], fmt.Errorf("free %v after close: %w", x, err))
				}
			}
		}()
	}
	for range n {
		<-started
	}
	if err := b.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
}
