package v1

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// schemaDoc is the parsed fwgit.schema.json as plain JSON values.
func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatalf("fwgit.schema.json: %v", err)
	}
	return doc
}

// TestJSONSchemaMatchesGoTypes walks the v1 types by reflection and checks
// that the schema's $defs have the same property names, the same required
// fields and the same basic types, so that neither drifts from the other.
func TestJSONSchemaMatchesGoTypes(t *testing.T) {
	defs, _ := schemaDoc(t)["$defs"].(map[string]any)
	if defs == nil {
		t.Fatal("schema has no $defs")
	}
	types := []reflect.Type{
		reflect.TypeFor[Firewall](), reflect.TypeFor[FirewallSpec](), reflect.TypeFor[Agent](),
		reflect.TypeFor[Rule](), reflect.TypeFor[RuleSpec](),
		reflect.TypeFor[Tag](), reflect.TypeFor[TagSpec](),
		reflect.TypeFor[Test](), reflect.TypeFor[TestSpec](), reflect.TypeFor[TestCase](),
		reflect.TypeFor[Settings](), reflect.TypeFor[SettingsSpec](), reflect.TypeFor[ObjectMeta](),
	}
	for _, typ := range types {
		t.Run(typ.Name(), func(t *testing.T) {
			def, _ := defs[typ.Name()].(map[string]any)
			if def == nil {
				t.Fatalf("no $defs/%s in the schema", typ.Name())
			}
			if def["additionalProperties"] != false {
				t.Errorf("$defs/%s: additionalProperties is not false; decoding is strict", typ.Name())
			}
			props, _ := def["properties"].(map[string]any)
			wantTypes, wantRequired := goFields(typ)
			gotTypes := map[string]string{}
			for name, p := range props {
				gotTypes[name] = schemaType(p.(map[string]any))
			}
			if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
				t.Errorf("$defs/%s properties differ from the Go type (-go +schema):\n%s", typ.Name(), diff)
			}
			var gotRequired []string
			if r, ok := def["required"].([]any); ok {
				for _, x := range r {
					gotRequired = append(gotRequired, x.(string))
				}
			}
			slices.Sort(gotRequired)
			if diff := cmp.Diff(wantRequired, gotRequired); diff != "" {
				t.Errorf("$defs/%s required fields differ from the Go type (-go +schema):\n%s", typ.Name(), diff)
			}
		})
	}
	kinds, _ := schemaDoc(t)["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any)
	want := []any{KindFirewall, KindRule, KindTag, KindTest, KindSettings}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("schema kind enum differs (-want +got):\n%s", diff)
	}
}

// goFields returns the JSON field names of a struct with the basic schema
// type of each, and its required fields (those without omitempty), sorted.
func goFields(typ reflect.Type) (map[string]string, []string) {
	types := map[string]string{}
	var required []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			// TypeMeta: apiVersion and kind are constants per kind.
			sub, req := goFields(f.Type)
			for k := range sub {
				types[k] = "const"
			}
			required = append(required, req...)
			continue
		}
		types[name] = goType(f.Type)
		if !strings.Contains(","+opts+",", ",omitempty,") {
			required = append(required, name)
		}
	}
	slices.Sort(required)
	return types, required
}

var tagValueType = reflect.TypeFor[TagValue]()

func goType(t reflect.Type) string {
	switch {
	case t == tagValueType:
		return "ref:TagValue"
	case t.Kind() == reflect.Pointer:
		return goType(t.Elem())
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int:
		return "integer"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Slice:
		return "array of " + goType(t.Elem())
	case t.Kind() == reflect.Map:
		return "map of " + goType(t.Elem())
	case t.Kind() == reflect.Struct:
		return "ref:" + t.Name()
	}
	return "unknown " + t.String()
}

func schemaType(p map[string]any) string {
	if _, ok := p["const"]; ok {
		return "const"
	}
	if r, ok := p["$ref"].(string); ok {
		return "ref:" + strings.TrimPrefix(r, "#/$defs/")
	}
	switch p["type"] {
	case "array":
		return "array of " + schemaType(p["items"].(map[string]any))
	case "object":
		if ap, ok := p["additionalProperties"].(map[string]any); ok {
			return "map of " + schemaType(ap)
		}
		return "object"
	case nil:
		return "untyped"
	}
	return p["type"].(string)
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(JSONSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(JSONSchemaID)
	if err != nil {
		t.Fatalf("compiling fwgit.schema.json: %v", err)
	}
	return s
}

// yamlDocs converts every document of a YAML stream to a JSON value as the
// jsonschema package reads it.
func yamlDocs(t *testing.T, data []byte) []any {
	t.Helper()
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, inst)
	}
}

// TestExamplesMatchJSONSchema validates every document of examples/repo
// against the schema, as an editor would.
func TestExamplesMatchJSONSchema(t *testing.T) {
	s := compileSchema(t)
	root := os.DirFS("../../examples/repo")
	n := 0
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		for i, doc := range yamlDocs(t, data) {
			n++
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s document %d: %v", p, i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Errorf("validated %d documents of examples/repo, want the whole repository (30 or more)", n)
	}
}

// TestJSONSchemaRejects makes sure the schema is not vacuous: documents the
// loader rejects for their shape are rejected by the schema too.
func TestJSONSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	const owner = "f3a9a535-0975-423a-a9af-18c4ce0b6587"
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"minimal rule", "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec: {rule: x, global: true}", true},
		{"minimal tag", "apiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: Role}", true},
		{"wrong apiVersion", "apiVersion: fwgit/v2\nkind: Tag\nmetadata: {name: role}", false},
		{"unknown kind", "apiVersion: fwgit/v1\nkind: Zone\nmetadata: {name: z}", false},
		{"unknown field", "apiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: role}\nspec: {valeus: [a]}", false},
		{"wrong type", "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: f}\nspec: {addresses: {a: 1}}", false},
		{"bad firewall name", "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: Web_1}\nspec: {}", false},
		{"rule with owner and global", "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec: {rule: x, global: true, owner: " + owner + "}", false},
		{"rule with neither", "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec: {rule: x}", false},
		{"rule with owner", "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec: {rule: x, owner: " + owner + "}", true},
		{"float tag value", "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: f}\nspec: {tags: {w: 1.5}}", false},
		{"pull agent with url", "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: f}\nspec: {agent: {mode: pull, url: 'https://a'}}", false},
		{"push agent without url", "apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: f}\nspec: {agent: {}}", false},
		{"port out of range", "apiVersion: fwgit/v1\nkind: Test\nmetadata: {name: t}\nspec: {cases: [{firewall: f, from: 198.18.0.1, proto: tcp, port: 0, expect: drop}]}", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := yamlDocs(t, []byte(tc.doc))
			if len(docs) != 1 {
				t.Fatalf("%d documents, want 1", len(docs))
			}
			err := s.Validate(docs[0])
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%s) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}
