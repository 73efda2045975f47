//go:build view

package viewer

/*
#include <stdint.h>
#include <stddef.h>

// GLFW's own functions, compiled into the binary by package glfw. They are
// called directly because glfw.Init cannot report a failed initialization
// and glfw.Window.CreateWindowSurface returns the surface's address, not the
// surface.
extern int glfwInit(void);
extern int glfwGetError(const char** description);
extern int32_t glfwCreateWindowSurface(void* instance, void* window, const void* allocator, uint64_t* surface);

// vkcnn_glfw_init initializes GLFW and returns 1, or 0 with *why set.
static int vkcnn_glfw_init(const char** why) {
	if (glfwInit()) return 1;
	glfwGetError(why);
	return 0;
}

static int32_t vkcnn_glfw_surface(void* instance, void* window, uint64_t* surface) {
	return glfwCreateWindowSurface(instance, window, NULL, surface);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// Window is the live training window. Open, Run and Close run on the main
// thread; the callback from OnStep runs on the training goroutine that Run
// starts. A nil *Window is no window: its methods pass everything through,
// so a program can call them whether or not it opened one. (Without the
// build tag "view", Window has the same methods but Open always fails.)
type Window struct {
	opts Options
	win  *glfw.Window
	exts []string // the instance extensions GLFW's surfaces need

	// Shared by the main thread and the training goroutine.
	fbW, fbH    atomic.Int32  // the framebuffer's size in pixels
	closing     atomic.Bool   // the user closed the window
	released    chan struct{} // closed once the training goroutine let go of the window
	releaseOnce sync.Once
	title       atomic.Pointer[string] // the progress to show in the title

	// The training goroutine's.
	st     *state
	sess   *session
	next   time.Time // no picture before
	err    error     // the view's failure, reported by Run
	frames int       // pictures shown

	// mainHook, when set (by tests), runs on the main thread at every turn
	// of Run's event loop while the window is open.
	mainHook func(*glfw.Window)
}

// session is what presenting needs: the presenter and, on the GPU path, the
// canvas on the training backend, or on the CPU path, the viewer's own
// Vulkan backend and the host pixels.
type session struct {
	pres    *gpu.Presenter
	canvas  *gpuCanvas   // GPU path
	private *gpu.Backend // CPU path: the presenting device
	pix     []uint32     // CPU path
}

// Open initializes GLFW and opens the window, which stays empty until
// training reports its first step. It must be called on the main thread
// (lock it with runtime.LockOSThread in an init function of package main),
// and only one Window may be open at a time. It returns an ErrNoDisplay
// error saying why when there is no display or no Vulkan loader, and a
// tensor.ErrParam error for a negative size, interval or input count.
func Open(opts Options) (*Window, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var why *C.char
	if C.vkcnn_glfw_init(&why) == 0 {
		unset := ""
		if runtime.GOOS != "windows" && runtime.GOOS != "darwin" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			unset = "DISPLAY is not set; "
		}
		return nil, fmt.Errorf("viewer: cannot open a window: %sGLFW: %s; on a machine without a screen, run under xvfb-run: %w",
			unset, strings.TrimSpace(C.GoString(why)), ErrNoDisplay)
	}
	if !glfw.VulkanSupported() {
		glfw.Terminate()
		return nil, fmt.Errorf("viewer: GLFW found no Vulkan loader to present with (install libvulkan1 and a driver): %w", ErrNoDisplay)
	}
	exts := (*glfw.Window)(nil).GetRequiredInstanceExtensions()
	if len(exts) == 0 {
		glfw.Terminate()
		return nil, fmt.Errorf("viewer: the Vulkan loader offers no window surface extensions for this display: %w", ErrNoDisplay)
	}
	glfw.WindowHint(glfw.ClientAPI, glfw.NoAPI)
	glfw.WindowHint(glfw.Resizable, glfw.True)
	win, err := glfw.CreateWindow(opts.Width, opts.Height, opts.Title, nil, nil)
	if err != nil {
		glfw.Terminate()
		return nil, fmt.Errorf("viewer: creating the window: %v: %w", err, ErrNoDisplay)
	}
	w := &Window{opts: opts, win: win, exts: exts, released: make(chan struct{})}
	fw, fh := win.GetFramebufferSize()
	w.fbW.Store(int32(fw))
	w.fbH.Store(int32(fh))
	win.SetFramebufferSizeCallback(func(_ *glfw.Window, width, height int) {
		w.fbW.Store(int32(width))
		w.fbH.Store(int32(height))
	})
	return w, nil
}

// VulkanOptions returns the gpu options that let a Vulkan backend present
// to the window: GLFW's surface instance extensions and the swapchain
// extension. Pass them when opening the training backend (for example with
// vkcnn.WithVulkanOptions) so that the picture is composed on the device
// that trains; without them the viewer composes on the CPU and presents on
// a Vulkan device of its own.
func (w *Window) VulkanOptions() []gpu.Option {
	if w == nil {
		return nil
	}
	return []gpu.Option{gpu.InstanceExtensions(w.exts...), gpu.DeviceExtensions(gpu.SwapchainExtension)}
}

// Watch returns a copy of the unbuilt model m whose first convolution the
// view watches (its input batch, filters and feature maps); build and train
// the returned model. The copy shares m's layers, computes the same results
// and saves to the same files. A model without a convolution shows only the
// loss. It returns a tensor.ErrParam error when m is nil or already built.
func (w *Window) Watch(m *nn.Sequential) (*nn.Sequential, error) {
	if w == nil {
		return m, nil
	}
	wm, t, layer, err := watch(m)
	if err != nil {
		return nil, err
	}
	w.st = &state{model: wm, tap: t, layer: layer, inputs: w.opts.Inputs}
	return wm, nil
}

// OnStep returns the callback for nn.FitConfig.OnStep: it updates the view
// (when the window is open and the last picture is old enough), then calls
// next, if not nil, and returns its result. It never stops training itself:
// a failure of the view closes the window and Run reports it. The callback
// runs on the training goroutine and does all GPU work there.
func (w *Window) OnStep(next func(nn.StepInfo) error) func(nn.StepInfo) error {
	if w == nil {
		return next
	}
	return func(info nn.StepInfo) error {
		w.step(info)
		if next != nil {
			return next(info)
		}
		return nil
	}
}

// step records a training step and shows a picture when one is due.
func (w *Window) step(info nn.StepInfo) {
	if w.st == nil {
		w.st = &state{layer: -1, inputs: w.opts.Inputs}
	}
	w.st.record(info)
	title := fmt.Sprintf("%s — epoch %d/%d, step %d/%d, loss %.4f", w.opts.Title, info.Epoch, info.Epochs, info.Step, info.Steps, info.Loss)
	w.title.Store(&title)
	if w.closing.Load() {
		w.release()
		return
	}
	if w.err != nil || time.Now().Before(w.next) {
		return
	}
	start := time.Now()
	if err := w.update(); err != nil {
		w.err = err
		w.closing.Store(true)
		w.release()
		return
	}
	w.next = start.Add(max(w.opts.Interval, 19*time.Since(start)))
}

// update composes and presents one picture.
func (w *Window) update() error {
	if w.sess == nil {
		s, err := w.open()
		if err != nil {
			return err
		}
		w.sess = s
	}
	s := w.sess
	for attempt := 0; attempt < 2; attempt++ {
		fw, fh := int(w.fbW.Load()), int(w.fbH.Load())
		if fw < 1 || fh < 1 {
			return nil // minimized
		}
		if pw, ph := s.pres.Size(); pw != fw || ph != fh {
			if err := s.pres.Resize(fw, fh); err != nil {
				return fmt.Errorf("viewer: resizing the swapchain: %w", err)
			}
		}
		pw, ph := s.pres.Size()
		if pw < 1 || ph < 1 {
			return nil
		}
		var shown bool
		var err error
		if s.canvas != nil {
			var img *tensor.Tensor
			if img, err = w.st.frameGPU(s.canvas, pw, ph, s.pres.BGRA()); err == nil {
				shown, err = s.pres.Present(img)
			}
		} else {
			if len(s.pix) != pw*ph {
				s.pix = make([]uint32, pw*ph)
			}
			if err = w.st.frameCPU(s.pix, pw, ph, s.pres.BGRA()); err == nil {
				shown, err = s.pres.PresentPixels(s.pix)
			}
		}
		if err != nil {
			return fmt.Errorf("viewer: showing the picture: %w", err)
		}
		if shown {
			w.frames++
			return nil
		}
		if nw, nh := s.pres.Size(); nw == pw && nh == ph {
			return nil // skipped without a resize: try at the next picture
		}
	}
	return nil
}

// open makes the session: on the training backend when it is a Vulkan
// backend that can present to the window (opened with VulkanOptions), else
// on a Vulkan device of the viewer's own.
func (w *Window) open() (*session, error) {
	fw, fh := max(int(w.fbW.Load()), 1), max(int(w.fbH.Load()), 1)
	if w.st.model != nil {
		if b, ok := w.st.model.Backend().(*gpu.Backend); ok {
			pres, err := w.presenter(b, fw, fh)
			if err == nil {
				return &session{pres: pres, canvas: &gpuCanvas{b: b}}, nil
			}
			if !errors.Is(err, tensor.ErrUnsupported) {
				return nil, err
			}
		}
	}
	// A device of the viewer's own: the first that can present to the
	// window, hardware before software.
	devs, err := gpu.Devices()
	if err != nil {
		return nil, fmt.Errorf("viewer: no Vulkan device to present with: %w", err)
	}
	sort.SliceStable(devs, func(i, j int) bool { return !devs[i].Software && devs[j].Software })
	var errs []error
	for _, d := range devs {
		if !d.Compute {
			continue
		}
		opts := append([]gpu.Option{gpu.Device(strconv.Itoa(d.Index))}, w.VulkanOptions()...)
		b, err := gpu.New(append(opts, w.opts.Vulkan...)...)
		if err == nil {
			var pres *gpu.Presenter
			if pres, err = w.presenter(b, fw, fh); err == nil {
				return &session{pres: pres, private: b}, nil
			}
			b.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no Vulkan device can compute: %w", tensor.ErrNoDevice))
	}
	return nil, fmt.Errorf("viewer: no Vulkan device can present to the window: %w", errors.Join(errs...))
}

// presenter creates the window's surface on b's instance and a presenter
// for it. Errors wrap tensor.ErrUnsupported when b cannot present to the
// window: it was opened without VulkanOptions, or its queue cannot present.
func (w *Window) presenter(b *gpu.Backend, width, height int) (*gpu.Presenter, error) {
	// Asking GLFW for a surface on an instance without the extensions would
	// leave an error in package glfw that its next call on the main thread
	// turns into a panic, so check first.
	have := b.Extensions()
	for _, ext := range append([]string{gpu.SwapchainExtension}, w.exts...) {
		if !slices.Contains(have, ext) {
			return nil, fmt.Errorf("viewer: the Vulkan backend was opened without %s (see Window.VulkanOptions): %w", ext, tensor.ErrUnsupported)
		}
	}
	var surface C.uint64_t
	if r := int32(C.vkcnn_glfw_surface(b.Instance(), w.win.Handle(), &surface)); r != 0 {
		return nil, fmt.Errorf("viewer: %w", &gpu.ResultError{Op: "glfwCreateWindowSurface", Code: r})
	}
	return b.NewPresenter(uint64(surface), width, height)
}

// release lets go of the window on the training goroutine: it destroys the
// presenter (swapchain and surface) and what the session owns, then tells
// the main thread that the window may go. Releasing twice is a no-op.
func (w *Window) release() {
	w.releaseOnce.Do(func() {
		if s := w.sess; s != nil {
			err := s.pres.Close()
			if s.canvas != nil {
				err = errors.Join(err, s.canvas.free())
			}
			if s.private != nil {
				err = errors.Join(err, s.private.Close())
			}
			if err != nil && w.err == nil {
				w.err = fmt.Errorf("viewer: closing the view: %w", err)
			}
			w.sess = nil
		}
		close(w.released)
		glfw.PostEmptyEvent()
	})
}

// Run calls train on a new goroutine and, on the calling goroutine (the main
// thread), processes the window's events until train returns, then closes
// the window. Closing the window earlier stops the view but not the
// training. The backend the model trains on must stay open until Run
// returns. Run returns train's error or, when training succeeded, the error
// that stopped the view, if any.
func (w *Window) Run(train func() error) error {
	if w == nil {
		return train()
	}
	done := make(chan error, 1)
	go func() {
		err := train()
		w.release() // wakes the event loop; GLFW is still initialized
		done <- err
	}()
	shown := ""
	for w.win != nil {
		select {
		case err := <-done:
			w.destroy()
			return w.result(err)
		case <-w.released:
			w.destroy() // the training goroutine let go of it
			continue
		default:
		}
		if w.win.ShouldClose() && !w.closing.Load() {
			w.closing.Store(true)
			w.win.Hide()
		}
		if t := w.title.Load(); t != nil && *t != shown {
			shown = *t
			w.win.SetTitle(shown)
		}
		if w.mainHook != nil {
			w.mainHook(w.win)
		}
		glfw.WaitEventsTimeout(0.1)
	}
	return w.result(<-done)
}

// result combines the training error and the view's.
func (w *Window) result(trainErr error) error {
	if trainErr != nil {
		return trainErr
	}
	return w.err
}

// destroy destroys the window; the training goroutine has let go of it.
func (w *Window) destroy() {
	if w.win != nil {
		w.win.Destroy()
		w.win = nil
	}
}

// Close destroys the window and terminates GLFW, on the main thread, after
// Run returned (or instead of Run, when training did not start). Closing
// twice is a no-op.
func (w *Window) Close() {
	if w == nil || w.win == nil && w.released == nil {
		return
	}
	w.release()
	w.destroy()
	w.released = nil
	glfw.Terminate()
}
