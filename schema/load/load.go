package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fwgit/fwgit/internal/diag"
	v1 "github.com/fwgit/fwgit/schema/v1"
	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Load reads every *.yaml and *.yml file under the root of fsys, in sorted
// path order, and decodes each YAML document in it into an [Object]. Hidden
// files and directories (names starting with '.') and files with other
// extensions are ignored. Every problem found becomes a diagnostic of the
// returned [Repo], sorted by position; Load never stops at the first one and
// never returns a Go error: a file it cannot read is a diagnostic too.
//
// Load is pure: it reads only fsys, and the same input always gives the same
// output.
func Load(fsys fs.FS) *Repo {
	r := &Repo{}
	var diags diag.List
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			diags.Errorf(diag.Pos{File: p}, v1.CodeReadError, "reading: %s", errText(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && isYAML(p) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		diags.Errorf(diag.Pos{File: "."}, v1.CodeReadError, "walking the repository: %s", errText(err))
	}
	slices.Sort(paths)
	results := make([]fileResult, len(paths))
	parallel(len(paths), func(next func() (int, bool)) {
		l := &loader{structs: map[any]*structInfo{}}
		for i, ok := next(); ok; i, ok = next() {
			data, err := fs.ReadFile(fsys, paths[i])
			if err != nil {
				results[i].diags.Errorf(diag.Pos{File: paths[i]}, v1.CodeReadError, "reading: %s", errText(err))
				continue
			}
			results[i].read = true
			results[i].objs, results[i].diags = l.file(paths[i], data)
		}
	})
	for _, res := range results {
		if res.read {
			r.Files++
		}
		r.Objects = append(r.Objects, res.objs...)
		diags = append(diags, res.diags...)
	}
	diags.Sort()
	r.Diags = slices.CompactFunc(diags, func(a, b diag.Diagnostic) bool { return a == b })
	return r
}

// LoadFile decodes the YAML documents of one file's contents, named path in
// positions. It is [Load] for a single file, for callers that already hold
// the bytes (an editor, a pre-commit hook).
func LoadFile(path string, data []byte) *Repo {
	l := &loader{structs: map[any]*structInfo{}}
	objs, ds := l.file(path, data)
	ds.Sort()
	return &Repo{Objects: objs, Files: 1, Diags: slices.CompactFunc(ds, func(a, b diag.Diagnostic) bool { return a == b })}
}

// fileResult is what loading one file produced.
type fileResult struct {
	read  bool
	objs  []Object
	diags diag.List
}

// parallel runs work on up to GOMAXPROCS goroutines (at most n) and waits
// for them. Each call of work takes indexes from next until it reports
// false; every index in [0, n) is handed out exactly once. The caller stores
// results by index, so the output does not depend on scheduling.
func parallel(n int, work func(next func() (int, bool))) {
	var mu sync.Mutex
	i := 0
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if i >= n {
			return 0, false
		}
		i++
		return i - 1, true
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		work(next)
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { work(next) })
	}
	wg.Wait()
}

func isYAML(p string) bool {
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

// errText keeps the reason of a file-system error without repeating the
// path, which the diagnostic's position already names.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// loader holds what is shared across the files of one Load call.
type loader struct {
	structs map[any]*structInfo
}

// file decodes every document of one file. It parses the whole file with
// one YAML decoder first, which is the fast path; only when that fails does
// it split the file at document markers and parse each part alone, so that
// a syntax error in one document leaves the others checked.
func (l *loader) file(name string, data []byte) ([]Object, diag.List) {
	f := &srcFile{name: name, data: data}
	f.lineStarts, f.nonASCII = lineStarts(data)
	var objs []Object
	var diags diag.List
	if docs, err := parseAll(data); err == nil {
		for _, doc := range docs {
			l.document(f, 0, doc, &objs, &diags)
		}
		return objs, diags
	}
	for _, c := range splitDocuments(data) {
		l.chunk(f, c, &objs, &diags)
	}
	return objs, diags
}

// parseAll parses every document of data, or returns the first error.
func parseAll(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		doc := new(yaml.Node)
		err := decodeNode(dec, doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// document decodes one parsed document whose lines start at line lineOff+1
// of the file.
func (l *loader) document(f *srcFile, lineOff int, doc *yaml.Node, objs *[]Object, diags *diag.List) {
	d := &docDecoder{l: l, f: f, lineOff: lineOff, diags: diags}
	d.budget = 1000 + 4*docSize(f, lineOff, doc)
	if o, ok := d.document(doc); ok {
		*objs = append(*objs, o)
	}
}

// chunk is a part of a file that starts at a document marker ("---" at the
// start of a line) or at the start of the file. Splitting the file at the
// markers first lets a syntax error in one document leave the others
// checked.
type chunk struct {
	data []byte
	line int // 0-based line of the file where data starts
}

// splitDocuments cuts data before every line that starts with "---"
// followed by white space or the end of the line.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 0, 0
	for i := 0; i < len(data); {
		if i > start && isDocMarker(data[i:]) {
			out = append(out, chunk{data[start:i], startLine})
			start, startLine = i, line
		}
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		line++
	}
	return append(out, chunk{data[start:], startLine})
}

func isDocMarker(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("---")) {
		return false
	}
	return len(b) == 3 || b[3] == ' ' || b[3] == '\t' || b[3] == '\n' || b[3] == '\r'
}

// lineStarts returns the offset where each line starts, and the set of
// lines holding non-ASCII bytes (where characters and bytes differ).
func lineStarts(data []byte) ([]int, map[int]bool) {
	starts := make([]int, 1, 1+bytes.Count(data, []byte("\n")))
	var nonASCII map[int]bool
	for i, c := range data {
		switch {
		case c == '\n':
			starts = append(starts, i+1)
		case c >= 0x80:
			if nonASCII == nil {
				nonASCII = map[int]bool{}
			}
			nonASCII[len(starts)] = true
		}
	}
	return starts, nonASCII
}

// srcFile is one file being decoded.
type srcFile struct {
	name       string
	data       []byte
	lineStarts []int
	// nonASCII holds the 1-based lines with multi-byte characters, and
	// runeOffsets, built on demand for them, the byte offset of each
	// character, so converting columns stays linear on long lines.
	nonASCII    map[int]bool
	runeOffsets map[int][]int
}

// offset returns the byte offset in the file of a 1-based line and a
// 1-based column counted in characters (as the YAML parser counts), or -1.
func (f *srcFile) offset(line, col int) int {
	if line < 1 || line > len(f.lineStarts) || col < 1 {
		return -1
	}
	start := f.lineStarts[line-1]
	end := len(f.data)
	if line < len(f.lineStarts) {
		end = f.lineStarts[line] - 1
	}
	if !f.nonASCII[line] {
		if start+col-1 > end {
			return -1
		}
		return start + col - 1
	}
	offs, ok := f.runeOffsets[line]
	if !ok {
		for i := start; i < end; {
			offs = append(offs, i)
			_, w := utf8.DecodeRune(f.data[i:end])
			i += w
		}
		offs = append(offs, end)
		if f.runeOffsets == nil {
			f.runeOffsets = map[int][]int{}
		}
		f.runeOffsets[line] = offs
	}
	if col > len(offs) {
		return -1
	}
	return offs[col-1]
}

// posAt converts a byte offset of the file to a position with a byte column.
func (f *srcFile) posAt(off int) diag.Pos {
	line, _ := slices.BinarySearch(f.lineStarts, off+1)
	if line < 1 {
		line = 1
	}
	return diag.Pos{File: f.name, Line: line, Col: off - f.lineStarts[line-1] + 1}
}

// chunk decodes the documents of one chunk, appending objects and
// diagnostics.
func (l *loader) chunk(f *srcFile, c chunk, objs *[]Object, diags *diag.List) {
	dec := yaml.NewDecoder(bytes.NewReader(c.data))
	for {
		var doc yaml.Node
		err := decodeNode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			diags.Errorf(syntaxPos(f, c, err), v1.CodeYAMLSyntax, "%s", syntaxMsg(err))
			return
		}
		l.document(f, c.line, &doc, objs, diags)
	}
}

// docSize estimates the source bytes of a document: from its first line to
// the end of the file. Aliases may expand a document to at most a few
// nodes per source byte; the budget allows that and no more.
func docSize(f *srcFile, lineOff int, doc *yaml.Node) int {
	line := doc.Line + lineOff
	if line < 1 || line > len(f.lineStarts) {
		return len(f.data)
	}
	return len(f.data) - f.lineStarts[line-1]
}

// decodeNode runs the YAML parser, turning a parser panic (a bug in the
// parser, never expected) into an error so that one bad file cannot take
// down the caller.
func decodeNode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failure: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// syntaxPos turns the "yaml: line N: …" of a parser error into a position.
// The YAML parser reports lines only, and for its parser (as opposed to
// scanner) errors the number it prints is 0-based; errors at the end of the
// input point past the last line. The column is that of the first character
// of the line's content. An unknown alias is located by searching for it.
func syntaxPos(f *srcFile, c chunk, err error) diag.Pos {
	msg := err.Error()
	line := 0
	if _, rest, ok := strings.Cut(msg, "line "); ok {
		for _, ch := range rest {
			if ch < '0' || ch > '9' {
				break
			}
			line = line*10 + int(ch-'0')
			if line > 1<<30 {
				break
			}
		}
		if isParserError(msg) {
			line++
		}
	}
	if name, ok := unknownAnchor(msg); ok {
		if i := bytes.Index(c.data, []byte("*"+name)); i >= 0 {
			return f.posAt(f.lineStarts[c.line] + i)
		}
	}
	// Stay inside the chunk, on a line with content.
	first := c.line + 1
	last := c.line + bytes.Count(c.data, []byte("\n"))
	if len(c.data) > 0 && c.data[len(c.data)-1] != '\n' {
		last++
	}
	line = min(max(line+c.line, first), max(last, first), len(f.lineStarts))
	for line > first && blankLine(f, line) {
		line--
	}
	off := f.lineStarts[line-1]
	for off < len(f.data) && (f.data[off] == ' ' || f.data[off] == '\t') {
		off++
	}
	return diag.Pos{File: f.name, Line: line, Col: off - f.lineStarts[line-1] + 1}
}

// isParserError tells the YAML parser's errors, which it numbers from 0,
// from its scanner's, which it numbers from 1.
func isParserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag handle"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func unknownAnchor(msg string) (string, bool) {
	_, rest, ok := strings.Cut(msg, "unknown anchor '")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "' referenced")
	return name, ok && name != ""
}

func blankLine(f *srcFile, line int) bool {
	end := len(f.data)
	if line < len(f.lineStarts) {
		end = f.lineStarts[line]
	}
	return len(bytes.TrimSpace(f.data[f.lineStarts[line-1]:end])) == 0
}

// syntaxMsg strips the "yaml: line N: " prefix, which the position repeats.
func syntaxMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(s, "line ") {
		if _, rest, ok := strings.Cut(s, ": "); ok {
			s = rest
		}
	}
	return "YAML: " + s
}
