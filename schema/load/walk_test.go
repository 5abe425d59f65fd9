package load

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func tagDoc(name string) string {
	return "apiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: " + name + "}\n"
}

func TestLoadWalk(t *testing.T) {
	fsys := mapFS(map[string]string{
		"tags/b.yaml":            tagDoc("b"),
		"tags/a.yml":             tagDoc("a1") + "---\n" + tagDoc("a2") + "...\n---\n" + tagDoc("a3"),
		"tags.yaml":              tagDoc("top"),
		"z/deep/er/c.yaml":       tagDoc("c"),
		".github/workflow.yaml":  "not: [valid",
		"tags/.hidden.yaml":      "not: [valid",
		"tags/.cache/x.yaml":     "not: [valid",
		"README.md":              "# not YAML",
		"tags/notes.txt":         "kind: nonsense",
		"tags/upper.YAML":        "not: [valid",
		"tags/tags.yaml.orig":    "not: [valid",
		"z/deep/er/empty.yaml":   "",
		"z/deep/er/comment.yaml": "# only a comment\n",
	})
	r := Load(fsys)
	if len(r.Diags) != 0 {
		t.Fatalf("Load diagnostics:\n%s", r.Diags)
	}
	var got []string
	for _, o := range r.Objects {
		got = append(got, o.Pos.File+" "+o.Name)
	}
	// Sorted by path ("tags.yaml" sorts before "tags/…"), then document order.
	want := []string{
		"tags.yaml top",
		"tags/a.yml a1",
		"tags/a.yml a2",
		"tags/a.yml a3",
		"tags/b.yaml b",
		"z/deep/er/c.yaml c",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if r.Files != 6 {
		t.Errorf("Files = %d, want 6 (the YAML files read, empty ones included)", r.Files)
	}
	if got := r.Objects[2].Pos.Line; got != 6 {
		t.Errorf("second document of tags/a.yml at line %d, want 6", got)
	}
}

func TestLoadIsDeterministic(t *testing.T) {
	files := map[string]string{}
	for _, n := range []string{"q", "w", "e", "r", "t", "y"} {
		files["d"+n+"/x.yaml"] = "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: " + n + "}\nspec:\n  tags: {b: 1.5, a: [x], c: {}}\n  bogus: 1\n  addresses: [x, y]\n"
	}
	first := Load(mapFS(files))
	if len(first.Diags) != 6*6 {
		t.Fatalf("Load found %d diagnostics, want 36:\n%s", len(first.Diags), first.Diags)
	}
	for i := 0; i < 20; i++ {
		again := Load(mapFS(files))
		if diff := cmp.Diff(first.Diags, again.Diags); diff != "" {
			t.Fatalf("run %d differs (-first +again):\n%s", i, diff)
		}
	}
}

// failFS wraps an fs.FS and fails to read one file.
type failFS struct {
	fs.FS
	bad string
}

func (f failFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("input/output error")}
	}
	return f.FS.Open(name)
}

func TestLoadReportsUnreadableFiles(t *testing.T) {
	fsys := failFS{FS: fstest.MapFS{
		"a.yaml": {Data: []byte(tagDoc("a"))},
		"b.yaml": {Data: []byte(tagDoc("b"))},
	}, bad: "a.yaml"}
	r := Load(fsys)
	if got, want := brief(r.Diags), []string{"a.yaml error read-error"}; !cmp.Equal(got, want) {
		t.Errorf("diagnostics = %v, want %v", got, want)
	}
	if len(r.Objects) != 1 || r.Objects[0].Name != "b" {
		t.Errorf("objects = %v, want only b", r.Objects)
	}
}

func TestLoadFile(t *testing.T) {
	r := LoadFile("one.yaml", []byte(tagDoc("a")+"---\nkind: Tag\n"))
	if len(r.Objects) != 1 || r.Files != 1 {
		t.Errorf("LoadFile: %d objects, %d files; want 1, 1", len(r.Objects), r.Files)
	}
	if got, want := brief(r.Diags), []string{"one.yaml:5:1 error missing-field"}; !cmp.Equal(got, want) {
		t.Errorf("diagnostics = %v, want %v", got, want)
	}
}
