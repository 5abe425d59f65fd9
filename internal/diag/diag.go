package diag

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severity says whether a [Diagnostic] makes a revision invalid.
type Severity int

const (
	// Error marks a problem that makes the revision invalid.
	Error Severity = iota
	// Warning marks a problem worth fixing that does not block a revision.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes the severity as its [Severity.String] form.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("diag: unknown severity %q", b)
	}
	return nil
}

// Pos is a position in a file of the repository. Line and Col count from 1;
// a zero Line means the position names the whole file, a zero Col the whole
// line. Col counts bytes, as the Go compiler does.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats the position as file:line:col, leaving out zero parts.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Compare orders positions by file, then line, then column.
func (p Pos) Compare(q Pos) int {
	return cmp.Or(strings.Compare(p.File, q.File), cmp.Compare(p.Line, q.Line), cmp.Compare(p.Col, q.Col))
}

// Diagnostic is one problem found in a repository.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	// Code is a stable, short identifier such as "unknown-field" that tools
	// and tests may match on; the message may change between versions.
	Code string `json:"code"`
	Msg  string `json:"message"`
}

// String formats the diagnostic as "file:line:col: severity: message [code]".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", d.Pos, d.Severity, d.Msg, d.Code)
}

// List is a list of diagnostics. The zero value is an empty list ready to use.
type List []Diagnostic

// Errorf appends an error at pos.
func (l *List) Errorf(pos Pos, code, format string, args ...any) {
	*l = append(*l, Diagnostic{Pos: pos, Severity: Error, Code: code, Msg: fmt.Sprintf(format, args...)})
}

// Warnf appends a warning at pos.
func (l *List) Warnf(pos Pos, code, format string, args ...any) {
	*l = append(*l, Diagnostic{Pos: pos, Severity: Warning, Code: code, Msg: fmt.Sprintf(format, args...)})
}

// Append adds the diagnostics of m to l.
func (l *List) Append(m List) { *l = append(*l, m...) }

// Sort orders the list by position, then severity, code and message, so that
// output is deterministic.
func (l List) Sort() {
	slices.SortStableFunc(l, func(a, b Diagnostic) int {
		return cmp.Or(a.Pos.Compare(b.Pos), cmp.Compare(a.Severity, b.Severity),
			strings.Compare(a.Code, b.Code), strings.Compare(a.Msg, b.Msg))
	})
}

// Errors counts the diagnostics of severity [Error].
func (l List) Errors() int { return l.count(Error) }

// Warnings counts the diagnostics of severity [Warning].
func (l List) Warnings() int { return l.count(Warning) }

func (l List) count(s Severity) int {
	n := 0
	for _, d := range l {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// HasErrors reports whether the list holds at least one error.
func (l List) HasErrors() bool { return l.Errors() > 0 }

// Cap returns the first n diagnostics of a sorted list, and how many were
// left out. Errors are kept before warnings when the list must be cut.
func (l List) Cap(n int) (List, int) {
	if len(l) <= n {
		return l, 0
	}
	out := make(List, 0, n)
	for _, sev := range []Severity{Error, Warning} {
		for _, d := range l {
			if d.Severity == sev && len(out) < n {
				out = append(out, d)
			}
		}
	}
	out.Sort()
	return out, len(l) - n
}

// WriteText writes one diagnostic per line in the form the Go compiler uses.
func (l List) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteGitHub writes GitHub Actions workflow commands (::error and
// ::warning) that annotate the pull request at each position.
func (l List) WriteGitHub(w io.Writer) error {
	var b strings.Builder
	for _, d := range l {
		fmt.Fprintf(&b, "::%s file=%s", d.Severity, ghProperty(d.Pos.File))
		if d.Pos.Line > 0 {
			fmt.Fprintf(&b, ",line=%d", d.Pos.Line)
		}
		if d.Pos.Col > 0 {
			fmt.Fprintf(&b, ",col=%d", d.Pos.Col)
		}
		fmt.Fprintf(&b, ",title=%s::%s\n", ghProperty(d.Code), ghData(d.Msg))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the list as a JSON array ([] when empty).
func (l List) WriteJSON(w io.Writer) error {
	if l == nil {
		l = List{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

// ghData escapes a workflow command's message as the runner expects.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
