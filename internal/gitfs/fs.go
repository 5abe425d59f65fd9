package gitfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxLinks bounds how many symbolic links one lookup follows, as the Linux
// kernel does (ELOOP after 40).
const maxLinks = 40

// FS is the tree of one commit as a read-only file system. It implements
// [fs.FS], [fs.ReadFileFS], [fs.ReadDirFS] and [fs.StatFS]. Symbolic links
// inside the tree are followed when they stay inside it; submodules are left
// out. Every entry's modification time is the commit time.
type FS struct {
	repo  *Repo
	mtime time.Time
	root  *dir
	// trees caches decoded directories by tree hash; guarded by repo.mu.
	trees map[plumbing.Hash]*dir
}

var (
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
)

// dir is a decoded tree: its entries sorted by name (the order
// [fs.ReadDir] promises) and indexed by name.
type dir struct {
	hash    plumbing.Hash
	entries []object.TreeEntry
	index   map[string]int
}

// node is a resolved path: what an entry is and where its object lives.
type node struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (f *FS) dirFromTree(t *object.Tree) *dir {
	if d, ok := f.trees[t.Hash]; ok {
		return d
	}
	d := &dir{hash: t.Hash, index: make(map[string]int, len(t.Entries))}
	for _, e := range t.Entries {
		if e.Mode == filemode.Submodule || e.Name == "" || strings.Contains(e.Name, "/") {
			continue
		}
		d.entries = append(d.entries, e)
	}
	// Git orders a directory "a" as "a/", so its order is not the plain
	// byte order fs.ReadDir promises.
	slices.SortFunc(d.entries, func(a, b object.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
	for i, e := range d.entries {
		d.index[e.Name] = i
	}
	f.trees[t.Hash] = d
	return d
}

// loadDir decodes the tree h, using the cache. The caller holds repo.mu.
func (f *FS) loadDir(h plumbing.Hash) (*dir, error) {
	if d, ok := f.trees[h]; ok {
		return d, nil
	}
	t, err := object.GetTree(f.repo.repo.Storer, h)
	if err != nil {
		return nil, fmt.Errorf("gitfs: reading tree %s: %w", h, err)
	}
	return f.dirFromTree(t), nil
}

// lookup resolves name, a valid fs path relative to f.root. It follows
// symbolic links in every component except, when follow is false, the last.
// The caller holds repo.mu.
func (f *FS) lookup(name string, follow bool) (node, error) {
	if name == "." {
		return node{name: ".", mode: filemode.Dir, hash: f.root.hash}, nil
	}
	links := 0
	parts := strings.Split(name, "/")
	var stack []*dir // directories from the root down to the current one
	cur := f.root
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		switch p {
		case ".":
			continue
		case "..":
			if len(stack) == 0 {
				return node{}, fs.ErrNotExist // escapes the root
			}
			cur, stack = stack[len(stack)-1], stack[:len(stack)-1]
			continue
		}
		j, ok := cur.index[p]
		if !ok {
			return node{}, fs.ErrNotExist
		}
		e := cur.entries[j]
		last := i == len(parts)-1
		if e.Mode == filemode.Symlink && (!last || follow) {
			links++
			if links > maxLinks {
				return node{}, errors.New("gitfs: too many levels of symbolic links")
			}
			target, err := f.readBlob(e.Hash)
			if err != nil {
				return node{}, err
			}
			t := string(target)
			if t == "" || path.IsAbs(t) {
				return node{}, fs.ErrNotExist
			}
			// Splice the link's target in place of this component.
			rest := append(strings.Split(t, "/"), parts[i+1:]...)
			parts = append(parts[:i:i], rest...)
			i--
			continue
		}
		if last {
			return node{name: p, mode: e.Mode, hash: e.Hash}, nil
		}
		if e.Mode != filemode.Dir {
			return node{}, fs.ErrNotExist
		}
		d, err := f.loadDir(e.Hash)
		if err != nil {
			return node{}, err
		}
		stack = append(stack, cur)
		cur = d
	}
	// Only "." and ".." components after the last real one: a directory.
	return node{name: path.Base(name), mode: filemode.Dir, hash: cur.hash}, nil
}

// readBlob returns the contents of blob h. The caller holds repo.mu.
func (f *FS) readBlob(h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(f.repo.repo.Storer, h)
	if err != nil {
		return nil, fmt.Errorf("gitfs: reading blob %s: %w", h, err)
	}
	rc, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("gitfs: reading blob %s: %w", h, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("gitfs: reading blob %s: %w", h, err)
	}
	return data, nil
}

// size returns the size of blob h without reading it. The caller holds
// repo.mu.
func (f *FS) size(h plumbing.Hash) int64 {
	n, err := f.repo.repo.Storer.EncodedObjectSize(h)
	if err != nil {
		return 0
	}
	return n
}

func (f *FS) info(n node) (*fileInfo, error) {
	fi := &fileInfo{name: n.name, mtime: f.mtime}
	switch n.mode {
	case filemode.Dir:
		fi.mode = fs.ModeDir | 0o755
	case filemode.Symlink:
		fi.mode = fs.ModeSymlink | 0o777
		fi.size = f.size(n.hash)
	case filemode.Executable:
		fi.mode = 0o755
		fi.size = f.size(n.hash)
	case filemode.Regular, filemode.Deprecated:
		fi.mode = 0o644
		fi.size = f.size(n.hash)
	default:
		return nil, fs.ErrNotExist
	}
	return fi, nil
}

// Open opens the named file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.mode == filemode.Dir {
		d, err := f.loadDir(n.hash)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{fs: f, info: fi, dir: d}, nil
	}
	data, err := f.readBlob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fi.size = int64(len(data))
	return &file{info: fi, r: bytes.NewReader(data)}, nil
}

// ReadFile returns the contents of the named file.
func (f *FS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	if n.mode == filemode.Dir {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	data, err := f.readBlob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return data, nil
}

var errIsDir = errors.New("is a directory")

// ReadDir returns the entries of the named directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if n.mode != filemode.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	d, err := f.loadDir(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return f.entries(d, 0, len(d.entries)), nil
}

// entries returns d's entries from i to j as [fs.DirEntry] values.
func (f *FS) entries(d *dir, i, j int) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, j-i)
	for _, e := range d.entries[i:j] {
		out = append(out, &dirEntry{fs: f, n: node{name: e.Name, mode: e.Mode, hash: e.Hash}})
	}
	return out
}

// Stat returns information about the named file, following symbolic links.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	f.repo.mu.Lock()
	defer f.repo.mu.Unlock()
	n, err := f.lookup(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	fi, err := f.info(n)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

type dirEntry struct {
	fs *FS
	n  node
}

func (e *dirEntry) Name() string { return e.n.name }
func (e *dirEntry) IsDir() bool  { return e.n.mode == filemode.Dir }
func (e *dirEntry) Type() fs.FileMode {
	switch e.n.mode {
	case filemode.Dir:
		return fs.ModeDir
	case filemode.Symlink:
		return fs.ModeSymlink
	}
	return 0
}
func (e *dirEntry) Info() (fs.FileInfo, error) {
	e.fs.repo.mu.Lock()
	defer e.fs.repo.mu.Unlock()
	return e.fs.info(e.n)
}
func (e *dirEntry) String() string { return fs.FormatDirEntry(e) }

// file is an open regular file (or followed link) held in memory.
type file struct {
	info *fileInfo
	r    *bytes.Reader
}

func (fl *file) Stat() (fs.FileInfo, error) { return fl.info, nil }
func (fl *file) Read(p []byte) (int, error) { return fl.r.Read(p) }
func (fl *file) Close() error               { return nil }

// Seek and ReadAt make the file usable where an io.ReadSeeker is expected.
func (fl *file) Seek(off int64, whence int) (int64, error) { return fl.r.Seek(off, whence) }
func (fl *file) ReadAt(p []byte, off int64) (int, error)   { return fl.r.ReadAt(p, off) }

// dirFile is an open directory.
type dirFile struct {
	fs   *FS
	info *fileInfo
	dir  *dir
	pos  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errIsDir}
}
func (d *dirFile) Close() error { return nil }

// ReadDir implements [fs.ReadDirFile].
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := len(d.dir.entries) - d.pos
	if n > 0 && rest == 0 {
		return nil, io.EOF
	}
	if n <= 0 || n > rest {
		n = rest
	}
	out := d.fs.entries(d.dir, d.pos, d.pos+n)
	d.pos += n
	return out, nil
}
