package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/fwgit/fwgit/internal/logfield"
)

// MaxDirFile is the largest file a [Dir] snapshot holds; larger files are
// left out (policy files are small).
const MaxDirFile = 8 << 20

// Dir watches a local directory (development): every change, debounced,
// yields a snapshot copied into memory, so the files cannot change under a
// load. Hidden entries (.git, editor swap files) are ignored.
type Dir struct {
	root     string
	debounce time.Duration
	log      *slog.Logger
	trigger  chan struct{}
}

var _ Source = (*Dir)(nil)

// NewDir returns a source for root; debounce defaults to 300ms.
func NewDir(root string, debounce time.Duration, log *slog.Logger) *Dir {
	if debounce <= 0 {
		debounce = 300 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dir{root: root, debounce: debounce, log: log, trigger: make(chan struct{}, 1)}
}

// Trigger implements [Source].
func (d *Dir) Trigger() {
	select {
	case d.trigger <- struct{}{}:
	default:
	}
}

// Run implements [Source].
func (d *Dir) Run(ctx context.Context, out chan<- Snapshot) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("source: watching %s: %w", d.root, err)
	}
	defer w.Close()
	if err := d.watchTree(w, d.root); err != nil {
		return err
	}
	var last string
	emit := func() bool {
		snap, err := ReadDir(d.root)
		if err != nil {
			d.log.Warn("reading policy directory", logfield.Error, err)
			return true
		}
		if snap.Revision == last {
			return true
		}
		last = snap.Revision
		d.log.Info("new revision", logfield.Revision, snap.Revision)
		select {
		case out <- snap:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !emit() {
		return nil
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if hidden(d.root, ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					if err := d.watchTree(w, ev.Name); err != nil {
						d.log.Warn("watching new directory", logfield.Error, err)
					}
				}
			}
			timer.Reset(d.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			d.log.Warn("watch error", logfield.Error, err)
			timer.Reset(d.debounce)
		case <-d.trigger:
			if !emit() {
				return nil
			}
		case <-timer.C:
			if !emit() {
				return nil
			}
		}
	}
}

func (d *Dir) watchTree(w *fsnotify.Watcher, top string) error {
	return filepath.WalkDir(top, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("source: walking %s: %w", p, err)
		}
		if !e.IsDir() {
			return nil
		}
		if p != d.root && hidden(d.root, p) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			return fmt.Errorf("source: watching %s: %w", p, err)
		}
		return nil
	})
}

// hidden reports whether p (under root) has a path element starting with a
// dot or ending with "~".
func hidden(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." {
		return false
	}
	for _, el := range strings.Split(filepath.ToSlash(rel), "/") {
		if strings.HasPrefix(el, ".") || strings.HasSuffix(el, "~") {
			return true
		}
	}
	return false
}

// ReadDir copies the regular files under root into an in-memory snapshot
// whose revision is "dir@sha256:" and a hash over every path and content.
func ReadDir(root string) (Snapshot, error) {
	files := fstest.MapFS{}
	var names []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && hidden(root, p) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil || info.Size() > MaxDirFile {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		files[name] = &fstest.MapFile{Data: b, Mode: 0o444, ModTime: info.ModTime()}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("source: reading %s: %w", root, err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n].Data))
		h.Write(files[n].Data)
	}
	return Snapshot{
		Revision: "dir@sha256:" + hex.EncodeToString(h.Sum(nil)),
		Commit:   Commit{Time: time.Now()},
		FS:       files,
	}, nil
}
