package report

import (
	"bufio"
	"io"
	"strings"
	"unicode/utf8"
)

// ANSI sequences for warnings on a colour terminal.
const (
	ansiWarn  = "\x1b[1;33m"
	ansiReset = "\x1b[0m"
)

// writeText writes d as aligned plain text; color highlights warnings.
func writeText(w io.Writer, d doc, color bool) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(d.heading + "\n")
	for _, t := range d.tables {
		bw.WriteString("\n")
		if t.title != "" {
			bw.WriteString(t.title + "\n")
		}
		rows := t.rows
		if t.header != nil {
			rows = append([][]string{t.header}, rows...)
		}
		widths := colWidths(rows)
		for _, r := range rows {
			var line strings.Builder
			line.WriteString("  ")
			for i, cell := range r {
				pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
				switch {
				case i == 0:
					line.WriteString(cell + pad)
				case t.header != nil && t.isLabel(i):
					line.WriteString("  " + cell + pad)
				case t.header == nil: // key/value: values left-aligned
					line.WriteString("  " + cell)
				default:
					line.WriteString("  " + pad + cell)
				}
			}
			bw.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		}
	}
	if len(d.notes) > 0 {
		bw.WriteString("\n")
	}
	for _, n := range d.notes {
		switch {
		case n.warning && color:
			bw.WriteString(ansiWarn + "WARNING:" + ansiReset + " " + n.text + "\n")
		case n.warning:
			bw.WriteString("WARNING: " + n.text + "\n")
		default:
			bw.WriteString("note: " + n.text + "\n")
		}
	}
	return bw.Flush()
}

func colWidths(rows [][]string) []int {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(cell); n > widths[i] {
				widths[i] = n
			}
		}
	}
	return widths
}

// writeMarkdown writes d as GitHub-flavoured Markdown.
func writeMarkdown(w io.Writer, d doc) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("## " + mdEscape(d.heading) + "\n")
	for _, t := range d.tables {
		bw.WriteString("\n")
		if t.title != "" {
			bw.WriteString("### " + mdEscape(t.title) + "\n\n")
		}
		if t.header == nil {
			for _, r := range t.rows {
				bw.WriteString("- **" + mdEscape(r[0]) + ":** " + mdEscape(r[1]) + "\n")
			}
			continue
		}
		bw.WriteString("|")
		for _, h := range t.header {
			bw.WriteString(" " + mdEscape(h) + " |")
		}
		bw.WriteString("\n|")
		for i := range t.header {
			if t.isLabel(i) {
				bw.WriteString("---|")
			} else {
				bw.WriteString("---:|")
			}
		}
		bw.WriteString("\n")
		for _, r := range t.rows {
			bw.WriteString("|")
			for _, c := range r {
				bw.WriteString(" " + mdEscape(c) + " |")
			}
			bw.WriteString("\n")
		}
	}
	if len(d.notes) > 0 {
		bw.WriteString("\n")
	}
	for _, n := range d.notes {
		if n.warning {
			bw.WriteString("> **Warning:** " + mdEscape(n.text) + "\n\n")
		} else {
			bw.WriteString("> " + mdEscape(n.text) + "\n\n")
		}
	}
	return bw.Flush()
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
