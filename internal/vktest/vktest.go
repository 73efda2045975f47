// Package vktest opens Vulkan backends for tests.
//
// Open returns a backend on the first usable Vulkan device, software devices
// (lavapipe) included, honouring VKCNN_DEVICE. Without a Vulkan loader, driver
// or device the test is skipped with the reason, unless VKCNN_REQUIRE_VULKAN=1,
// in which case it fails. Every warning or error the Vulkan layers report
// (enable validation with VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation) is
// captured through a VK_EXT_debug_utils messenger and fails the test, up to
// and including the backend's Close at cleanup.
package vktest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/testreq"
)

// EnvRequire is the environment variable that turns a missing Vulkan device
// into a test failure when set to "1" (CI sets it): testreq.Vulkan.
const EnvRequire = testreq.Vulkan

// Required reports whether VKCNN_REQUIRE_VULKAN=1.
func Required() bool { return testreq.Required(EnvRequire) }

var late struct {
	mu   sync.Mutex
	msgs []string
}

// Late returns the messages that arrived after the test owning their backend
// had finished (a backend leaked past its test); a TestMain should fail when
// there are any.
func Late() []string {
	late.mu.Lock()
	defer late.mu.Unlock()
	return append([]string(nil), late.msgs...)
}

// collector turns debug messages into failures of one test.
type collector struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (c *collector) report(m gpu.Message) {
	if loaderNotice(m) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		late.mu.Lock()
		late.msgs = append(late.msgs, c.t.Name()+": "+m.String())
		late.mu.Unlock()
		return
	}
	c.t.Errorf("vulkan %v", m)
}

// loaderNotice reports whether m is the loader's warning that an environment
// variable such as VK_INSTANCE_LAYERS changed its behaviour: that is how
// validation is turned on, not a problem of the code under test.
func loaderNotice(m gpu.Message) bool {
	return m.Severity == gpu.SeverityWarning && m.ID == "Loader Message" && strings.HasPrefix(m.Text, "env var ")
}

// Open returns a Vulkan backend for t on the first usable device, software
// devices allowed, and closes it when t finishes (checking that Close
// succeeds). Extra options are applied after the defaults. It skips t when no
// Vulkan device is available, unless VKCNN_REQUIRE_VULKAN=1, and fails t on
// any other error and on any validation message.
func Open(t testing.TB, opts ...gpu.Option) *gpu.Backend {
	t.Helper()
	c := &collector{t: t}
	b, err := gpu.New(append([]gpu.Option{gpu.AllowSoftware(), gpu.Debug(c.report)}, opts...)...)
	if err != nil {
		var nd *gpu.NoDeviceError
		if errors.As(err, &nd) {
			testreq.Unavailable(t, EnvRequire, "vktest: no usable Vulkan device: %v", err)
		}
		t.Fatalf("vktest: opening the Vulkan backend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("vktest: closing the Vulkan backend: %v", err)
		}
		c.mu.Lock()
		c.done = true
		c.mu.Unlock()
	})
	return b
}
