package load

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes to the loader as two files, one of them in
// a subdirectory. The loader must never panic, and every diagnostic must
// name a file of the input with a line of at least 1 when it has one and a
// column only together with a line.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"../testdata", examplesDir + "/rules", examplesDir + "/firewalls", examplesDir + "/tests"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data, []byte(tagDoc("x")))
			}
		}
	}
	f.Add([]byte("a: [\n---\nkind: Rule\n"), []byte("&a [*a]"))
	f.Add([]byte("apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec: {global: true, rule: |2\n   FROM any\n TO all vms ALLOW tcp PORT 0\n}"), []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fsys := fstest.MapFS{
			"a.yaml":     {Data: a},
			"dir/b.yaml": {Data: b},
		}
		r := Load(fsys)
		lines := map[string]int{"a.yaml": countLines(a), "dir/b.yaml": countLines(b)}
		for _, d := range r.Diags {
			n, ok := lines[d.Pos.File]
			switch {
			case !ok:
				t.Errorf("diagnostic %v names a file that is not in the input", d)
			case d.Pos.Line < 0 || d.Pos.Col < 0 || (d.Pos.Line == 0 && d.Pos.Col != 0):
				t.Errorf("diagnostic %v has an invalid position", d)
			case d.Pos.Line > n:
				t.Errorf("diagnostic %v is past the last line (%d)", d, n)
			case d.Code == "" || d.Msg == "":
				t.Errorf("diagnostic %v lacks a code or a message", d)
			}
		}
		for _, o := range r.Objects {
			if _, ok := lines[o.Pos.File]; !ok || o.Pos.Line < 1 {
				t.Errorf("object %s has position %v", o.Name, o.Pos)
			}
		}
	})
}

func countLines(b []byte) int {
	n := 1
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
