package source

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// testRepo is a real repository on disk with a worktree.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: r}
}

// commit writes files (path → content; "" deletes) and commits them on
// main, signed when key is not nil. It returns the commit hash.
func (r *testRepo) commit(msg string, files map[string]string, key *openpgp.Entity) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for p, c := range files {
		full := filepath.Join(r.dir, p)
		if c == "" {
			if _, err := wt.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(p); err != nil {
			r.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:  &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()},
		SignKey: key,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	// The test repository's HEAD is master after init; publish as main.
	if err := exec.Command("git", "-C", r.dir, "branch", "-f", "main", h.String()).Run(); err != nil {
		r.t.Fatalf("git branch: %v", err)
	}
	return h.String()
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not installed (file:// and http-backend need it)")
	}
}

func readAll(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fetchCount(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "fwgit_git_fetch_total" && m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// httpRemote serves dir's parent over Git's smart HTTP protocol with
// `git http-backend`, as a hosting service would.
func httpRemote(t *testing.T, dir string) string {
	t.Helper()
	backend := filepath.Join(strings.TrimSpace(gitExecPath(t)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skip("git-http-backend not installed")
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(dir), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(dir)
}

func gitExecPath(t *testing.T) string {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skip("git --exec-path failed")
	}
	return string(out)
}

func TestGitFollowsBranch(t *testing.T) {
	needGit(t)
	for _, transport := range []string{"file", "http"} {
		t.Run(transport, func(t *testing.T) {
			r := newTestRepo(t)
			h1 := r.commit("first", map[string]string{"policy/fw.yaml": "a: 1\n", "README": "x"}, nil)
			url := "file://" + r.dir
			if transport == "http" {
				url = httpRemote(t, r.dir)
			}
			reg := prometheus.NewRegistry()
			g, err := NewGit(GitOptions{URL: url, Branch: "main", Path: "policy", Dir: filepath.Join(t.TempDir(), "clone"), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			snap, changed, err := g.CheckOnce(ctx)
			if err != nil || !changed {
				t.Fatalf("CheckOnce() = changed %v, %v; want a first snapshot", changed, err)
			}
			if snap.Revision != "main@sha1:"+h1 || snap.Commit.Subject != "first" || snap.Commit.Author != "Ada <ada@example.com>" {
				t.Errorf("snapshot = %q %+v", snap.Revision, snap.Commit)
			}
			if diff := cmp.Diff(map[string]string{"fw.yaml": "a: 1\n"}, readAll(t, snap.FS)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if _, changed, err := g.CheckOnce(ctx); changed || err != nil {
				t.Errorf("CheckOnce() with an unmoved head = changed %v, %v; want unchanged", changed, err)
			}
			h2 := r.commit("second", map[string]string{"policy/fw.yaml": "a: 2\n"}, nil)
			snap2, changed, err := g.CheckOnce(ctx)
			if err != nil || !changed || snap2.Revision != "main@sha1:"+h2 {
				t.Fatalf("CheckOnce() after a commit = %q changed %v, %v", snap2.Revision, changed, err)
			}
			// The older snapshot is immutable.
			if got := readAll(t, snap.FS)["fw.yaml"]; got != "a: 1\n" {
				t.Errorf("old snapshot now reads %q", got)
			}
			if got := readAll(t, snap2.FS)["fw.yaml"]; got != "a: 2\n" {
				t.Errorf("new snapshot reads %q", got)
			}
		})
	}
}

// run runs src until the end of the test, checking that Run then returns
// no error, and returns a function that receives its next snapshot or
// fails the test after 10 s.
func run(t *testing.T, src Source) (recv func() Snapshot) {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Snapshot)
	done := make(chan error)
	go func() { done <- src.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	return func() Snapshot {
		t.Helper()
		select {
		case s := <-out:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no snapshot")
		}
		return Snapshot{}
	}
}

func TestGitRunTrigger(t *testing.T) {
	needGit(t)
	r := newTestRepo(t)
	r.commit("first", map[string]string{"fw.yaml": "a: 1\n"}, nil)
	reg := prometheus.NewRegistry()
	g, err := NewGit(GitOptions{URL: "file://" + r.dir, Dir: filepath.Join(t.TempDir(), "clone"), Interval: time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	recv := run(t, g)
	recv()
	g.Trigger() // head unchanged: counted, nothing sent
	h2 := r.commit("second", map[string]string{"fw.yaml": "a: 2\n"}, nil)
	g.Trigger()
	if s := recv(); s.Revision != "main@sha1:"+h2 {
		t.Errorf("after Trigger: revision %q, want main@sha1:%s", s.Revision, h2)
	}
	if n := fetchCount(t, reg, "success"); n != 2 {
		t.Errorf("fwgit_git_fetch_total{result=success} = %v, want 2", n)
	}
}

func TestGitMissingBranch(t *testing.T) {
	needGit(t)
	r := newTestRepo(t)
	r.commit("first", map[string]string{"fw.yaml": "a: 1\n"}, nil)
	g, _ := NewGit(GitOptions{URL: "file://" + r.dir, Branch: "nope", Dir: filepath.Join(t.TempDir(), "clone")})
	if _, _, err := g.CheckOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("CheckOnce() on a missing branch = %v, want an error naming it", err)
	}
	g, _ = NewGit(GitOptions{URL: "file://" + filepath.Join(t.TempDir(), "none"), Dir: filepath.Join(t.TempDir(), "clone")})
	if _, _, err := g.CheckOnce(context.Background()); err == nil {
		t.Error("CheckOnce() on a missing remote succeeded")
	}
}

func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return e, buf.String()
}

func TestGitSignatures(t *testing.T) {
	needGit(t)
	trusted, ring := newKey(t, "release")
	stranger, _ := newKey(t, "mallory")
	tests := []struct {
		name    string
		key     *openpgp.Entity
		wantErr func(error) bool
	}{
		{"signed by a trusted key", trusted, func(err error) bool { return err == nil }},
		{"unsigned", nil, func(err error) bool { return errors.Is(err, ErrUnsigned) }},
		{"signed by another key", stranger, func(err error) bool { var se *SignatureError; return errors.As(err, &se) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRepo(t)
			r.commit("c", map[string]string{"fw.yaml": "a: 1\n"}, tc.key)
			g, _ := NewGit(GitOptions{URL: "file://" + r.dir, Dir: filepath.Join(t.TempDir(), "clone"), Keyring: ring})
			snap, changed, err := g.CheckOnce(context.Background())
			if err != nil || !changed {
				t.Fatalf("CheckOnce() = %v, %v", changed, err)
			}
			if !tc.wantErr(snap.Refused) {
				t.Errorf("Refused = %v", snap.Refused)
			}
			if (snap.Refused == nil) != (snap.FS != nil) {
				t.Errorf("FS present = %v with Refused = %v; a refused snapshot carries no files", snap.FS != nil, snap.Refused)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"https://user:tok@git.example.com/a/b.git": "https://git.example.com/a/b.git",
		"https://git.example.com/a@b.git":          "https://git.example.com/a@b.git",
		"file:///srv/repo":                         "file:///srv/repo",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := redact(in); got != want {
				t.Errorf("redact(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestDirWatches(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "fw.yaml"), []byte("a: 1\n"), 0o644)
	d := NewDir(root, 50*time.Millisecond, nil)
	recv := run(t, d)
	s1 := recv()
	if !strings.HasPrefix(s1.Revision, "dir@sha256:") {
		t.Errorf("revision = %q, want dir@sha256:…", s1.Revision)
	}
	// A new subdirectory and a file in it: the watch is recursive.
	os.MkdirAll(filepath.Join(root, "rules", "web"), 0o755)
	os.WriteFile(filepath.Join(root, "rules", "web", "r.yaml"), []byte("b: 2\n"), 0o644)
	s2 := recv()
	for s2.FS != nil && readAll(t, s2.FS)["rules/web/r.yaml"] == "" {
		s2 = recv() // the directory's creation may have been seen first
	}
	if s2.Revision == s1.Revision {
		t.Error("revision did not change with the content")
	}
	files := readAll(t, s2.FS)
	os.WriteFile(filepath.Join(root, "rules", "web", "r.yaml"), []byte("b: 3\n"), 0o644)
	s3 := recv()
	if got := readAll(t, s3.FS)["rules/web/r.yaml"]; got != "b: 3\n" {
		t.Errorf("after edit: %q", got)
	}
	if files["rules/web/r.yaml"] != "b: 2\n" {
		t.Errorf("earlier snapshot changed: %q", files["rules/web/r.yaml"])
	}
}

func TestReadDirIgnoresHidden(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "fw.yaml"), []byte("a\n"), 0o644)
	a, err := ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, ".git"), 0o755)
	os.WriteFile(filepath.Join(root, ".git", "HEAD"), []byte("ref\n"), 0o644)
	os.WriteFile(filepath.Join(root, "fw.yaml~"), []byte("old\n"), 0o644)
	b, _ := ReadDir(root)
	if a.Revision != b.Revision {
		t.Errorf("hidden files changed the revision: %s vs %s", a.Revision, b.Revision)
	}
	if diff := cmp.Diff(map[string]string{"fw.yaml": "a\n"}, readAll(t, b.FS)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
