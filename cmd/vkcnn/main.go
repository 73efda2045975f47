// Command vkcnn trains and runs convolutional neural networks on any Vulkan GPU,
// or on the CPU where there is none.
//
// Usage:
//
//	vkcnn devices                  list backends and Vulkan devices, and which one Auto picks
//	vkcnn train   [flags]          train a model preset or spec on mnist, mnist01, fashion or lines
//	vkcnn infer   [flags] [INPUT…] classify .npy batches or pictures, or evaluate a dataset
//	vkcnn edges   IMAGE --out DIR  edge and sharpen filters of a picture as a 1→4 convolution
//	vkcnn bench   [flags]          convolution, pooling and training-step speed on every backend
//
// Every subcommand takes --help. Errors go to standard error and make the
// command exit with status 1.
//
// Example (the first run fetches MNIST into the user cache):
//
//	vkcnn train --model lenet5 --out out/lenet5
//	vkcnn infer --model out/lenet5 --dataset mnist --split test
//	vkcnn infer --model out/lenet5 digit.png
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/vkcnn/vkcnn/internal/bench"
	"github.com/vkcnn/vkcnn/tensor"
)

// The live training window (vkcnn train --view) needs GLFW's calls on the
// main thread, where run runs. Every other command unlocks the thread first
// (see run and runTrain): a goroutine locked to a thread is slow to wake, and
// the compute backends wait on their workers many times per step.
func init() { runtime.LockOSThread() }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vkcnn:", err)
		os.Exit(1)
	}
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order the help shows them.
func commands() []command {
	return []command{
		{"devices", "list the backends and Vulkan devices, and say which one Auto picks and why", runDevices},
		{"train", "train a model preset or spec on mnist, mnist01, fashion or lines; write weights, metrics and pictures", runTrain},
		{"infer", "classify .npy batches or pictures with a trained model, or measure its accuracy on a dataset", runInfer},
		{"edges", "filter a picture with Sobel, Laplacian and sharpen kernels as one 1→4 convolution", runEdges},
		{"bench", "measure convolution, pooling and training-step speed on every backend", runBench},
	}
}

// runBench is "vkcnn bench", implemented by package internal/bench.
func runBench(args []string, stdout, _ io.Writer) error { return bench.Main(args, stdout) }

// usage is the top-level help.
func usage() string {
	var sb strings.Builder
	sb.WriteString("vkcnn trains and runs convolutional neural networks on any Vulkan GPU, or on the CPU.\n\nUsage:\n\n  vkcnn <command> [flags] [arguments]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(&sb, "  %-8s %s\n", c.name, c.summary)
	}
	sb.WriteString(`
Run "vkcnn <command> --help" for the flags and examples of a command.

Examples:

  vkcnn devices
  vkcnn train --model cnn --dataset mnist --out out/cnn
  vkcnn infer --model out/cnn --dataset mnist --split test
  vkcnn edges photo.jpg --out out/edges
  vkcnn bench --cases '^(conv_fwd|train)/'
`)
	return sb.String()
}

// run is the whole program: it runs the subcommand named by args[0] and
// returns its error. Help goes to stdout; progress and results to stdout;
// warnings to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return fmt.Errorf("no command given, expected one of %s: %w", commandNames(), tensor.ErrParam)
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage())
		return nil
	}
	if name != "train" {
		runtime.UnlockOSThread()
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("unknown command %q, expected one of %s (see vkcnn --help): %w", name, commandNames(), tensor.ErrParam)
}

// commandNames lists the subcommands as "devices, train, infer, edges or bench".
func commandNames() string {
	cs := commands()
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// errHelp is returned by parseFlags when --help was asked for and printed.
var errHelp = errors.New("help printed")

// flagSet makes the FlagSet of a subcommand. head is the usage text shown
// above the flag list by --help: the synopsis, a description and examples.
type flagSet struct {
	*flag.FlagSet
	head string
}

// newFlags returns an empty flag set for subcommand name.
func newFlags(name, head string) *flagSet {
	fs := flag.NewFlagSet("vkcnn "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, head: head}
}

// help returns the full --help text: head, then every flag with its default.
func (fs *flagSet) help() string {
	var buf bytes.Buffer
	buf.WriteString(strings.TrimRight(fs.head, "\n"))
	buf.WriteString("\n\nFlags:\n")
	fs.SetOutput(&buf)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return buf.String()
}

// parse parses args, allowing flags before, between and after the positional
// arguments ("--" ends the flags), and returns the positional arguments. On
// -h or --help it prints the help to stdout and returns errHelp; a bad flag
// gives a tensor.ErrParam error that points to --help.
func (fs *flagSet) parse(args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, fs.help())
			return nil, errHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v (see %s --help): %w", fs.Name(), err, fs.Name(), tensor.ErrParam)
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wasSet reports which flags the command line set.
func (fs *flagSet) wasSet() map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// done turns errHelp into success.
func done(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
