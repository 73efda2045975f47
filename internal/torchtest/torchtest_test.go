package torchtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnavailable runs a child test that calls Unavailable, without and with
// VKCNN_REQUIRE_TORCH=1, and checks that it skips, then fails, giving the
// reason both times.
func TestUnavailable(t *testing.T) {
	if os.Getenv("TORCHTEST_CHILD") == "1" {
		Unavailable(t, "no torch here: %d", 42)
		t.Fatal("Unavailable returned")
	}
	for _, require := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
		cmd.Env = append(os.Environ(), "TORCHTEST_CHILD=1", EnvRequire+"="+require)
		out, err := cmd.CombinedOutput()
		s := string(out)
		if !strings.Contains(s, "no torch here: 42") || strings.Contains(s, "Unavailable returned") {
			t.Errorf("%s=%s: child printed\n%s", EnvRequire, require, s)
		}
		if require == "0" && (err != nil || !strings.Contains(s, "--- SKIP")) {
			t.Errorf("%s=0: child should skip, got %v\n%s", EnvRequire, err, s)
		}
		if require == "1" && (err == nil || !strings.Contains(s, "--- FAIL")) {
			t.Errorf("%s=1: child should fail, got %v\n%s", EnvRequire, err, s)
		}
	}
}

// TestRun passes arguments to a script that uses torch and reads back what it
// printed.
func TestRun(t *testing.T) {
	out := Run(t, "import sys, torch\nprint(int(torch.tensor([int(a) for a in sys.argv[1:]]).sum()))\n", "2", "3", "37")
	if got := strings.TrimSpace(string(out)); got != "42" {
		t.Errorf("script printed %q, expected 42", got)
	}
}
