package viewer_test

import (
	"fmt"
	"log"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viewer"
)

// How `vkcnn train --view` uses the viewer. Package main locks the main
// goroutine to the main thread, which GLFW needs:
//
//	func init() { runtime.LockOSThread() }
//
// Everything below then runs on the main goroutine: Open before training
// (so that a missing display, or a build without the tag "view", is an
// error at once), Run to train on another goroutine while the main thread
// handles the window. Without --view, win stays nil and its methods pass
// everything through.
func Example() {
	view := true // the --view flag
	var win *viewer.Window
	if view {
		var err error
		if win, err = viewer.Open(viewer.Options{Title: "vkcnn train"}); err != nil {
			log.Fatal(err) // e.g. "viewer: cannot open a window: DISPLAY is not set; …: no display"
		}
		defer win.Close()
	}
	// A Vulkan backend opened with these options composes the pictures on
	// the device that trains; the CPU backend gets pictures composed on the
	// CPU.
	b, info, err := vkcnn.Open(vkcnn.WithVulkanOptions(win.VulkanOptions()...))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // after Run
	fmt.Println(info)
	train, _, err := data.Load("mnist", data.Options{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := nn.Parse("conv(1,8,3,p1) relu maxpool(2) conv(8,16,3,p1) relu maxpool(2) flatten dense(784,64) relu dense(64,10)")
	if err != nil {
		log.Fatal(err)
	}
	if m, err = win.Watch(m); err != nil { // before Build
		log.Fatal(err)
	}
	if err := m.Build(b, tensor.Shape{1, 28, 28}, 1); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	progress := func(s nn.StepInfo) error { return nil } // the CLI's progress bar
	cfg := nn.FitConfig{Epochs: 3, BatchSize: 32, Shuffle: true, Loss: nn.CrossEntropyLoss(),
		Optimizer: nn.NewAdam(tensor.DefaultAdam()), OnStep: win.OnStep(progress)}
	err = win.Run(func() error {
		_, err := m.Fit(train, cfg)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}
