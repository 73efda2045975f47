package torchtest

import (
	"strings"
	"testing"
)

// TestRun passes arguments to a script that uses torch and reads back what it
// printed.
func TestRun(t *testing.T) {
	out := Run(t, "import sys, torch\nprint(int(torch.tensor([int(a) for a in sys.argv[1:]]).sum()))\n", "2", "3", "37")
	if got := strings.TrimSpace(string(out)); got != "42" {
		t.Errorf("script printed %q, expected 42", got)
	}
}
