package importcheck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/fwgit/fwgit"

type pkg struct {
	path    string
	dir     string
	name    string
	imports []string // direct
	deps    []string // transitive
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "netns", "-f",
		"{{.ImportPath}}\t{{.Dir}}\t{{.Name}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", mod+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 {
			t.Fatalf("go list line: %q", sc.Text())
		}
		pkgs = append(pkgs, pkg{f[0], f[1], f[2], strings.Fields(f[3]), strings.Fields(f[4])})
	}
	return pkgs
}

func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

func TestLayering(t *testing.T) {
	pure := []string{"controller/model", "controller/compile", "controller/plan", "schema"}
	forbiddenPure := []string{"net/http", "os/exec", "log/slog", "github.com/google/nftables", "net/rpc"}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.path, mod), "/")
		for _, d := range p.deps {
			drel, ours := strings.CutPrefix(d, mod+"/")
			switch {
			case under(rel, "controller") && ours && under(drel, "agent"):
				t.Errorf("%s imports %s: controller must not import agent", p.path, d)
			case under(rel, "agent") && ours && under(drel, "controller"):
				t.Errorf("%s imports %s: agent must not import controller", p.path, d)
			case under(rel, "cmd/fwgit-agent") && ((ours && under(drel, "controller")) || strings.HasPrefix(d, "github.com/go-git/")):
				t.Errorf("%s links %s: the agent binary must stay lean", p.path, d)
			case under(rel, "schema") && ours && !under(drel, "schema") && drel != "internal/diag":
				t.Errorf("%s imports %s: schema imports only schema/... and internal/diag", p.path, d)
			case ours && under(drel, "controller/controllertest"):
				t.Errorf("%s imports %s: controllertest is for _test files only", p.path, d)
			}
			for _, pr := range pure {
				if !under(rel, pr) {
					continue
				}
				for _, f := range forbiddenPure {
					if under(d, f) {
						t.Errorf("%s imports %s: the compile core is pure", p.path, d)
					}
				}
				if ours && !(under(drel, "schema") || under(drel, "controller/model") || under(drel, "controller/compile") ||
					under(drel, "controller/plan") || drel == "internal/nft" || drel == "internal/diag") {
					t.Errorf("%s imports %s: the compile core imports only schema, model, compile, internal/nft and internal/diag", p.path, d)
				}
			}
		}
		for _, d := range p.imports {
			if under(d, "github.com/google/nftables") && !under(rel, "agent/dataplane") && !under(rel, "internal/nettest") && !under(rel, "hack") {
				t.Errorf("%s imports %s: only agent/dataplane talks netlink", p.path, d)
			}
		}
	}
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.name == "main" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(p.dir, "doc.go"))
		if err != nil {
			t.Errorf("%s: no doc.go", p.path)
			continue
		}
		if !bytes.Contains(src, []byte("// Package "+p.name+" ")) {
			t.Errorf("%s: doc.go does not start with \"// Package %s \"", p.path, p.name)
		}
	}
}
