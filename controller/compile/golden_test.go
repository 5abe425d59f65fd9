package compile_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/load"
)

var update = flag.Bool("update", false, "rewrite the golden want.nft and want.diag files")

// goldenCase is one txtar file of testdata: YAML files in, want.nft or
// want.diag out.
type goldenCase struct {
	name string
	path string
	ar   *txtar.Archive
	fsys fstest.MapFS
}

func readCases(t *testing.T) []goldenCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden cases in testdata (%v)", err)
	}
	var cases []goldenCase
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fsys := fstest.MapFS{}
		for _, f := range ar.Files {
			if strings.HasPrefix(f.Name, "want.") {
				continue
			}
			fsys[f.Name] = &fstest.MapFile{Data: f.Data}
		}
		cases = append(cases, goldenCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), path: p, ar: ar, fsys: fsys})
	}
	return cases
}

// build loads and resolves a case's repository.
func build(t *testing.T, fsys fstest.MapFS) (*model.Inventory, string, bool) {
	t.Helper()
	repo := load.Load(fsys)
	inv, diags := model.Build(repo)
	all := diags
	all.Sort()
	var b strings.Builder
	if err := all.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return inv, b.String(), all.HasErrors()
}

// renderAll is the text of want.nft: every firewall's ruleset in name order.
func renderAll(inv *model.Inventory, rs map[string]*nft.Ruleset) string {
	var b strings.Builder
	for _, f := range inv.Firewalls {
		r := rs[f.Name]
		if r.Empty() {
			fmt.Fprintf(&b, "# firewall %s: no table\n\n", f.Name)
			continue
		}
		fmt.Fprintf(&b, "# firewall %s\n%s\n", f.Name, r.Render())
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range readCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			inv, diagText, invalid := build(t, tc.fsys)
			wantFile, got := "want.nft", ""
			if invalid {
				wantFile, got = "want.diag", diagText
			} else {
				rs := compile.All(inv)
				for name, r := range rs {
					if err := r.Validate(); err != nil {
						t.Errorf("ruleset of %s does not validate: %v", name, err)
					}
				}
				// Warnings belong to load and model, whose own tests
				// pin them; want.nft holds only what compile makes.
				got = renderAll(inv, rs)
			}
			var want []byte
			idx := -1
			for i, f := range tc.ar.Files {
				if strings.HasPrefix(f.Name, "want.") {
					idx = i
					want = f.Data
				}
			}
			if *update {
				f := txtar.File{Name: wantFile, Data: []byte(got)}
				if idx >= 0 {
					tc.ar.Files[idx] = f
				} else {
					tc.ar.Files = append(tc.ar.Files, f)
				}
				if err := os.WriteFile(tc.path, txtar.Format(tc.ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if idx < 0 || tc.ar.Files[idx].Name != wantFile {
				t.Fatalf("%s: want a %s section (run with -update)\n%s", tc.path, wantFile, got)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s: output differs from %s (-want +got):\n%s", tc.path, wantFile, diff)
			}
		})
	}
}

// TestIdempotent checks that compiling is deterministic and that the IR
// survives its JSON form: decoding what was encoded renders the same bytes,
// and the single-firewall, whole-inventory and incremental paths agree.
func TestIdempotent(t *testing.T) {
	for _, tc := range readCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			inv, _, invalid := build(t, tc.fsys)
			if invalid {
				t.Skip("invalid repository")
			}
			first := compile.All(inv)
			again, _, _ := build(t, tc.fsys)
			second := compile.All(again)
			for _, f := range inv.Firewalls {
				a, b := first[f.Name], second[f.Name]
				if a.Render() != b.Render() {
					t.Errorf("%s: two compilations differ", f.Name)
				}
				if one := compile.Firewall(inv, f); one.Render() != a.Render() {
					t.Errorf("%s: Firewall() and All() differ:\n%s", f.Name, cmp.Diff(a.Render(), one.Render()))
				}
				data, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := nft.Decode(data)
				if err != nil {
					t.Fatalf("%s: decoding the encoded ruleset: %v", f.Name, err)
				}
				if dec.Render() != a.Render() {
					t.Errorf("%s: render after a JSON round trip differs", f.Name)
				}
			}
			up := compile.Update(map[string]*nft.Ruleset{}, &model.Inventory{}, inv)
			if diff := cmp.Diff(renderAll(inv, first), renderAll(inv, up)); diff != "" {
				t.Errorf("Update from nothing differs from All (-all +update):\n%s", diff)
			}
		})
	}
}

// TestNftCheck loads every golden ruleset with `nft -c -f`, the kernel's
// own dry run. It skips where nft is missing or may not talk to the kernel.
func TestNftCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	nftPath, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft not installed")
	}
	probe := exec.Command(nftPath, "-c", "-f", "-")
	probe.Stdin = strings.NewReader("table inet fwgit_probe {\n}\n")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("nft -c cannot run here: %v: %s", err, bytes.TrimSpace(out))
	}
	for _, tc := range readCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			inv, _, invalid := build(t, tc.fsys)
			if invalid {
				t.Skip("invalid repository")
			}
			for name, rs := range compile.All(inv) {
				if rs.Empty() {
					continue
				}
				cmd := exec.Command(nftPath, "-c", "-f", "-")
				cmd.Stdin = strings.NewReader(rs.Render())
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: nft -c -f: %v\n%s\n%s", name, err, out, rs.Render())
				}
			}
		})
	}
}
