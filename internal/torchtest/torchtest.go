// Package torchtest runs PyTorch reference scripts for tests.
//
// The interpreter is /usr/bin/python3 (the one Debian's python3-torch installs
// torch for; a python3 found on PATH may lack it). Without it, or when it
// cannot import torch and numpy, a test calling Require or Run is skipped with
// the reason, unless VKCNN_REQUIRE_TORCH=1, in which case it fails (CI sets
// it; the decision is internal/testreq's).
package torchtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vkcnn/vkcnn/internal/testreq"
)

// Python is the interpreter the reference scripts run with.
const Python = "/usr/bin/python3"

// EnvRequire is the environment variable that turns a missing PyTorch into a
// test failure when set to "1" (see internal/testreq).
const EnvRequire = testreq.Torch

// Required reports whether VKCNN_REQUIRE_TORCH=1.
func Required() bool { return testreq.Required(EnvRequire) }

// Unavailable skips t, saying why (format and args, as for fmt.Sprintf), or
// fails it with the same reason when VKCNN_REQUIRE_TORCH=1
// (testreq.Unavailable). Like t.Skip and t.Fatal it does not return.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testreq.Unavailable(t, EnvRequire, format, args...)
}

// probe is the outcome of importing torch and numpy, tried once per process.
var probe = sync.OnceValue(func() error {
	out, err := exec.Command(Python, "-c", "import torch, numpy").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import torch and numpy: %v\n%s", Python, err, bytes.TrimSpace(out))
	}
	return nil
})

// Require returns Python when it can import torch and numpy; otherwise it
// calls Unavailable.
func Require(t testing.TB) string {
	t.Helper()
	if err := probe(); err != nil {
		Unavailable(t, "%v", err)
	}
	return Python
}

// Run calls Require, writes script to a file in a temporary directory, runs it
// with Python and the arguments args (sys.argv[1:]) and returns what it wrote
// on standard output. It fails t, showing both outputs, when the script exits
// with an error.
func Run(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := Require(t)
	path := filepath.Join(t.TempDir(), "ref.py")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(py, append([]string{path}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python script failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}
