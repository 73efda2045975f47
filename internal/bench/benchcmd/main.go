// Command benchcmd runs bench.Main, the `vkcnn bench` command, on its own:
// a stand-in for the vkcnn binary until cmd/vkcnn wires the bench command,
// and a way to run the benchmarks without the rest of the CLI. A leading
// "bench" argument is accepted and dropped, so that scripts/bench.sh can call
// either binary the same way:
//
//	go run ./internal/bench/benchcmd bench --quick --cases conv_fwd
package main

import (
	"fmt"
	"os"

	"github.com/vkcnn/vkcnn/internal/bench"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "bench" {
		args = args[1:]
	}
	if err := bench.Main(args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
