package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/viz"
)

// TestMain runs the command itself when $VKCNN_TEST_CHILD is set, so that
// tests can run, kill and restrict vkcnn in a child process: the arguments
// are the command line, $VKCNN_TEST_FSIZE limits the size of the files it
// writes (RLIMIT_FSIZE, bytes).
func TestMain(m *testing.M) {
	if os.Getenv("VKCNN_TEST_CHILD") == "1" {
		if n, err := strconv.ParseUint(os.Getenv("VKCNN_TEST_FSIZE"), 10, 64); err == nil {
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(3)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the result of a vkcnn child process.
type child struct {
	stdout, stderr string
	err            error // nil, or an *exec.ExitError
}

// killed reports whether the child died of SIGKILL.
func (c child) killed() bool {
	var ee *exec.ExitError
	if !errors.As(c.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// startChild starts vkcnn with args and the extra environment.
func startChild(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "VKCNN_TEST_CHILD=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

// runChild runs vkcnn with args to its end.
func runChild(t *testing.T, env []string, args ...string) child {
	t.Helper()
	cmd, stdout, stderr := startChild(t, env, args...)
	err := cmd.Wait()
	return child{stdout.String(), stderr.String(), err}
}

// mustRun runs vkcnn and fails the test unless it succeeds.
func mustRun(t *testing.T, env []string, args ...string) child {
	t.Helper()
	c := runChild(t, env, args...)
	if c.err != nil {
		t.Fatalf("vkcnn %q: %v\n%s%s", args, c.err, c.stdout, c.stderr)
	}
	return c
}

// snapshot is the content of a folder: file name → bytes; nil when the
// folder does not exist. Subfolders fail the test.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := map[string]string{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			t.Fatalf("%s: %s is not a regular file", dir, e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s[e.Name()] = string(b)
	}
	return s
}

// normalized drops what differs between two runs of the same training from
// a snapshot: metrics.json's run ID and timings.
func normalized(t *testing.T, s map[string]string) map[string]string {
	t.Helper()
	if s == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range s {
		out[k] = v
	}
	if js, ok := s[fileMetrics]; ok {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatalf("metrics.json: %v\n%s", err, js)
		}
		delete(m, "run")
		delete(m, "seconds")
		if h, ok := m["history"].([]any); ok {
			for _, e := range h {
				delete(e.(map[string]any), "seconds")
			}
		}
		b, _ := json.Marshal(m)
		out[fileMetrics] = string(b)
	}
	if _, ok := s[fileCheckpoint]; ok {
		f := filepath.Join(t.TempDir(), fileCheckpoint)
		if err := os.WriteFile(f, []byte(s[fileCheckpoint]), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := nn.ReadCheckpoint(f)
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		for i := range st.History {
			st.History[i].Duration = 0
		}
		out[fileCheckpoint] = fmt.Sprintf("%+v", *st) // fmt sorts map keys
	}
	return out
}

// sameSet reports whether two snapshots hold the same files and contents.
func sameSet(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// names lists a snapshot's files.
func names(s map[string]string) []string {
	var n []string
	for k := range s {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// beside lists the entries of dir's parent other than dir.
func beside(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != filepath.Base(dir) {
			out = append(out, e.Name())
		}
	}
	return out
}

// linesTrain is a short training on the lines dataset into out.
func linesTrain(out string, seed int, extra ...string) []string {
	return append([]string{"train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines",
		"--epochs", "2", "--batch", "16", "--backend", "cpu", "--seed", strconv.Itoa(seed), "--out", out}, extra...)
}

// TestTrainKilledAnywhere kills vkcnn train at every point of its work and
// publication (the crash hook $VKCNN_TEST_CRASH, and at random moments) and
// checks each time that --out holds exactly the previous run's set or
// exactly the new run's complete set, and that the next run removes what
// the killed one left beside it. Runs alternate between two seeds, so that
// the previous set and the new one always differ.
func TestTrainKilledAnywhere(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs", "run")
	want := map[int]map[string]string{} // seed → the complete set, normalized
	for _, seed := range []int{1, 2} {
		ref := filepath.Join(dir, "ref"+strconv.Itoa(seed), "run")
		mustRun(t, nil, linesTrain(ref, seed)...)
		if want[seed] = normalized(t, snapshot(t, ref)); len(want[seed]) != 8 {
			t.Fatalf("reference run wrote %v, want 8 files", names(want[seed]))
		}
	}
	if sameSet(want[1], want[2]) {
		t.Fatal("the two seeds give the same files")
	}
	mustRun(t, nil, linesTrain(out, 1)...)
	cur, prev := 1, snapshot(t, out) // the seed and the exact files in --out

	// leftovers checks that only the last killed run's folders are beside
	// --out (the runs before it removed theirs).
	leftovers := func(what string) {
		t.Helper()
		b := beside(t, out)
		for _, n := range b {
			if !strings.HasPrefix(n, ".run.vkcnn-") {
				t.Errorf("%s: %s beside --out", what, n)
			}
		}
		if len(b) > 2 {
			t.Errorf("%s: %v beside --out, want at most the killed run's work folder and old set", what, b)
		}
	}
	type point struct {
		crash    string
		fallback bool // two renames instead of the exchange
		newSet   bool // the new set is published at this point
	}
	points := []point{
		{"work-created", false, false}, {"epoch#1", false, false}, {"epoch#2", false, false},
		{"file#1", false, false}, {"file#2", false, false}, {"file#3", false, false}, {"file#4", false, false},
		{"file#5", false, false}, {"file#6", false, false}, {"file#7", false, false},
		{"before-publish", false, false}, {"exchanged", false, true}, {"published", false, true},
		{"removing-old#1", false, true}, {"removing-old#4", false, true},
		{"before-publish", true, false}, {"moved-aside", true, false}, {"published", true, true}, {"removing-old#2", true, true},
	}
	// Where the file system cannot exchange, runs publish with two renames:
	// only the fallback's points apply.
	a, b := filepath.Join(dir, "xa"), filepath.Join(dir, "xb")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	canExchange, err := exchange(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !canExchange {
		t.Logf("%s cannot exchange folders (renameat2 RENAME_EXCHANGE): testing the two-rename publication only", dir)
	}
	for _, p := range points {
		if !p.fallback && !canExchange {
			continue
		}
		env := []string{"VKCNN_TEST_CRASH=" + p.crash}
		if p.fallback {
			env = append(env, "VKCNN_TEST_NO_EXCHANGE=1")
		}
		seed := 3 - cur
		c := runChild(t, env, linesTrain(out, seed)...)
		if !c.killed() {
			t.Fatalf("%+v: the run was not killed: %v\n%s%s", p, c.err, c.stdout, c.stderr)
		}
		if len(beside(t, out)) == 0 {
			t.Errorf("%+v: nothing left beside --out; was the run killed where the test meant?", p)
		}
		got := snapshot(t, out)
		switch {
		case p.newSet:
			if !sameSet(normalized(t, got), want[seed]) {
				t.Errorf("%+v: --out holds %v, want the new run's complete set", p, names(got))
			}
			cur, prev = seed, got
		case p.crash == "moved-aside":
			// Killed between the fallback's two renames: --out is absent
			// and the next run puts the old set back before anything else.
			if got != nil {
				t.Errorf("%+v: --out holds %v, want it moved aside", p, names(got))
			}
			c := runChild(t, []string{"VKCNN_TEST_CRASH=work-created"}, linesTrain(out, seed)...)
			if got := snapshot(t, out); !c.killed() || !sameSet(got, prev) {
				t.Errorf("%+v: after the next run, --out holds %v, want the previous set restored exactly", p, names(got))
			}
		case !sameSet(got, prev):
			t.Errorf("%+v: --out holds %v, want exactly the previous run's set %v", p, names(got), names(prev))
		}
		leftovers(p.crash)
	}

	// Kills at random moments: each leaves the previous set or the new one.
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	mustRun(t, nil, linesTrain(out, 3-cur)...)
	span := time.Since(start)
	cur, prev = 3-cur, snapshot(t, out)
	for i := range 6 {
		seed := 3 - cur
		cmd, stdout, stderr := startChild(t, nil, linesTrain(out, seed)...)
		time.Sleep(time.Duration(rng.Int64N(int64(span))))
		cmd.Process.Kill()
		err := cmd.Wait()
		switch got := snapshot(t, out); {
		case sameSet(normalized(t, got), want[seed]):
			cur, prev = seed, got
		case !sameSet(got, prev):
			t.Errorf("kill %d: --out holds %v, want the previous or the new complete set (%v)\n%s%s", i, names(got), err, stdout, stderr)
		}
		leftovers(fmt.Sprintf("kill %d", i))
	}
	mustRun(t, nil, linesTrain(out, 1)...)
	if b := beside(t, out); len(b) != 0 {
		t.Errorf("after a complete run, %v is left beside --out", b)
	}
}

// TestTrainFullDisk trains onto a full disk: a 100 KiB tmpfs when this
// process may mount one (root), else a file-size limit (RLIMIT_FSIZE) that
// makes the kernel refuse the large writes. Either way the run fails with
// the reason, leaves no folder behind and keeps the previous set.
func TestTrainFullDisk(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	want := "no space left on device"
	mount := func() error {
		if os.Getenv("VKCNN_TEST_NO_MOUNT") == "1" { // to test the other way as root
			return errors.New("VKCNN_TEST_NO_MOUNT=1")
		}
		return syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=100k")
	}
	if err := mount(); err == nil {
		t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })
		t.Logf("full disk: a 100 KiB tmpfs at %s", disk)
	} else {
		t.Logf("full disk: cannot mount a tmpfs (%v); limiting file sizes to 40 KiB (RLIMIT_FSIZE) instead", err)
		env = []string{"VKCNN_TEST_FSIZE=40960"}
		want = "file too large"
	}
	out := filepath.Join(disk, "run")

	// A failed first run leaves nothing.
	c := runChild(t, env, linesTrain(out, 1)...)
	if c.err == nil || !strings.Contains(c.stderr, want) {
		t.Fatalf("train onto a full disk: error %v, stderr %q; want a failure saying %q", c.err, c.stderr, want)
	}
	if entries, _ := os.ReadDir(disk); len(entries) != 0 {
		t.Errorf("the failed run left %v on the disk", entries)
	}
	// With a previous set (small enough without pictures), a failed run
	// keeps it exactly.
	mustRun(t, env, linesTrain(out, 1, "--pictures=false")...)
	old := snapshot(t, out)
	c = runChild(t, env, linesTrain(out, 2)...)
	if c.err == nil || !strings.Contains(c.stderr, want) || strings.Contains(c.stdout, "wrote ") {
		t.Fatalf("train onto a full disk: error %v, stderr %q, stdout %q; want a failure saying %q and no 'wrote'", c.err, c.stderr, c.stdout, want)
	}
	if got := snapshot(t, out); !sameSet(got, old) {
		t.Errorf("--out holds %v after the failed run, want the previous set %v", names(got), names(old))
	}
	if b := beside(t, out); len(b) != 0 {
		t.Errorf("the failed run left %v beside --out", b)
	}

	// edges: a failed write is an error and leaves no folder.
	rng := rand.New(rand.NewPCG(3, 4))
	pix := make([]float32, 300*300)
	for i := range pix {
		pix[i] = rng.Float32() // noise compresses badly: ~90 KB per picture
	}
	noise := filepath.Join(dir, "noise.png")
	if err := viz.WriteGrayPNG(noise, pix, 300, 300, 0, 1); err != nil {
		t.Fatal(err)
	}
	edges := filepath.Join(disk, "edges", "noise")
	c = runChild(t, env, "edges", noise, "--out", edges, "--backend", "cpu")
	if c.err == nil || !strings.Contains(c.stderr, want) {
		t.Errorf("edges onto a full disk: error %v, stderr %q; want a failure saying %q", c.err, c.stderr, want)
	}
	if _, err := os.Stat(filepath.Join(disk, "edges")); err == nil {
		t.Errorf("the failed edges run left its folder")
	}
}

// TestTrainResume kills runs at several points and resumes them with
// --resume: each ends with the same model, bit for bit, and the same history
// as an uninterrupted run (the CPU is deterministic), with every training
// feature that carries state on (AdamW, a cosine schedule with warmup,
// clipping, label smoothing, random shifts).
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines",
			"--epochs", "3", "--batch", "16", "--backend", "cpu", "--shift", "1", "--optimizer", "adamw", "--schedule", "cosine",
			"--warmup", "1", "--clip", "1", "--label-smoothing", "0.1", "--out", out}
	}
	ref := filepath.Join(dir, "ref", "run")
	mustRun(t, nil, args(ref)...)
	want := snapshot(t, ref)
	history := func(s map[string]string) string {
		var m struct {
			History []map[string]any `json:"history"`
		}
		json.Unmarshal([]byte(s[fileMetrics]), &m)
		for _, e := range m.History {
			delete(e, "seconds")
		}
		b, _ := json.Marshal(m.History)
		return string(b)
	}
	for _, crash := range []string{"epoch#1", "epoch#2", "epoch#3", "file#2", "before-publish"} {
		out := filepath.Join(dir, strings.ReplaceAll(crash, "#", ""), "run")
		if c := runChild(t, []string{"VKCNN_TEST_CRASH=" + crash}, args(out)...); !c.killed() {
			t.Fatalf("%s: not killed: %v\n%s%s", crash, c.err, c.stdout, c.stderr)
		}
		c := mustRun(t, nil, "train", "--resume", out, "--backend", "cpu")
		if !strings.Contains(c.stdout, "resuming after epoch") {
			t.Errorf("%s: resume output:\n%s", crash, c.stdout)
		}
		got := snapshot(t, out)
		if got[fileModel] != want[fileModel] {
			t.Errorf("%s: the resumed run's model.safetensors differs from the uninterrupted run's", crash)
		}
		if h, w := history(got), history(want); h != w {
			t.Errorf("%s: history %s, want %s", crash, h, w)
		}
		if b := beside(t, out); len(b) != 0 {
			t.Errorf("%s: %v left beside --out after the resumed run", crash, b)
		}
	}

	// A complete run resumes only to train further, and keeps its settings.
	if c := runChild(t, nil, "train", "--resume", ref, "--backend", "cpu"); c.err == nil || !strings.Contains(c.stderr, "completed 3 epochs") {
		t.Errorf("resume of a complete run: %v\n%s", c.err, c.stderr)
	}
	if c := runChild(t, nil, "train", "--resume", ref, "--lr", "0.1"); c.err == nil || !strings.Contains(c.stderr, "--resume with --lr") {
		t.Errorf("resume with --lr: %v\n%s", c.err, c.stderr)
	}
	if got := snapshot(t, ref); !sameSet(got, want) {
		t.Errorf("failed resumes changed --out")
	}
	c := mustRun(t, nil, "train", "--resume", ref, "--epochs", "4", "--backend", "cpu")
	if !strings.Contains(c.stdout, "epoch 4/4") || strings.Contains(c.stdout, "epoch 3/4") {
		t.Errorf("resume to 4 epochs trained other epochs than the 4th:\n%s", c.stdout)
	}

	// A diverging run fails with nn.ErrDiverged's message and leaves --out
	// as it was.
	before := snapshot(t, ref)
	c = runChild(t, nil, "train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines",
		"--epochs", "1", "--backend", "cpu", "--optimizer", "sgd", "--lr", "1e6", "--out", ref)
	if c.err == nil || !strings.Contains(c.stderr, "training diverged") || !strings.Contains(c.stderr, "lower learning rate") {
		t.Errorf("diverging run: %v\n%s", c.err, c.stderr)
	}
	if got := snapshot(t, ref); !sameSet(got, before) {
		t.Errorf("the diverging run changed --out")
	}
	if b := beside(t, ref); len(b) != 0 {
		t.Errorf("the diverging run left %v beside --out", b)
	}
}
