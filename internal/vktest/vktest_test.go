package vktest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/tensor"
)

// fakeTB records Errorf calls instead of failing.
type fakeTB struct {
	testing.TB
	errs []string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Name() string { return "TestFake" }

func TestCollector(t *testing.T) {
	f := &fakeTB{TB: t}
	c := &collector{t: f}
	c.report(gpu.Message{Severity: gpu.SeverityWarning, ID: "Loader Message",
		Text: `env var 'VK_INSTANCE_LAYERS' defined and adding layers "VK_LAYER_KHRONOS_validation"`})
	if len(f.errs) != 0 {
		t.Errorf("the loader's environment notice failed the test: %v", f.errs)
	}
	c.report(gpu.Message{Severity: gpu.SeverityError, ID: "VUID-x", Text: "bad"})
	c.report(gpu.Message{Severity: gpu.SeverityWarning, ID: "Loader Message", Text: "ICD not found"})
	if len(f.errs) != 2 || !strings.Contains(f.errs[0], "VUID-x") {
		t.Errorf("messages reported as %q, want two failures, the first naming VUID-x", f.errs)
	}
	c.done = true
	n := len(Late())
	c.report(gpu.Message{Severity: gpu.SeverityError, ID: "VUID-late", Text: "after the test"})
	if late := Late(); len(late) != n+1 || !strings.Contains(late[n], "TestFake") || !strings.Contains(late[n], "VUID-late") {
		t.Errorf("late message not recorded: %v", late)
	}
	if len(f.errs) != 2 {
		t.Errorf("a late message failed the finished test: %v", f.errs)
	}
}

func TestOpen(t *testing.T) {
	b := Open(t)
	x, err := b.Alloc(tensor.Float32, tensor.Shape{3})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fill(x, 2); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, 3)
	if err := b.Download(v, x); err != nil || v[2] != 2 {
		t.Fatalf("Download = %v, %v; want [2 2 2]", v, err)
	}
}
