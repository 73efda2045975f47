package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/tensor"
)

const devicesHelp = `Usage: vkcnn devices [--device SELECTOR]

Lists the compute backends (cpu, vulkan), the Vulkan devices the driver
exposes (index, name, type, memory), and which backend and device the
automatic choice (--backend auto, the default of every command) picks, and
why. Auto prefers a discrete GPU, then an integrated one; a software Vulkan
device such as lavapipe is used only when asked for (--backend vulkan, or
--device naming it), otherwise Auto falls back to the CPU.

Examples:

  vkcnn devices
  vkcnn devices --device 1
  VKCNN_DEVICE=nvidia vkcnn devices`

// runDevices is "vkcnn devices".
func runDevices(args []string, stdout, _ io.Writer) error {
	fs := newFlags("devices", devicesHelp)
	device := fs.String("device", "", "Vulkan `device` selector (an index or part of a name) to try under Auto; default $VKCNN_DEVICE")
	pos, err := fs.parse(args, stdout)
	if err != nil {
		return done(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("devices takes no arguments, got %q (see vkcnn devices --help): %w", pos, tensor.ErrParam)
	}

	c := cpu.New()
	fmt.Fprintln(stdout, "Backends:")
	fmt.Fprintf(stdout, "  cpu     available: %s, float32 and float64\n", c.Caps().Device)
	c.Close()
	devs, err := gpu.Devices()
	if err != nil {
		fmt.Fprintf(stdout, "  vulkan  unavailable: %s\n", strings.TrimPrefix(err.Error(), "gpu: "))
	} else {
		fmt.Fprintf(stdout, "  vulkan  available: %d device(s), float32\n", len(devs))
		fmt.Fprintln(stdout, "\nVulkan devices:")
		for _, d := range devs {
			fmt.Fprintf(stdout, "  %v, Vulkan %s\n", d, d.APIVersion)
		}
	}

	opts := []vkcnn.Option{vkcnn.WithBackend(vkcnn.Auto)}
	if *device != "" {
		opts = append(opts, vkcnn.WithDevice(*device))
	}
	b, info, err := vkcnn.Open(opts...)
	if err != nil {
		return fmt.Errorf("auto selection: %w", err)
	}
	b.Close()
	fmt.Fprintf(stdout, "\nAuto picks: %s on %s\n  why: %s\n", info.Backend, info.Device, info.Reason)
	if info.Backend == vkcnn.CPU && len(devs) > 0 {
		fmt.Fprintln(stdout, "  to use a Vulkan device anyway: --backend vulkan, or --device INDEX")
	}
	if env := os.Getenv(vkcnn.EnvBackend); env != "" {
		fmt.Fprintf(stdout, "  note: %s=%s is set, so commands without --backend use %s\n", vkcnn.EnvBackend, env, env)
	}
	return nil
}
