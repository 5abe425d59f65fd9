package load

import (
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/fwrule"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Object is one decoded YAML document of the repository. Exactly one of the
// kind pointers is set. Objects whose document could not be decoded at all
// (bad YAML, unknown kind or apiVersion) are not returned; their problems are
// diagnostics.
type Object struct {
	// Pos is the position of the document's "kind" key (or its start).
	Pos  diag.Pos
	Kind string
	// Name is metadata.name.
	Name string

	Firewall *v1.Firewall
	Rule     *v1.Rule
	Tag      *v1.Tag
	Test     *v1.Test
	Settings *v1.Settings

	// ParsedRule is the parsed spec.rule of a Rule whose text is valid
	// (fwrule create level, with enforceSubnetMask); nil otherwise.
	ParsedRule *fwrule.Rule

	// Fields maps the path of every field present in the document to the
	// position of its value. Paths use dots for keys and [i] for list
	// items: "metadata.name", "spec.rule", "spec.tags.role",
	// "spec.addresses[1]", "spec.cases[2].port".
	Fields map[string]diag.Pos

	// Invalid reports that the document has at least one error diagnostic;
	// its decoded values may then be partial or hold what failed the
	// checks, as written.
	Invalid bool

	// ruleTextPos maps offsets of a valid rule text to file positions; see
	// [Object.RulePos].
	ruleTextPos func(off int) (diag.Pos, bool)
}

// PosOf returns the position of the field at path, falling back to the
// closest present parent path, then to the document position.
func (o *Object) PosOf(path string) diag.Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := o.Fields[p]; ok {
			return pos
		}
	}
	return o.Pos
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// Repo is the result of loading a repository.
type Repo struct {
	// Objects in file order, then document order.
	Objects []Object
	// Files is the number of YAML files read.
	Files int
	// Diags holds every problem found while loading, sorted by position.
	Diags diag.List
}
