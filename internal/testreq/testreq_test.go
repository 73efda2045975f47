package testreq

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
	if os.Getenv("TESTREQ_CHILD") == "1" {
		Unavailable(t, Torch, "no torch here: %d", 42)
		t.Fatal("Unavailable returned")
	}
	for _, require := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTREQ_CHILD=1", Torch+"="+require)
		out, err := cmd.CombinedOutput()
		s := string(out)
		if !strings.Contains(s, "no torch here: 42") || strings.Contains(s, "Unavailable returned") {
			t.Errorf("%s=%s: child printed\n%s", Torch, require, s)
		}
		if require == "0" && (err != nil || !strings.Contains(s, "--- SKIP")) {
			t.Errorf("%s=0: child should skip, got %v\n%s", Torch, err, s)
		}
		if require == "1" && (err == nil || !strings.Contains(s, "--- FAIL")) {
			t.Errorf("%s=1: child should fail, got %v\n%s", Torch, err, s)
		}
	}
}
