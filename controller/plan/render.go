package plan

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Limits of the Markdown rendering, sized for a pull-request comment
// (GitHub caps a comment at 65,536 characters).
type Limits struct {
	// Rows is the most firewalls listed in the summary table.
	Rows int
	// DiffLines is the most lines of one diff shown.
	DiffLines int
	// Bytes is the budget of the whole comment; details that do not fit
	// are cut and the cut is said.
	Bytes int
	// Warnings is the most warnings listed.
	Warnings int
}

// DefaultLimits fit a GitHub pull-request comment.
var DefaultLimits = Limits{Rows: 50, DiffLines: 150, Bytes: 60000, Warnings: 30}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteText writes the plan for a terminal: a summary, the warnings, then
// every changed firewall with its causes and diff.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", p.summary())
	for _, wr := range p.Warnings {
		fmt.Fprintf(&b, "%s: warning: %s [%s]\n", wr.Pos, wr.Msg, wr.Code)
	}
	for _, f := range p.Firewalls {
		if f.Status == Unchanged {
			continue
		}
		fmt.Fprintf(&b, "\n== %s (%s, +%d -%d)\n", f.Name, f.Status, f.Added, f.Removed)
		for _, c := range f.Causes {
			fmt.Fprintf(&b, "   cause: %s\n", c.text())
		}
		b.WriteString(f.Diff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Plan) summary() string {
	c := p.Counts
	s := fmt.Sprintf("%d changed, %d added, %d removed, %d unchanged firewalls", c.Changed, c.Added, c.Removed, c.Unchanged)
	if n := len(p.Warnings); n > 0 {
		s += fmt.Sprintf("; %d warnings", n)
	}
	return s
}

func (c Cause) text() string {
	switch c.Kind {
	case FirewallChanged:
		return fmt.Sprintf("firewall %s or settings (%s)", c.Name, c.Pos)
	case RuleRecompiled:
		return fmt.Sprintf("rule %s (%s): addresses it expands to changed", c.Name, c.Pos)
	}
	return fmt.Sprintf("rule %s (%s) %s", c.Name, c.Pos, c.Kind)
}

// WriteMarkdown writes the plan as a pull-request comment within
// [DefaultLimits].
func (p *Plan) WriteMarkdown(w io.Writer) error { return p.WriteMarkdownLimits(w, DefaultLimits) }

// WriteMarkdownLimits writes the plan as Markdown: a summary line and table
// of the changed firewalls first, then the warnings, then one collapsible
// section per distinct diff (firewalls with identical diffs share one),
// and the unchanged firewalls collapsed into one line. Whatever the limits
// cut is counted in the text.
func (p *Plan) WriteMarkdownLimits(w io.Writer, lim Limits) error {
	var b strings.Builder
	title := "fwgit plan"
	if p.Base != "" || p.Head != "" {
		title += fmt.Sprintf(": `%s` → `%s`", mdCode(p.Base), mdCode(p.Head))
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	c := p.Counts
	fmt.Fprintf(&b, "**%d changed**, **%d added**, **%d removed**, %d unchanged firewalls", c.Changed, c.Added, c.Removed, c.Unchanged)
	if n := len(p.Warnings); n > 0 {
		fmt.Fprintf(&b, " · ⚠️ %d warnings", n)
	}
	b.WriteString("\n\n")

	var moved []FirewallPlan
	var unchanged []string
	for _, f := range p.Firewalls {
		if f.Status == Unchanged {
			unchanged = append(unchanged, f.Name)
		} else {
			moved = append(moved, f)
		}
	}
	if len(moved) == 0 {
		b.WriteString("No firewall's ruleset changes.\n\n")
	} else {
		b.WriteString("| Firewall | Change | Lines | Caused by |\n|---|---|---|---|\n")
		for i, f := range moved {
			if i == lim.Rows {
				fmt.Fprintf(&b, "| … | %d more firewalls not listed | | |\n", len(moved)-lim.Rows)
				break
			}
			fmt.Fprintf(&b, "| `%s` | %s | +%d −%d | %s |\n", mdCode(f.Name), f.Status, f.Added, f.Removed, mdCauses(f.Causes, 3))
		}
		b.WriteString("\n")
	}

	if len(p.Warnings) > 0 {
		b.WriteString("#### Warnings\n\n")
		shown := 0
		// New warnings first: they are what this change brings.
		for _, pass := range []bool{true, false} {
			for _, wr := range p.Warnings {
				if wr.New != pass || shown >= lim.Warnings {
					continue
				}
				tag := ""
				if wr.New {
					tag = "**new** "
				}
				fmt.Fprintf(&b, "- ⚠️ %s`%s`: %s\n", tag, mdCode(wr.Pos.String()), mdText(wr.Msg))
				shown++
			}
		}
		if cut := len(p.Warnings) - shown; cut > 0 {
			fmt.Fprintf(&b, "- … and %d more warnings (run `fwgit plan --format text` to see all)\n", cut)
		}
		b.WriteString("\n")
	}

	// Group firewalls whose diffs are identical apart from their names.
	type group struct {
		first FirewallPlan
		names []string
	}
	var groups []*group
	byKey := map[[32]byte]*group{}
	for _, f := range moved {
		key := sha256.Sum256([]byte(string(f.Status) + "\x00" + stripHeader(f.Diff) + "\x00" + causesKey(f.Causes)))
		g := byKey[key]
		if g == nil {
			g = &group{first: f}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.names = append(g.names, f.Name)
	}
	cutGroups, cutFirewalls := 0, 0
	for _, g := range groups {
		sec := detailSection(g.first, g.names, lim)
		if b.Len()+len(sec) > lim.Bytes-400 {
			cutGroups++
			cutFirewalls += len(g.names)
			continue
		}
		b.WriteString(sec)
	}
	if cutGroups > 0 {
		fmt.Fprintf(&b, "> ✂️ Details of %d firewalls (%d distinct diffs) were cut to fit the comment; run `fwgit plan --format text` for all of them.\n\n", cutFirewalls, cutGroups)
	}
	if len(unchanged) > 0 {
		list := unchanged
		more := ""
		if len(list) > 100 {
			more = fmt.Sprintf(", … (%d more)", len(list)-100)
			list = list[:100]
		}
		line := fmt.Sprintf("<details><summary>%d unchanged firewalls</summary>\n\n%s%s\n\n</details>\n", len(unchanged), mdText(strings.Join(list, ", ")), more)
		if b.Len()+len(line) > lim.Bytes {
			line = fmt.Sprintf("%d firewalls unchanged.\n", len(unchanged))
		}
		b.WriteString(line)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// detailSection is the collapsible section of one group of firewalls
// sharing a diff.
func detailSection(f FirewallPlan, names []string, lim Limits) string {
	var b strings.Builder
	label := "`" + mdCode(names[0]) + "`"
	if len(names) > 1 {
		label = fmt.Sprintf("`%s` and %d more with the same change", mdCode(names[0]), len(names)-1)
	}
	fmt.Fprintf(&b, "<details><summary>%s: %s, +%d −%d</summary>\n\n", label, f.Status, f.Added, f.Removed)
	if len(names) > 1 {
		list := names
		more := ""
		if len(list) > 30 {
			more = fmt.Sprintf(" … (%d more)", len(list)-30)
			list = list[:30]
		}
		fmt.Fprintf(&b, "Firewalls: %s%s\n\n", mdText(strings.Join(list, ", ")), more)
	}
	if len(f.Causes) > 0 {
		b.WriteString("Caused by:\n")
		for _, c := range f.Causes {
			fmt.Fprintf(&b, "- %s\n", mdText(c.text()))
		}
		b.WriteString("\n")
	}
	diff := f.Diff
	ls := strings.SplitAfter(diff, "\n")
	cut := 0
	if len(ls) > lim.DiffLines {
		cut = len(ls) - lim.DiffLines
		diff = strings.Join(ls[:lim.DiffLines], "")
	}
	fence := "```"
	for strings.Contains(diff, fence) {
		fence += "`"
	}
	fmt.Fprintf(&b, "%sdiff\n%s%s\n", fence, diff, fence)
	if cut > 0 {
		fmt.Fprintf(&b, "\n✂️ %d more diff lines cut.\n", cut)
	}
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// stripHeader drops the ---/+++ lines, which name the firewall.
func stripHeader(diff string) string {
	for range 2 {
		if i := strings.IndexByte(diff, '\n'); i >= 0 && (strings.HasPrefix(diff, "---") || strings.HasPrefix(diff, "+++")) {
			diff = diff[i+1:]
		}
	}
	return diff
}

func causesKey(cs []Cause) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Kind == FirewallChanged {
			b.WriteString("firewall\n")
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", c.Kind, c.UUID)
	}
	return b.String()
}

func mdCauses(cs []Cause, n int) string {
	var parts []string
	for i, c := range cs {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(cs)-n))
			break
		}
		switch c.Kind {
		case FirewallChanged:
			parts = append(parts, fmt.Sprintf("firewall `%s`", mdCode(c.Pos.String())))
		default:
			parts = append(parts, fmt.Sprintf("`%s` (%s, `%s`)", mdCode(c.Name), c.Kind, mdCode(c.Pos.String())))
		}
	}
	return strings.Join(parts, ", ")
}

// mdCode makes s safe inside a `code span` within a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s)
}

// mdText escapes text from the repository so it cannot inject Markdown or
// HTML into the comment.
func mdText(s string) string {
	return strings.NewReplacer(
		"&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_",
		"[", "\\[", "]", "\\]", "\n", " ",
	).Replace(s)
}
