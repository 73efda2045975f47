//go:build view

package viewer

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/testreq"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// GLFW wants the process's main thread: the main goroutine stays on it and
// runs what the tests send it.

func init() { runtime.LockOSThread() }

var mainThread = make(chan func())

func TestMain(m *testing.M) {
	done := make(chan int)
	go func() { done <- m.Run() }()
	for {
		select {
		case f := <-mainThread:
			f()
		case code := <-done:
			if late := vktest.Late(); len(late) > 0 {
				fmt.Fprintf(os.Stderr, "FAIL: %d Vulkan validation messages after their test finished:\n%s\n", len(late), strings.Join(late, "\n"))
				code = 1
			}
			os.Exit(code)
		}
	}
}

// onMain runs f on the main thread and waits for it.
func onMain(f func()) {
	ch := make(chan struct{})
	mainThread <- func() {
		defer close(ch)
		f()
	}
	<-ch
}

// needDisplay skips t without a display or the screenshot tools, unless
// VKCNN_REQUIRE_VULKAN=1 (CI), where they must be there.
func needDisplay(t *testing.T) {
	t.Helper()
	why := ""
	if os.Getenv("DISPLAY") == "" {
		why = "DISPLAY is not set (run under xvfb-run -a -s '-screen 0 1280x1024x24')"
	}
	for _, tool := range []string{"xwd", "convert"} {
		if _, err := exec.LookPath(tool); err != nil && why == "" {
			why = tool + " is not installed (Debian: x11-apps, imagemagick)"
		}
	}
	if why == "" {
		return
	}
	if vktest.Required() {
		t.Fatalf("the window test needs a display: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// debug collects Vulkan validation messages for t, like vktest, for the
// presenting device the viewer opens itself.
func debug(t *testing.T) gpu.Option {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	return gpu.Debug(func(m gpu.Message) {
		if m.Severity == gpu.SeverityWarning && m.ID == "Loader Message" && strings.HasPrefix(m.Text, "env var ") {
			return // how validation is switched on
		}
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Errorf("vulkan %v", m)
		}
	})
}

// screenshot returns the pixels of the X window id as the X server shows
// them.
func screenshot(id uint64) (image.Image, error) {
	xwd := exec.Command("xwd", "-silent", "-id", fmt.Sprint(id))
	var out, xwdErr, convErr bytes.Buffer
	conv := exec.Command("convert", "xwd:-", "png:-")
	var err error
	if conv.Stdin, err = xwd.StdoutPipe(); err != nil {
		return nil, err
	}
	conv.Stdout, conv.Stderr, xwd.Stderr = &out, &convErr, &xwdErr
	if err := conv.Start(); err != nil {
		return nil, err
	}
	if err := xwd.Run(); err != nil {
		conv.Wait()
		return nil, fmt.Errorf("xwd: %v: %s", err, xwdErr.String())
	}
	if err := conv.Wait(); err != nil {
		return nil, fmt.Errorf("convert: %v: %s", err, convErr.String())
	}
	return png.Decode(&out)
}

// compare counts the pixels of shot that differ from pix (packed in bgra
// order) by more than tol in a channel.
func compare(shot image.Image, pix []uint32, width, height int, bgra bool, tol int) (bad int, err error) {
	if b := shot.Bounds(); b.Dx() != width || b.Dy() != height {
		return 0, fmt.Errorf("screenshot is %v, want %d×%d", b, width, height)
	}
	for y := range height {
		for x := range width {
			r, g, b, _ := shot.At(x, y).RGBA()
			p := pix[y*width+x]
			wr, wg, wb := p&255, p>>8&255, p>>16&255
			if bgra {
				wr, wb = wb, wr
			}
			for _, d := range []int{int(r>>8) - int(wr), int(g>>8) - int(wg), int(b>>8) - int(wb)} {
				if d < -tol || d > tol {
					bad++
					break
				}
			}
		}
	}
	return bad, nil
}

// check grabs the window and compares it with the picture of the view's
// current state, retrying while the X server catches up. It returns the
// screenshot. It runs on the training goroutine, so it returns errors
// instead of failing t.
func check(t *testing.T, w *Window, tol int) (image.Image, error) {
	s := w.sess
	width, height := s.pres.Size()
	want := make([]uint32, width*height)
	if err := w.st.frameCPU(want, width, height, s.pres.BGRA()); err != nil {
		return nil, err
	}
	colours := map[uint32]bool{}
	for _, p := range want {
		colours[p] = true
	}
	if len(colours) < 50 {
		return nil, fmt.Errorf("the expected picture has only %d colours", len(colours))
	}
	var shot image.Image
	bad := -1
	for try := 0; try < 50 && bad != 0; try++ {
		if try > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		var err error
		if shot, err = screenshot(uint64(w.win.GetX11Window())); err != nil {
			return nil, err
		}
		if bad, err = compare(shot, want, width, height, s.pres.BGRA(), tol); err != nil {
			bad = -1
			t.Log(err)
		}
	}
	if bad != 0 {
		return nil, fmt.Errorf("the window shows %d pixels that differ from the composed %d×%d picture", bad, width, height)
	}
	// Filters where expected: the filter grid's first cell is a picture.
	c := w.st.content(w.st.series())
	f := find(layout(width, height, &c), opGrid, srcFilters)
	if f == nil {
		return nil, fmt.Errorf("the picture has no filters")
	}
	cell := map[uint32]bool{}
	for y := f.at.Y; y < f.at.Y+f.h*f.scale; y++ {
		for x := f.at.X; x < f.at.X+f.w*f.scale; x++ {
			r, g, b, _ := shot.At(x, y).RGBA()
			cell[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(cell) < 3 {
		return nil, fmt.Errorf("the first filter on screen has %d colours, want a picture", len(cell))
	}
	return shot, nil
}

// trainInWindow trains m on b (built here) under the window for steps
// steps of the lines set, calling during after every step on the training
// goroutine (an error from it ends training and fails t); it returns the
// number of steps trained.
func trainInWindow(t *testing.T, w *Window, m *nn.Sequential, b tensor.Backend, steps int, during func(nn.StepInfo) error) int {
	t.Helper()
	d, err := data.Lines(8*steps, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(b, tensor.Shape{1, data.LinesSize, data.LinesSize}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	trained := 0
	cfg := nn.FitConfig{Epochs: 1, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1}),
		OnStep: w.OnStep(func(i nn.StepInfo) error { trained++; return during(i) })}
	onMain(func() {
		err = w.Run(func() error {
			_, err := m.Fit(d, cfg)
			return err
		})
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return trained
}

// mnist returns the MNIST training set (from $VKCNN_DATA or the user cache,
// fetched there when missing), or skips tb when it cannot be had (fails it
// with VKCNN_REQUIRE_MNIST=1, see internal/testreq).
func mnist(tb testing.TB) *data.Dataset {
	tb.Helper()
	train, _, err := data.Load("mnist", data.Options{})
	if err != nil {
		testreq.Unavailable(tb, testreq.MNIST, "no MNIST: %v", err)
	}
	return train
}

// open opens a window on the main thread. An X server resets when its last
// client leaves, as when the previous test closed its window, and refuses
// connections meanwhile: open tries again for a while.
func open(opts Options) (*Window, error) {
	var w *Window
	var err error
	for try := 0; try < 20; try++ {
		if try > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		if onMain(func() { w, err = Open(opts) }); !errors.Is(err, ErrNoDisplay) || os.Getenv("DISPLAY") == "" {
			break
		}
	}
	return w, err
}

func openWindow(t *testing.T, opts Options) *Window {
	t.Helper()
	w, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { onMain(w.Close) })
	return w
}

// TestOpenNoDisplay opens a window without a display, in a child process
// (GLFW keeps its state per process): Open must fail, saying so.
func TestOpenNoDisplay(t *testing.T) {
	if os.Getenv("VKCNN_VIEWER_CHILD") == "1" {
		var err error
		onMain(func() {
			var w *Window
			if w, err = Open(Options{}); err == nil {
				w.Close()
			}
		})
		if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "display") {
			t.Fatalf("Open without a display: %v, want an ErrNoDisplay error that says so", err)
		}
		fmt.Println("child:", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenNoDisplay$", "-test.v")
	cmd.Env = append(os.Environ(), "VKCNN_VIEWER_CHILD=1", "DISPLAY=", "WAYLAND_DISPLAY=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: viewer: cannot open a window") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(bytes.SplitN(out, []byte("\n"), 3)[1]))
}

func TestOpenBadOptions(t *testing.T) {
	for _, o := range []Options{{Width: -1}, {Height: -5}, {Interval: -time.Second}, {Inputs: -1}} {
		if _, err := Open(o); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("Open(%+v) = %v, want ErrParam", o, err)
		}
	}
}

// TestWindowCPU trains on the CPU backend: the view composes on the CPU and
// presents on a Vulkan device of its own. It checks the window's pixels,
// resizes the window and checks them again, then closes the window and
// checks that training went on.
func TestWindowCPU(t *testing.T) {
	needDisplay(t)
	w := openWindow(t, Options{Width: 640, Height: 400, Interval: time.Nanosecond, Inputs: 6, Vulkan: []gpu.Option{debug(t)}})
	m, _ := nn.Parse(testSpec)
	m, err := w.Watch(m)
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	var resize atomic.Bool
	w.mainHook = func(win *glfw.Window) {
		if resize.CompareAndSwap(true, false) {
			win.SetSize(500, 300)
		}
	}
	phase, last, closedAt := 0, 0, 0
	trained := trainInWindow(t, w, m, b, 40, func(i nn.StepInfo) error {
		if w.frames == last || w.sess == nil {
			return nil // no new picture in this step
		}
		last = w.frames
		w.next = time.Time{} // the next step shows a picture too, however long this took
		switch phase {
		case 0:
			if w.sess.canvas != nil || w.sess.private == nil {
				t.Errorf("CPU training composes on the GPU (canvas %v, private device %v)", w.sess.canvas != nil, w.sess.private != nil)
			}
			if pw, ph := w.sess.pres.Size(); pw != 640 || ph != 400 {
				t.Errorf("swapchain %d×%d, want 640×400", pw, ph)
			}
			if _, err := check(t, w, 0); err != nil {
				return err
			}
			resize.Store(true)
			// Wait for the window manager's answer, so that the next step
			// shows the new size.
			for try := 0; try < 100 && w.fbW.Load() != 500; try++ {
				time.Sleep(50 * time.Millisecond)
			}
			phase++
		case 1:
			if pw, ph := w.sess.pres.Size(); pw == 500 && ph == 300 {
				if _, err := check(t, w, 0); err != nil {
					return err
				}
				w.win.SetShouldClose(true) // as if the user closed it
				closedAt = i.Step
				phase++
			}
		}
		return nil
	})
	if phase != 2 {
		t.Fatalf("reached phase %d of 2 (0: first picture, 1: resized picture)", phase)
	}
	if trained != 40 || closedAt >= 40 {
		t.Errorf("trained %d steps, the window closed after step %d; want 40 steps, the close before the end", trained, closedAt)
	}
	if w.win != nil || w.sess != nil {
		t.Error("the window or its presenter is still open after Run")
	}
}

// TestWindowGPU trains on a Vulkan backend. Opened with VulkanOptions, the
// view composes with the view_compose shader on that device and presents
// there; opened without them, it composes on the CPU from the device's
// tensors and presents on a device of its own.
func TestWindowGPU(t *testing.T) {
	needDisplay(t)
	for _, present := range []bool{true, false} {
		t.Run(fmt.Sprintf("present=%v", present), func(t *testing.T) {
			w := openWindow(t, Options{Width: 600, Height: 420, Interval: time.Nanosecond, Vulkan: []gpu.Option{debug(t)}})
			var opts []gpu.Option
			if present {
				opts = w.VulkanOptions()
			}
			b := vktest.Open(t, opts...)
			m, _ := nn.Parse(testSpec)
			m, err := w.Watch(m)
			if err != nil {
				t.Fatal(err)
			}
			checked, last := false, 0
			trainInWindow(t, w, m, b, 6, func(i nn.StepInfo) error {
				w.next = time.Time{} // a picture at every step
				if checked || w.frames == last {
					return nil // none shown in this step
				}
				last = w.frames
				if i.Step < 3 {
					return nil
				}
				if onDevice := w.sess.canvas != nil && w.sess.private == nil; onDevice != present {
					t.Errorf("composing on the training device: %v, want %v", onDevice, present)
				}
				checked = true
				_, err := check(t, w, 1)
				return err
			})
			if !checked {
				t.Fatal("no picture was shown")
			}
		})
	}
}

// cnnSpec is the CLI's "cnn" preset.
const cnnSpec = "conv(1,8,3,p1) relu maxpool(2) conv(8,16,3,p1) relu maxpool(2) flatten dense(784,64) relu dense(64,10)"

// TestScreenshot writes the README's screenshot: a CNN learning MNIST. It
// runs only when VKCNN_VIEWER_SCREENSHOT names the PNG to write.
func TestScreenshot(t *testing.T) {
	out := os.Getenv("VKCNN_VIEWER_SCREENSHOT")
	if out == "" {
		t.Skip("set VKCNN_VIEWER_SCREENSHOT=docs/viewer.png to make the screenshot")
	}
	needDisplay(t)
	train := mnist(t)
	w := openWindow(t, Options{Width: 960, Height: 640, Inputs: 16})
	m, _ := nn.Parse(cnnSpec)
	m, err := w.Watch(m)
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	if err := m.Build(b, tensor.Shape{1, 28, 28}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	const steps = 250
	cfg := nn.FitConfig{Epochs: 1, BatchSize: 32, Shuffle: true, Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewAdam(tensor.DefaultAdam()),
		OnStep: w.OnStep(func(i nn.StepInfo) error {
			if i.Step < steps {
				return nil
			}
			if err := w.update(); err != nil { // show the last step
				return err
			}
			shot, err := check(t, w, 0)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, shot); err != nil {
				return err
			}
			tmp := out + ".tmp"
			if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			t.Logf("wrote %s", filepath.Clean(out))
			return nn.ErrStop
		})}
	onMain(func() {
		err = w.Run(func() error {
			_, err := m.Fit(&data.Dataset{Images: train.Images[:steps*32*784], Labels: train.Labels[:steps*32]}, cfg)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTrainView measures the cost of the view: epochs of the MNIST
// CNN (batch 32; 250 steps, 8,000 digits, on the CPU, and
// 40 on Vulkan) with the window off and on, alternating so that both see
// the same machine load, on the CPU backend and on the Vulkan backend. It
// reports ms/step of each and the slowdown in percent. Window, device and
// model set-up are not timed; the view's own start (its presenting device,
// swapchain and pipelines) and end are.
func BenchmarkTrainView(b *testing.B) {
	if os.Getenv("DISPLAY") == "" {
		b.Skip("DISPLAY is not set (run under xvfb-run -a)")
	}
	train := mnist(b)
	const batch = 32
	for _, backend := range []string{"cpu", "vulkan"} {
		steps := 250
		if backend == "vulkan" {
			steps = 40
		}
		d := &data.Dataset{Images: train.Images[:steps*batch*784], Labels: train.Labels[:steps*batch]}
		b.Run(backend, func(b *testing.B) {
			var off, on time.Duration
			pictures := 0
			for i := range b.N {
				for _, view := range []bool{i%2 == 0, i%2 != 0} {
					took, shown := benchEpoch(b, backend, view, d, batch)
					if view {
						on += took
						pictures += shown
					} else {
						off += took
					}
				}
			}
			perStep := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N*steps) }
			b.ReportMetric(perStep(off), "ms/step-off")
			b.ReportMetric(perStep(on), "ms/step-on")
			b.ReportMetric(100*(float64(on)/float64(off)-1), "%slowdown")
			b.ReportMetric(float64(pictures)/float64(b.N), "pictures/epoch")
		})
	}
}

// benchEpoch sets up a backend, the model and, with view, a window, then
// times one epoch of training over d. It returns the time and the pictures
// shown.
func benchEpoch(b *testing.B, backend string, view bool, d *data.Dataset, batch int) (time.Duration, int) {
	var w *Window
	var err error
	var opts []gpu.Option
	if view {
		if w, err = open(Options{Width: 960, Height: 640}); err != nil {
			b.Fatal(err)
		}
		defer onMain(w.Close)
		opts = w.VulkanOptions()
	}
	var be tensor.Backend = cpu.New()
	if backend == "vulkan" {
		g, err := gpu.New(append(opts, gpu.AllowSoftware())...)
		if err != nil {
			b.Skipf("no Vulkan: %v", err)
		}
		be = g
	}
	defer be.Close()
	m, _ := nn.Parse(cnnSpec)
	if view {
		if m, err = w.Watch(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Build(be, tensor.Shape{1, 28, 28}, 1); err != nil {
		b.Fatal(err)
	}
	defer m.Free()
	cfg := nn.FitConfig{Epochs: 1, BatchSize: batch, Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.05})}
	fit := func() error { _, err := m.Fit(d, cfg); return err }
	start := time.Now()
	if view {
		cfg.OnStep = w.OnStep(nil)
		onMain(func() { err = w.Run(fit) })
	} else {
		err = fit()
	}
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if view {
		return took, w.frames
	}
	return took, 0
}
