package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// How vkcnn train publishes its outputs as one set.
//
// A run never writes into --out DIR itself. It works in a folder beside it,
// ".BASE.vkcnn-run-ID" (BASE is DIR's last element, ID unique to the run),
// which it holds locked while it lives: the settings (metrics.json), the
// checkpoint after every epoch, and at the end every output file. Then it
// swaps that folder with DIR in one atomic rename (Linux renameat2
// RENAME_EXCHANGE; a plain rename when DIR does not exist yet), renames the
// old set to ".BASE.vkcnn-old-ID" and removes it. A run killed at any moment
// therefore leaves DIR exactly as the last complete run left it (or absent),
// and only hidden folders beside it, which the next run removes, or, for an
// interrupted run's work folder, continues with --resume DIR.
//
// Where the exchange is not available (other systems, file systems without
// it) DIR is first renamed aside to ".BASE.vkcnn-old-ID" and the work folder
// renamed to DIR: a run killed between the two renames leaves DIR absent and
// the old set beside it, and the next run renames it back before anything
// else.

// Files of a published set (the pictures are optional).
const (
	fileModel      = "model.safetensors"
	fileSpec       = "model.spec"
	fileMetrics    = "metrics.json"
	fileCheckpoint = "checkpoint.safetensors"
)

// pictureFiles are the pictures vkcnn train draws.
var pictureFiles = []string{"curves.png", "filters.png", "featuremaps.png", "predictions.png"}

// ownFile reports whether name is a file vkcnn train writes into --out, or
// the temporary file of one (see internal/atomicfile).
func ownFile(name string) bool {
	known := append([]string{fileModel, fileSpec, fileMetrics, fileCheckpoint}, pictureFiles...)
	if slices.Contains(known, name) {
		return true
	}
	for _, k := range known {
		if strings.HasPrefix(name, "."+k+".tmp") {
			return true
		}
	}
	return false
}

// Prefixes of the folders beside DIR (after ".BASE").
const (
	workTag = ".vkcnn-run-"
	oldTag  = ".vkcnn-old-"
)

// outDir is the --out folder of a train run and the work folder the run
// fills before publishing it.
type outDir struct {
	path   string   // DIR, absolute, symbolic links resolved
	work   string   // the work folder beside DIR
	id     string   // the run's ID: the work folder's suffix
	lock   *os.File // the work folder, locked while the run lives
	made   []string // parent folders this run created, innermost first
	stderr io.Writer
	// continued is set for the work folder of an interrupted run taken
	// over by --resume: a failure keeps it, for another try.
	continued bool
}

// checkOut validates --out before any work: it returns DIR as an absolute
// path with symbolic links resolved, and refuses an empty path, a file, a
// mount point (it cannot be swapped) and a folder holding anything vkcnn
// train does not write (publishing replaces the whole folder).
func checkOut(out string) (string, error) {
	if out == "" {
		return "", fmt.Errorf(`--out "", expected a folder name: %w`, tensor.ErrParam)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("--out %s: %w", out, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if filepath.Dir(abs) == abs {
		return "", fmt.Errorf("--out %s is the root folder, expected a folder vkcnn train can replace as a whole: %w", out, tensor.ErrParam)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abs, nil
	case err != nil:
		return "", fmt.Errorf("--out: %w", err)
	case !st.IsDir():
		return "", fmt.Errorf("--out %s is a file, expected a folder: %w", out, tensor.ErrParam)
	}
	if mountPoint(abs) {
		return "", fmt.Errorf("--out %s is a mount point, expected a folder inside one (vkcnn train replaces the folder as a whole), e.g. --out %s: %w",
			out, filepath.Join(out, "run"), tensor.ErrParam)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !ownFile(e.Name()) {
			return "", fmt.Errorf("--out %s holds %s, which vkcnn train did not write; expected a new folder, an empty one or one written by vkcnn train (it replaces the folder as a whole): %w",
				out, e.Name(), tensor.ErrParam)
		}
	}
	return abs, nil
}

// besides returns the folders beside dir whose names start with
// ".BASE"+tag, BASE being dir's last element.
func besides(dir, tag string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	prefix := "." + filepath.Base(dir) + tag
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(filepath.Dir(dir), e.Name()))
		}
	}
	return out, nil
}

// recoverOut puts back an old set that a run killed between the two renames
// of the fallback publication left beside a missing DIR.
func recoverOut(dir string) error {
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	olds, err := besides(dir, oldTag)
	if err != nil || len(olds) == 0 {
		return err
	}
	var newest string
	var when int64
	for _, o := range olds {
		if st, err := os.Stat(o); err == nil && st.IsDir() && (newest == "" || st.ModTime().UnixNano() > when) {
			newest, when = o, st.ModTime().UnixNano()
		}
	}
	if newest == "" {
		return nil
	}
	if err := os.Rename(newest, dir); err != nil {
		return fmt.Errorf("--out %s: putting back the previous outputs from %s: %w", dir, newest, err)
	}
	return nil
}

// runInfo is what a work folder's metrics.json tells about its run.
type runInfo struct {
	Run      string `json:"run"`
	Complete bool   `json:"complete"`
}

// readRunInfo reads the run ID and completeness from folder's metrics.json.
func readRunInfo(folder string) (runInfo, error) {
	var ri runInfo
	js, err := os.ReadFile(filepath.Join(folder, fileMetrics))
	if err != nil {
		return ri, err
	}
	err = json.Unmarshal(js, &ri)
	return ri, err
}

// interrupted returns the work folder of an interrupted run of dir that can
// be resumed: one no live run holds, whose metrics.json names its own ID and
// which holds a checkpoint. It returns "" when there is none.
func interrupted(dir string) (string, error) {
	works, err := besides(dir, workTag)
	if err != nil {
		return "", err
	}
	var best string
	var when int64
	for _, w := range works {
		if !resumable(dir, w) || held(w) {
			continue
		}
		st, err := os.Stat(filepath.Join(w, fileCheckpoint))
		if err == nil && (best == "" || st.ModTime().UnixNano() > when) {
			best, when = w, st.ModTime().UnixNano()
		}
	}
	return best, nil
}

// resumable reports whether work folder w of dir holds the state of its own
// run (not, after the exchange, the previous set) and a checkpoint.
func resumable(dir, w string) bool {
	id := strings.TrimPrefix(filepath.Base(w), "."+filepath.Base(dir)+workTag)
	ri, err := readRunInfo(w)
	if err != nil || ri.Run != id {
		return false
	}
	_, err = os.Stat(filepath.Join(w, fileCheckpoint))
	return err == nil
}

// held reports whether a live run holds folder w.
func held(w string) bool {
	f, err := os.Open(w)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := tryLock(f); err != nil {
		return true
	}
	unlock(f)
	return false
}

// cleanStale removes what killed runs left beside dir: work folders no live
// run holds (except keep, the one a resumed run continues) and old sets. It
// reports an interrupted run it removes on w.
func cleanStale(dir, keep string, w io.Writer) error {
	if err := recoverOut(dir); err != nil {
		return err
	}
	works, err := besides(dir, workTag)
	if err != nil {
		return err
	}
	olds, err := besides(dir, oldTag)
	if err != nil {
		return err
	}
	for _, p := range append(works, olds...) {
		if p == keep || strings.Contains(filepath.Base(p), workTag) && held(p) {
			continue
		}
		if strings.Contains(filepath.Base(p), workTag) && resumable(dir, p) {
			fmt.Fprintf(w, "vkcnn: removing the checkpoint of an interrupted run in %s (continue such a run with --resume %s)\n", p, dir)
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing %s, left by a killed run: %w", p, err)
		}
	}
	return nil
}

// newOutDir creates the work folder of a new run of dir (and the missing
// parent folders) and locks it. stderr gets notes on removed leftovers.
func newOutDir(dir string, stderr io.Writer) (*outDir, error) {
	o := &outDir{path: dir, stderr: stderr}
	var err error
	if o.made, err = mkdirNew(filepath.Dir(dir)); err != nil {
		o.removeMade()
		return nil, fmt.Errorf("--out: %w", err)
	}
	if err := cleanStale(dir, "", stderr); err != nil {
		o.removeMade()
		return nil, fmt.Errorf("--out: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+workTag+"*")
	if err != nil {
		o.removeMade()
		return nil, fmt.Errorf("--out: %w", err)
	}
	if err := os.Chmod(work, 0o755); err != nil {
		os.Remove(work)
		o.removeMade()
		return nil, fmt.Errorf("--out: %w", err)
	}
	o.work = work
	o.id = strings.TrimPrefix(filepath.Base(work), "."+filepath.Base(dir)+workTag)
	if err := o.takeLock(); err != nil {
		os.Remove(work)
		o.removeMade()
		return nil, err
	}
	crashPoint("work-created")
	return o, nil
}

// continueOutDir takes over the work folder of an interrupted run of dir.
func continueOutDir(dir, work string, stderr io.Writer) (*outDir, error) {
	o := &outDir{path: dir, work: work, stderr: stderr, continued: true,
		id: strings.TrimPrefix(filepath.Base(work), "."+filepath.Base(dir)+workTag)}
	if err := o.takeLock(); err != nil {
		return nil, err
	}
	if err := cleanStale(dir, work, stderr); err != nil {
		o.unlock()
		return nil, fmt.Errorf("--out: %w", err)
	}
	return o, nil
}

// takeLock opens and locks the work folder.
func (o *outDir) takeLock() error {
	f, err := os.Open(o.work)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		return fmt.Errorf("--out %s: another vkcnn train is using %s: %w", o.path, o.work, tensor.ErrParam)
	}
	o.lock = f
	return nil
}

// unlock releases the work folder.
func (o *outDir) unlock() {
	if o.lock != nil {
		unlock(o.lock)
		o.lock.Close()
		o.lock = nil
	}
}

// file returns the path of name in the work folder.
func (o *outDir) file(name string) string { return filepath.Join(o.work, name) }

// publish makes the work folder DIR in one step and removes the previous
// set. The files in the work folder are already synced (internal/atomicfile).
func (o *outDir) publish() error {
	defer o.unlock()
	if err := syncDir(o.work); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	crashPoint("before-publish")
	parent := filepath.Dir(o.path)
	old := filepath.Join(parent, "."+filepath.Base(o.path)+oldTag+o.id)
	swapped, err := exchange(o.work, o.path)
	switch {
	case err != nil:
		return fmt.Errorf("--out %s: %w", o.path, err)
	case swapped: // the work folder's name now holds the previous set
		crashPoint("exchanged")
		if err := os.Rename(o.work, old); err != nil {
			return fmt.Errorf("--out %s: %w", o.path, err)
		}
	default: // DIR did not exist, or the fallback of two renames
		if _, err := os.Lstat(o.path); err == nil {
			if err := os.Rename(o.path, old); err != nil {
				return fmt.Errorf("--out %s: moving the previous outputs aside: %w", o.path, err)
			}
			crashPoint("moved-aside")
		}
		if err := os.Rename(o.work, o.path); err != nil {
			err = fmt.Errorf("--out %s: %w", o.path, err)
			if rerr := recoverOut(o.path); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return err
		}
	}
	crashPoint("published")
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return removeOld(old)
}

// removeOld removes the previous set, entry by entry.
func removeOld(old string) error {
	entries, err := os.ReadDir(old)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(old, e.Name())); err != nil {
			return fmt.Errorf("removing the previous outputs: %w", err)
		}
		crashPoint("removing-old")
	}
	if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the previous outputs: %w", err)
	}
	return nil
}

// abandon removes the work folder of a failed run and the parent folders it
// created: a failed run leaves nothing behind. The work folder of an
// interrupted run that --resume took over stays, for another try.
func (o *outDir) abandon() {
	o.unlock()
	if o.continued {
		return
	}
	os.RemoveAll(o.work)
	o.removeMade()
}

// removeMade removes the parent folders this run created, when empty.
func (o *outDir) removeMade() {
	for _, p := range o.made {
		if os.Remove(p) != nil {
			return
		}
	}
}

// syncDir flushes a folder's entries to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// crashAt is the test hook: $VKCNN_TEST_CRASH names a point of the
// publication ("epoch", "file", "exchanged"…, see crashPoint calls),
// optionally "#N" for its N-th occurrence (default the first), where the
// process kills itself (SIGKILL on Unix), as a crash or kill -9 would.
var crashAt, crashCount = parseCrash(os.Getenv("VKCNN_TEST_CRASH"))

// parseCrash splits "name#N".
func parseCrash(s string) (string, int) {
	name, n, ok := strings.Cut(s, "#")
	count := 1
	if ok {
		if _, err := fmt.Sscan(n, &count); err != nil || count < 1 {
			count = 1
		}
	}
	return name, count
}

// crashPoint kills the process at the point named by $VKCNN_TEST_CRASH.
func crashPoint(name string) {
	if crashAt == "" || name != crashAt {
		return
	}
	if crashCount--; crashCount > 0 {
		return
	}
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		p.Kill()
		select {} // the signal is on its way
	}
	os.Exit(137)
}
