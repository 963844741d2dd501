package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// errNoResults is returned when a renderer is given nothing to render.
var errNoResults = errors.New("report: no results to render")

// Text writes a plain-text report: a summary for one result, a side-by-side
// table (one column per result) for several.
func Text(w io.Writer, results ...*metrics.Result) error {
	return TextColor(w, false, results...)
}

// TextColor is Text with, when color is true, warnings highlighted with ANSI
// colour codes (for a terminal; files and pipes get Text).
func TextColor(w io.Writer, color bool, results ...*metrics.Result) error {
	d, err := build(results)
	if err != nil {
		return err
	}
	return writeText(w, d, color)
}

// Markdown writes the same report as Text as GitHub-flavoured Markdown.
func Markdown(w io.Writer, results ...*metrics.Result) error {
	d, err := build(results)
	if err != nil {
		return err
	}
	return writeMarkdown(w, d)
}

// JSON writes the result file itself for one result (loadrig.result/v1,
// indented), and a JSON array of them for several.
func JSON(w io.Writer, results ...*metrics.Result) error {
	if err := check(results); err != nil {
		return err
	}
	if len(results) == 1 {
		return results[0].Write(w)
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode results: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func check(results []*metrics.Result) error {
	if len(results) == 0 {
		return errNoResults
	}
	for i, r := range results {
		if r == nil {
			return fmt.Errorf("report: result %d is nil", i+1)
		}
	}
	return nil
}

// doc is a rendered report before it is written as text or Markdown, so
// both formats show exactly the same content.
type doc struct {
	heading string
	tables  []table
	notes   []note
}

// table is a titled block: key/value lines when header is nil, else a table
// whose first column is a row label.
type table struct {
	title  string
	header []string
	rows   [][]string
	// labels is how many leading columns are labels, aligned left (0: one).
	labels int
}

// isLabel says whether column i is aligned left.
func (t *table) isLabel(i int) bool { return i < max(1, t.labels) }

// note is a line printed after the tables: a warning or a remark.
type note struct {
	warning bool
	text    string
}

func build(results []*metrics.Result) (doc, error) {
	if err := check(results); err != nil {
		return doc{}, err
	}
	if len(results) == 1 {
		return single(results[0]), nil
	}
	return sideBySide(results), nil
}

// shardText says which part of a sharded run a result is.
func shardText(sh *metrics.ShardInfo) string {
	if sh.By != "" {
		return fmt.Sprintf("%d/%d, dealt by %s (it sends in bursts; the rate above is its average)", sh.Index, sh.Count, sh.By)
	}
	return fmt.Sprintf("%d/%d, operations %d, %d, %d, …", sh.Index, sh.Count, sh.Index, sh.Index+sh.Count, sh.Index+2*sh.Count)
}

// single is the summary of one result.
func single(r *metrics.Result) doc {
	d := doc{heading: fmt.Sprintf("%s load on %s", orDash(r.Protocol), orDash(r.Target))}
	kv := table{}
	add := func(k, v string) { kv.rows = append(kv.rows, []string{k, v}) }
	if r.Name != "" {
		add("name", r.Name)
	}
	add("model", modelText(r.Model))
	if sh := r.Shard; sh != nil {
		add("shard", shardText(sh))
	}
	if !r.StartedAt.IsZero() {
		add("started", r.StartedAt.UTC().Format(time.RFC3339))
	}
	add("duration", fmt.Sprintf("%s, stopped by %s", seconds(r.DurationS), orDash(r.StopReason)))
	req := r.Requests
	reqLine := fmt.Sprintf("%d total, %d ok, %d errors", req.Total, req.OK, req.Errors)
	if req.Total > 0 {
		reqLine += fmt.Sprintf(" (%s)", pct(float64(req.Errors)/float64(req.Total)))
	}
	add("requests", reqLine)
	add("throughput", rate(r.ThroughputRPS)+" ok")
	if isOpen(r) {
		add("late sends", fmt.Sprintf("%d (%s) more than 1ms behind schedule", r.LateSends.Count, pct(r.LateSends.Fraction)))
	}
	c := r.Connections
	connLine := fmt.Sprintf("%d opened, %d reused, %d peak open", c.Opened, c.Reused, c.PeakOpen)
	if c.Failed > 0 || c.Reconnects > 0 {
		connLine += fmt.Sprintf(", %d failed, %d reconnects", c.Failed, c.Reconnects)
	}
	if c.ClosedByCode != nil && len(*c.ClosedByCode) > 0 {
		var parts []string
		for _, k := range sortedKinds(*c.ClosedByCode) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, (*c.ClosedByCode)[k]))
		}
		connLine += "; closed " + strings.Join(parts, " ")
	}
	add("connections", connLine)
	if r.Cache != nil {
		add("cache", cacheText(r.Cache))
	}
	if m := r.Messages; m != nil {
		line := fmt.Sprintf("%d sent, %d received", m.Sent, m.Received)
		if m.Errors > 0 {
			var parts []string
			for _, k := range sortedKinds(m.ErrorsByKind) {
				parts = append(parts, fmt.Sprintf("%s %d", k, m.ErrorsByKind[k]))
			}
			line += fmt.Sprintf(", %d errors (%s)", m.Errors, strings.Join(parts, ", "))
		}
		add("messages", line)
	}
	if f := r.Fanout; f != nil {
		add("fanout", fmt.Sprintf("%d of %d delivered (%s), %d dropped, %d duplicates, %d out of order",
			f.Delivered, f.Expected, pct(f.DeliveryRatio), f.Dropped, f.Duplicates, f.OutOfOrder))
	}
	if r.Bytes != nil {
		add("bytes", fmt.Sprintf("%s sent, %s received", byteSize(r.Bytes.Sent), byteSize(r.Bytes.Received)))
	}
	if len(r.Inputs) > 0 {
		add("merged from", strings.Join(r.Inputs, ", "))
	}
	if r.ToolVersion != "" {
		add("tool", r.ToolVersion)
	}
	if r.Client != "" {
		add("client", r.Client)
	}
	d.tables = append(d.tables, kv)
	d.tables = append(d.tables, latencyTable(r))
	if len(req.ErrorsByKind) > 0 {
		et := table{title: "errors", header: []string{"kind", "count", "share"}}
		for _, k := range sortedKinds(req.ErrorsByKind) {
			n := req.ErrorsByKind[k]
			share := "-"
			if req.Total > 0 {
				share = pct(float64(n) / float64(req.Total))
			}
			et.rows = append(et.rows, []string{k, count(n), share})
		}
		d.tables = append(d.tables, et)
	}
	d.tables = append(d.tables, graphqlTables(r)...)
	if len(r.Phases) > 0 {
		pt := table{title: "phases", header: []string{"phase", "n", "p50", "p90", "p99", "max"}}
		for _, name := range phaseNames(r.Phases) {
			s := r.Phases[name]
			pt.rows = append(pt.rows, []string{name, count(s.N), us(s.P50), us(s.P90), us(s.P99), us(s.Max)})
		}
		d.tables = append(d.tables, pt)
	}
	if st, ok := serverTable(r.Server); ok {
		d.tables = append(d.tables, st)
	}
	d.notes = notesFor(r, "")
	return d
}

// latencyTable puts the distributions of r side by side: latency, then
// (open model) service time and schedule lag, then message and error
// latency when present.
func latencyTable(r *metrics.Result) table {
	type col struct {
		name string
		s    metrics.Summary
	}
	cols := []col{{"latency", r.Latency}}
	if isOpen(r) {
		cols = append(cols, col{"service time", r.ServiceTime})
		if r.ScheduleLag != nil {
			cols = append(cols, col{"schedule lag", *r.ScheduleLag})
		}
	}
	if r.MessageLatency != nil {
		cols = append(cols, col{"message", *r.MessageLatency})
	}
	if r.AckLatency != nil {
		cols = append(cols, col{"ack", *r.AckLatency})
	}
	if r.ConnectTime != nil {
		cols = append(cols, col{"connect", *r.ConnectTime})
	}
	if r.ErrorLatency != nil {
		cols = append(cols, col{"errors", *r.ErrorLatency})
	}
	t := table{header: []string{""}}
	for _, c := range cols {
		t.header = append(t.header, c.name)
	}
	rows := []struct {
		name string
		get  func(metrics.Summary) string
	}{
		{"min", func(s metrics.Summary) string { return us(s.Min) }},
		{"mean", func(s metrics.Summary) string { return usf(s.Mean) }},
		{"p50", func(s metrics.Summary) string { return us(s.P50) }},
		{"p90", func(s metrics.Summary) string { return us(s.P90) }},
		{"p99", func(s metrics.Summary) string { return us(s.P99) }},
		{"p99.9", func(s metrics.Summary) string { return us(s.P999) }},
		{"max", func(s metrics.Summary) string { return us(s.Max) }},
		{"n", func(s metrics.Summary) string { return count(s.N) }},
	}
	for _, row := range rows {
		line := []string{row.name}
		for _, c := range cols {
			if c.s.N == 0 && row.name != "n" {
				line = append(line, "-") // no sample: a 0 would read as a measurement
				continue
			}
			line = append(line, row.get(c.s))
		}
		t.rows = append(t.rows, line)
	}
	return t
}

// notesFor lists the warnings and remarks for r; prefix names the result in
// side-by-side reports.
func notesFor(r *metrics.Result, prefix string) []note {
	var ns []note
	if w := generatorWarning(r); w != "" {
		ns = append(ns, note{warning: true, text: prefix + w})
	} else if r.Generator.Note != "" {
		ns = append(ns, note{text: prefix + r.Generator.Note})
	}
	if r.Model.Kind == "closed" && !strings.Contains(r.Generator.Note, "closed model") {
		ns = append(ns, note{text: prefix + closedNote})
	}
	if r.StopReason == metrics.StopInterrupted {
		ns = append(ns, note{warning: true, text: prefix + "the run was interrupted: this is a partial result"})
	}
	switch {
	case r.Requests.Total == 0:
		ns = append(ns, note{warning: true, text: prefix + "no operation completed in the measured phase"})
	case r.Requests.OK == 0:
		ns = append(ns, note{warning: true, text: prefix + "every operation failed; see the errors by kind"})
	}
	return ns
}

// sideBySide renders several results as one table, one column per result.
func sideBySide(rs []*metrics.Result) doc {
	d := doc{heading: fmt.Sprintf("%d results", len(rs))}
	t := table{header: []string{""}}
	for i, r := range rs {
		t.header = append(t.header, label(r, i))
	}
	row := func(name string, get func(r *metrics.Result) string) {
		line := []string{name}
		for _, r := range rs {
			line = append(line, get(r))
		}
		t.rows = append(t.rows, line)
	}
	anyOf := func(f func(r *metrics.Result) bool) bool {
		for _, r := range rs {
			if f(r) {
				return true
			}
		}
		return false
	}
	row("target", func(r *metrics.Result) string { return orDash(r.Target) })
	row("protocol", func(r *metrics.Result) string { return orDash(r.Protocol) })
	row("model", func(r *metrics.Result) string { return modelText(r.Model) })
	row("duration", func(r *metrics.Result) string { return seconds(r.DurationS) })
	row("stop reason", func(r *metrics.Result) string { return orDash(r.StopReason) })
	row("requests", func(r *metrics.Result) string { return count(r.Requests.Total) })
	row("ok", func(r *metrics.Result) string { return count(r.Requests.OK) })
	row("errors", func(r *metrics.Result) string { return count(r.Requests.Errors) })
	row("throughput", func(r *metrics.Result) string { return rate(r.ThroughputRPS) })
	pcts := []struct {
		name string
		get  func(metrics.Summary) int64
	}{
		{"p50", func(s metrics.Summary) int64 { return s.P50 }},
		{"p90", func(s metrics.Summary) int64 { return s.P90 }},
		{"p99", func(s metrics.Summary) int64 { return s.P99 }},
		{"p99.9", func(s metrics.Summary) int64 { return s.P999 }},
		{"max", func(s metrics.Summary) int64 { return s.Max }},
	}
	for _, p := range pcts {
		row("latency "+p.name, func(r *metrics.Result) string { return sampled(r.Latency, p.get) })
	}
	if anyOf(isOpen) {
		for _, p := range pcts {
			if p.name == "p90" || p.name == "p99.9" {
				continue
			}
			row("service time "+p.name, func(r *metrics.Result) string {
				if !isOpen(r) {
					return "= latency"
				}
				return sampled(r.ServiceTime, p.get)
			})
		}
		for _, p := range pcts {
			if p.name != "p99" && p.name != "max" {
				continue
			}
			row("schedule lag "+p.name, func(r *metrics.Result) string {
				if r.ScheduleLag == nil {
					return "-"
				}
				return sampled(*r.ScheduleLag, p.get)
			})
		}
		row("late sends", func(r *metrics.Result) string {
			if !isOpen(r) {
				return "-"
			}
			return pct(r.LateSends.Fraction)
		})
	}
	kinds := map[string]int64{}
	for _, r := range rs {
		for k, n := range r.Requests.ErrorsByKind {
			kinds[k] += n
		}
	}
	for _, k := range sortedKinds(kinds) {
		row("errors "+k, func(r *metrics.Result) string {
			if n, ok := r.Requests.ErrorsByKind[k]; ok {
				return count(n)
			}
			return "0"
		})
	}
	row("conns opened", func(r *metrics.Result) string { return count(r.Connections.Opened) })
	row("conns reused", func(r *metrics.Result) string { return count(r.Connections.Reused) })
	row("conns peak open", func(r *metrics.Result) string { return count(r.Connections.PeakOpen) })
	if anyOf(func(r *metrics.Result) bool { return r.Cache != nil }) {
		cacheRow := func(name string, get func(c *metrics.Cache) string) {
			row(name, func(r *metrics.Result) string {
				if r.Cache == nil {
					return "-"
				}
				return get(r.Cache)
			})
		}
		cacheRow("cache hit ratio", func(c *metrics.Cache) string { return pct(c.HitRatio) })
		cacheRow("cache hits", func(c *metrics.Cache) string { return count(c.Hits) })
		cacheRow("cache misses", func(c *metrics.Cache) string { return count(c.Misses) })
		cacheRow("cache revalidated", func(c *metrics.Cache) string { return count(c.Revalidated) })
		cacheRow("cache other", func(c *metrics.Cache) string { return count(c.Other) })
	}
	phases := map[string]metrics.Summary{}
	for _, r := range rs {
		for k, s := range r.Phases {
			phases[k] = s
		}
	}
	for _, name := range phaseNames(phases) {
		for _, p := range pcts {
			if p.name != "p50" && p.name != "p99" {
				continue
			}
			row(name+" "+p.name, func(r *metrics.Result) string {
				s, ok := r.Phases[name]
				if !ok {
					return "-"
				}
				return us(p.get(s))
			})
		}
	}
	if anyOf(func(r *metrics.Result) bool { return r.Messages != nil }) {
		row("messages sent", func(r *metrics.Result) string {
			if r.Messages == nil {
				return "-"
			}
			return count(r.Messages.Sent)
		})
		row("messages received", func(r *metrics.Result) string {
			if r.Messages == nil {
				return "-"
			}
			return count(r.Messages.Received)
		})
	}
	if anyOf(func(r *metrics.Result) bool { return r.MessageLatency != nil }) {
		for _, p := range pcts {
			if p.name != "p50" && p.name != "p99" {
				continue
			}
			row("message "+p.name, func(r *metrics.Result) string {
				if r.MessageLatency == nil {
					return "-"
				}
				return us(p.get(*r.MessageLatency))
			})
		}
	}
	row("generator", func(r *metrics.Result) string {
		if generatorWarning(r) != "" {
			return "SATURATED"
		}
		return "ok"
	})
	d.tables = []table{t}
	for i, r := range rs {
		d.notes = append(d.notes, notesFor(r, label(r, i)+": ")...)
	}
	return d
}

func cacheText(c *metrics.Cache) string {
	s := fmt.Sprintf("hit ratio %s (%d hits, %d misses, %d revalidated, %d other)",
		pct(c.HitRatio), c.Hits, c.Misses, c.Revalidated, c.Other)
	if c.Source != "" {
		s += " from " + c.Source
	}
	return s
}

// sortedKinds orders error kinds by count, most frequent first, then name.
func sortedKinds(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// phaseNames orders phases as a request goes through them, unknown ones last.
func phaseNames(m map[string]metrics.Summary) []string {
	var names []string
	for _, p := range phaseOrder {
		if _, ok := m[p]; ok {
			names = append(names, p)
		}
	}
	var rest []string
	for k := range m {
		known := false
		for _, p := range phaseOrder {
			known = known || k == p
		}
		if !known {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// scalar renders a value of the free-form server section.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "-"
	case float64, bool, int, int64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sampled formats get(s) in microseconds, or "-" when s has no sample (a 0
// would read as a measurement), as the single-result view does.
func sampled(s metrics.Summary, get func(metrics.Summary) int64) string {
	if s.N == 0 {
		return "-"
	}
	return us(get(s))
}
