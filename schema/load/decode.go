package load

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fwgit/fwgit/internal/diag"
	v1 "github.com/fwgit/fwgit/schema/v1"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// docDecoder decodes one YAML document into the v1 types by walking its
// nodes, so that the position of every field is known. It follows the
// semantics of sigs.k8s.io/yaml, which converts YAML to JSON and then
// decodes the JSON: keys become strings, aliases are expanded, merge keys
// ("<<") are applied, null means absent, and a scalar of any type may fill a
// string field. Unlike sigs.k8s.io/yaml it reports every problem with a
// position instead of stopping at the first.
type docDecoder struct {
	l       *loader
	f       *srcFile
	lineOff int
	diags   *diag.List
	// budget limits the nodes visited, so aliases cannot expand a small
	// document into an enormous one ("billion laughs").
	budget    int
	exhausted bool
	obj       *Object
	errors    int
	// ruleNode and ruleKey are the value and key of spec.rule, kept to map
	// rule-text errors into the file.
	ruleNode, ruleKey *yaml.Node
}

func (d *docDecoder) pos(n *yaml.Node) diag.Pos {
	line := n.Line + d.lineOff
	col := n.Column
	if off := d.f.offset(line, col); off >= 0 {
		col = off - d.f.lineStarts[line-1] + 1
	}
	return diag.Pos{File: d.f.name, Line: line, Col: col}
}

func (d *docDecoder) errorf(pos diag.Pos, code, format string, args ...any) {
	d.errors++
	d.diags.Errorf(pos, code, format, args...)
}

// exhaust reports, once per document, that the budget ran out at n.
func (d *docDecoder) exhaust(n *yaml.Node) {
	if !d.exhausted {
		d.exhausted = true
		d.errorf(d.pos(n), v1.CodeTooComplex, "aliases and merge keys expand this document beyond what the loader accepts")
	}
}

// resolve follows aliases and charges the budget.
func (d *docDecoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	d.budget--
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// pair is one key of a mapping with its value, after merge keys have been
// applied.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// pairs lists the entries of a mapping node: its own keys in order, then
// the keys brought in by merge keys that it does not define itself.
// Duplicate and non-scalar keys are reported.
func (d *docDecoder) pairs(m *yaml.Node, depth int) []pair {
	d.budget -= len(m.Content) / 2
	if d.budget <= 0 {
		d.exhaust(m)
		return nil
	}
	out := make([]pair, 0, len(m.Content)/2)
	// Small mappings, the usual case, look keys up by scanning out;
	// large ones use a map.
	var seen map[string]*yaml.Node
	if len(m.Content) > 32 {
		seen = make(map[string]*yaml.Node, len(m.Content)/2)
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := d.resolve(m.Content[i]), m.Content[i+1]
		if kn == nil {
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			d.errorf(d.pos(kn), v1.CodeInvalidKey, "mapping keys must be strings, got %s", describeNode(kn))
			continue
		}
		if kn.Tag == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if prev := findKey(out, seen, kn.Value); prev != nil {
			d.errorf(d.pos(kn), v1.CodeDuplicateKey, "key %q is already defined at line %d", kn.Value, prev.Line+d.lineOff)
			continue
		}
		if seen != nil {
			seen[kn.Value] = kn
		}
		out = append(out, pair{kn.Value, kn, vn})
	}
	if depth > 10 {
		return out
	}
	for _, mv := range merges {
		mv = d.resolve(mv)
		if mv == nil {
			continue
		}
		var srcs []*yaml.Node
		switch mv.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{mv}
		case yaml.SequenceNode:
			for _, s := range mv.Content {
				srcs = append(srcs, d.resolve(s))
			}
		}
		for _, s := range srcs {
			if s == nil || s.Kind != yaml.MappingNode {
				d.errorf(d.pos(mv), v1.CodeWrongType, "a merge key (<<) needs a map or a list of maps")
				break
			}
			for _, p := range d.pairs(s, depth+1) {
				if findKey(out, seen, p.key) == nil {
					if seen != nil {
						seen[p.key] = p.kn
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// findKey returns the key node of key among out (or in seen, when the
// mapping is large enough to index), or nil.
func findKey(out []pair, seen map[string]*yaml.Node, key string) *yaml.Node {
	if seen != nil {
		return seen[key]
	}
	for _, p := range out {
		if p.key == key {
			return p.kn
		}
	}
	return nil
}

// document decodes one parsed document. It returns false for documents that
// are empty or cannot become an object (not a mapping, wrong apiVersion,
// unknown kind).
func (d *docDecoder) document(doc *yaml.Node) (Object, bool) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return Object{}, false
	}
	root := d.resolve(doc.Content[0])
	if root == nil || isNull(root) {
		return Object{}, false
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(d.pos(root), v1.CodeNotAnObject, "a manifest must be a map with apiVersion and kind, got %s", describeNode(root))
		return Object{}, false
	}
	ps := d.pairs(root, 0)
	var apiN, kindN, kindKey *yaml.Node
	for _, p := range ps {
		switch p.key {
		case "apiVersion":
			apiN = d.resolve(p.v)
		case "kind":
			kindN, kindKey = d.resolve(p.v), p.kn
		}
	}
	ok := true
	switch {
	case apiN == nil || isNull(apiN):
		d.errorf(d.pos(root), v1.CodeMissingField, "missing required field %q (it must be %q)", "apiVersion", v1.APIVersion)
		ok = false
	case apiN.Kind != yaml.ScalarNode || apiN.Value != v1.APIVersion:
		d.errorf(d.pos(apiN), v1.CodeAPIVersion, "apiVersion must be %q, got %s", v1.APIVersion, nodeText(apiN))
		ok = false
	}
	var kind string
	switch {
	case kindN == nil || isNull(kindN):
		d.errorf(d.pos(root), v1.CodeMissingField, "missing required field %q (one of %s)", "kind", strings.Join(kinds, ", "))
		return Object{}, false
	case kindN.Kind != yaml.ScalarNode || !isKind(kindN.Value):
		msg := fmt.Sprintf("unknown kind %s; the kinds are %s", nodeText(kindN), strings.Join(kinds, ", "))
		if kindN.Kind == yaml.ScalarNode {
			if s := suggest(kindN.Value, kinds); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		}
		d.errorf(d.pos(kindN), v1.CodeUnknownKind, "%s", msg)
		return Object{}, false
	default:
		kind = kindN.Value
	}
	if !ok {
		return Object{}, false
	}
	o := Object{Pos: d.pos(kindKey), Kind: kind, Fields: make(map[string]diag.Pos, 16)}
	d.obj = &o
	var target reflect.Value
	switch kind {
	case v1.KindFirewall:
		o.Firewall = &v1.Firewall{}
		target = reflect.ValueOf(o.Firewall).Elem()
	case v1.KindRule:
		o.Rule = &v1.Rule{}
		target = reflect.ValueOf(o.Rule).Elem()
	case v1.KindTag:
		o.Tag = &v1.Tag{}
		target = reflect.ValueOf(o.Tag).Elem()
	case v1.KindTest:
		o.Test = &v1.Test{}
		target = reflect.ValueOf(o.Test).Elem()
	case v1.KindSettings:
		o.Settings = &v1.Settings{}
		target = reflect.ValueOf(o.Settings).Elem()
	}
	d.decodeStruct("", root, ps, target)
	if d.exhausted {
		return Object{}, false
	}
	o.Name = metaName(&o)
	d.check(&o)
	o.Invalid = d.errors > 0
	return o, true
}

var kinds = []string{v1.KindFirewall, v1.KindRule, v1.KindTag, v1.KindTest, v1.KindSettings}

func isKind(s string) bool {
	for _, k := range kinds {
		if s == k {
			return true
		}
	}
	return false
}

func metaName(o *Object) string {
	switch {
	case o.Firewall != nil:
		return o.Firewall.Metadata.Name
	case o.Rule != nil:
		return o.Rule.Metadata.Name
	case o.Tag != nil:
		return o.Tag.Metadata.Name
	case o.Test != nil:
		return o.Test.Metadata.Name
	case o.Settings != nil:
		return o.Settings.Metadata.Name
	}
	return ""
}

// structInfo describes the JSON fields of a struct type, with inline
// (embedded) structs flattened.
type structInfo struct {
	fields []fieldInfo
	byName map[string]int
	names  []string
}

type fieldInfo struct {
	name     string
	index    []int
	required bool
}

func (l *loader) info(t reflect.Type) *structInfo {
	if si, ok := l.structs[t]; ok {
		return si
	}
	si := &structInfo{byName: map[string]int{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && name == "" {
				walk(sf.Type, idx)
				continue
			}
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			si.byName[name] = len(si.fields)
			si.fields = append(si.fields, fieldInfo{name: name, index: idx, required: !hasOpt(opts, "omitempty")})
			si.names = append(si.names, name)
		}
	}
	walk(t, nil)
	l.structs[t] = si
	return si
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var tagValueType = reflect.TypeFor[v1.TagValue]()

// decodeStruct fills the struct v from the entries ps of mapping m at path.
func (d *docDecoder) decodeStruct(path string, m *yaml.Node, ps []pair, v reflect.Value) {
	si := d.l.info(v.Type())
	present := make([]bool, len(si.fields))
	for _, p := range ps {
		i, ok := si.byName[p.key]
		if !ok {
			where := ""
			if path != "" {
				where = " in " + path
			}
			msg := fmt.Sprintf("unknown field %q%s", p.key, where)
			if s := suggest(p.key, si.names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(d.pos(p.kn), v1.CodeUnknownField, "%s", msg)
			continue
		}
		fi := si.fields[i]
		vn := d.resolve(p.v)
		if vn == nil {
			continue
		}
		fp := join(path, p.key)
		if fp == "spec.rule" && vn.Kind == yaml.ScalarNode {
			d.ruleNode, d.ruleKey = vn, p.kn
		}
		if !isNull(vn) {
			present[i] = true
		}
		d.decodeValue(fp, vn, v.FieldByIndex(fi.index))
	}
	for i, fi := range si.fields {
		if fi.required && !present[i] {
			d.errorf(d.pos(m), v1.CodeMissingField, "missing required field %q", join(path, fi.name))
		}
	}
}

// decodeValue decodes the node n (aliases resolved) into v and records the
// position of path. It reports whether n had the expected shape; v is left
// alone when it did not.
func (d *docDecoder) decodeValue(path string, n *yaml.Node, v reflect.Value) bool {
	if d.budget <= 0 {
		d.exhaust(n)
		return false
	}
	d.obj.Fields[path] = d.pos(n)
	t := v.Type()
	if t == tagValueType {
		return d.tagValue(path, n, v)
	}
	if isNull(n) {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		if !d.decodeValue(path, n, e.Elem()) {
			return false
		}
		v.Set(e)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.wrongType(path, n, t)
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return d.wrongType(path, n, t)
		}
		v.SetBool(strings.EqualFold(n.Value, "true"))
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return d.wrongType(path, n, t)
		}
		i, err := parseInt(n.Value)
		if err != nil || int64(int(i)) != i {
			d.errorf(d.pos(n), v1.CodeWrongType, "%s: integer %s is out of range", path, n.Value)
			return false
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.wrongType(path, n, t)
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			item = d.resolve(item)
			if item == nil {
				continue
			}
			d.decodeValue(path+"["+strconv.Itoa(i)+"]", item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.wrongType(path, n, t)
		}
		ps := d.pairs(n, 0)
		m := reflect.MakeMapWithSize(t, len(ps))
		for _, p := range ps {
			vn := d.resolve(p.v)
			if vn == nil {
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			kp := join(path, p.key)
			if t.Elem() == tagValueType {
				if err := v1.ValidateTagName(p.key); err != nil {
					d.errorf(d.pos(p.kn), v1.CodeInvalidTagName, "%s: %v", path, err)
				}
			}
			if d.decodeValue(kp, vn, e) {
				m.SetMapIndex(reflect.ValueOf(p.key), e)
			}
		}
		v.Set(m)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return d.wrongType(path, n, t)
		}
		d.decodeStruct(path, n, d.pairs(n, 0), v)
	}
	return true
}

// parseInt reads a YAML 1.2 integer: decimal with an optional sign, or
// 0x, 0o or 0b prefixed, with optional underscores as the resolver allows.
func parseInt(s string) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"):
		base, s = 16, s[2:]
	case strings.HasPrefix(s, "0o"):
		base, s = 8, s[2:]
	case strings.HasPrefix(s, "0b"):
		base, s = 2, s[2:]
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		if u > 1<<63 {
			return 0, strconv.ErrRange
		}
		return -int64(u), nil
	}
	if u > 1<<63-1 {
		return 0, strconv.ErrRange
	}
	return int64(u), nil
}

// tagValue decodes a tag value: a string, an integer or a boolean.
func (d *docDecoder) tagValue(path string, n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.ScalarNode {
		d.errorf(d.pos(n), v1.CodeInvalidTagValue, "%s: a tag value must be a string, number or boolean, got %s", path, describeNode(n))
		return false
	}
	tv := v1.TagValue{Text: n.Value, Kind: v1.TagString}
	switch n.Tag {
	case "!!null":
		d.errorf(d.pos(n), v1.CodeInvalidTagValue, "%s: a tag value must be a string, number or boolean, got null (write true, or \"\" for an empty string)", path)
		return false
	case "!!bool":
		tv = v1.TagValue{Text: strconv.FormatBool(strings.EqualFold(n.Value, "true")), Kind: v1.TagBool}
	case "!!int":
		i, err := parseInt(n.Value)
		if err != nil {
			d.errorf(d.pos(n), v1.CodeInvalidTagValue, "%s: integer %s is out of range; quote it to use it as text", path, n.Value)
			return false
		}
		tv = v1.TagValue{Text: strconv.FormatInt(i, 10), Kind: v1.TagNumber}
	case "!!float":
		d.errorf(d.pos(n), v1.CodeInvalidTagValue, "%s: tag value %s is a number that is not an integer; quote it (%q) so that it matches as written", path, n.Value, n.Value)
		return false
	}
	v.Set(reflect.ValueOf(tv))
	return true
}

func (d *docDecoder) wrongType(path string, n *yaml.Node, t reflect.Type) bool {
	d.errorf(d.pos(n), v1.CodeWrongType, "%s: expected %s, got %s", path, describeType(t), describeNode(n))
	return false
}

// describeType names the YAML shape a Go type expects.
func describeType(t reflect.Type) string {
	if t == tagValueType {
		return "a string, number or boolean"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Slice:
		e := t.Elem()
		switch {
		case e == tagValueType:
			return "a list of strings, numbers or booleans"
		case e.Kind() == reflect.String:
			return "a list of strings"
		}
		return "a list of maps"
	}
	return "a map"
}

// describeNode names the YAML shape of a node.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int":
			return "the integer " + n.Value
		case "!!float":
			return "the number " + n.Value
		}
		return "the string " + strconv.Quote(clip(n.Value))
	}
	return "an alias"
}

// nodeText quotes a scalar for a message, or describes another node.
func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(clip(n.Value))
	}
	return describeNode(n)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
