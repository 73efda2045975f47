// Package viewer is a live training window: while nn.Sequential.Fit runs, it
// shows the current input batch, the first convolution's filters, the
// feature maps of one input and the loss curve, updated a few times per
// second.
//
// The window itself (Open, Window) needs GLFW, which cgo compiles from C
// against the X11 headers, so it is built only with the build tag "view":
//
//	go build -tags view ./cmd/vkcnn
//
// Debian packages for that build: libx11-dev libxcursor-dev libxrandr-dev
// libxinerama-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev. Without the tag
// the package holds only the picture composition and a Window whose Open
// says that the program was built without a window; it needs no GLFW and no
// X11, so a program can import it unconditionally and the rest of vkcnn
// never needs them. Example shows how a program (vkcnn train --view) uses
// the window.
//
// How a picture is made: the view wraps the model's first convolution (see
// Window.Watch) to see its input and output tensors of the last training
// step. On the Vulkan backend the picture is composed on the device that
// trains, by the view_compose compute shader reading those tensors where
// they are, into an image that is copied to the window's swapchain
// (gpu.Presenter). On the CPU backend the same picture is composed on the
// CPU and uploaded to a presenter on a Vulkan device the viewer opens for
// the purpose (a software one such as lavapipe will do).
//
// Threading: GLFW wants its event calls on the process's main thread, and
// composing between training steps needs no locking (the backend would
// serialize it with training anyway, and the model's tensors must not be
// read while a step writes them). So the main thread
// only polls window events (Window.Run), while all GPU work, composition and
// presentation included, happens on the training goroutine inside the
// per-step callback (Window.OnStep), at most a few times per second and
// never more often than keeps the view's cost near 5% of the training time.
// Closing the window stops the view, not the training.
package viewer
