package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// LateSaturation is the fraction of sends more than DefaultLateThreshold
// behind their intended start above which a result says the generator could
// not keep its schedule (MEASUREMENT.md: 1 %). The engine sets
// Generator.Saturated with it and every report repeats the warning with it,
// so the two cannot disagree.
const LateSaturation = 0.01

// ClosedModelNote is the remark every closed-model result carries (the
// engine puts it in Generator.Note) and every report prints for one.
const ClosedModelNote = "closed model: latency is service time; there is no schedule, so stalls hide inside the workers (use --rate for latency from intended start)"

// LateSaturated reports whether r's late sends cross LateSaturation.
func (r *Result) LateSaturated() bool { return r.LateSends.Fraction > LateSaturation }

// The engine's schedule notes are built here, so that Merge can take each
// input's note apart and write one note from the merged counts instead of
// repeating every input's.
const (
	latePrefix   = "the generator could not keep the schedule: "
	lateSuffix   = "; the latency above includes that wait"
	unsentSuffix = " scheduled operations were still waiting to be sent when the duration ended and were not sent"
)

// LateNote says that a fraction of sends were more than DefaultLateThreshold
// late, and why (cause: the in-flight cap, or the generator itself).
func LateNote(fraction float64, cause string) string {
	return fmt.Sprintf("%s%.1f%% of sends were more than %v late (%s)%s", latePrefix, 100*fraction, DefaultLateThreshold, cause, lateSuffix)
}

// UnsentNote says that n scheduled operations were never sent.
func UnsentNote(n int64) string {
	return strconv.FormatInt(n, 10) + unsentSuffix
}

// noteParts is a Generator.Note taken apart: the late-send clause's cause
// (late false: there is none), the unsent count, and anything else.
type noteParts struct {
	late   bool
	cause  string
	unsent int64
	rest   string
}

// splitNote takes apart a note made of LateNote, UnsentNote and other text
// joined by "; ", in that order.
func splitNote(s string) noteParts {
	var p noteParts
	if body, ok := strings.CutPrefix(s, latePrefix); ok {
		if i := strings.Index(body, lateSuffix); i >= 0 {
			clause := body[:i]
			if j := strings.Index(clause, " late ("); j >= 0 && strings.HasSuffix(clause, ")") {
				p.late, p.cause = true, clause[j+len(" late ("):len(clause)-1]
				s = strings.TrimPrefix(body[i+len(lateSuffix):], "; ")
			}
		}
	}
	if head, ok := strings.CutSuffix(s, unsentSuffix); ok {
		before, num := "", head
		if i := strings.LastIndex(head, "; "); i >= 0 {
			before, num = head[:i], head[i+2:]
		}
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			p.unsent, s = n, before
		}
	}
	p.rest = s
	return p
}

// mergeNotes writes a merged result's note: one late-send clause with the
// merged fraction (and how many inputs were late, and why), the unsent
// operations added up, and every other note once.
func mergeNotes(results []*Result, merged LateSends) string {
	var causes, rest []string
	var lateInputs int
	var unsent int64
	for _, r := range results {
		p := splitNote(r.Generator.Note)
		if p.late {
			lateInputs++
			if !contains(causes, p.cause) {
				causes = append(causes, p.cause)
			}
		}
		unsent += p.unsent
		if p.rest != "" && !contains(rest, p.rest) {
			rest = append(rest, p.rest)
		}
	}
	var out []string
	if lateInputs > 0 {
		cause := strings.Join(causes, "; ")
		if len(results) > 1 {
			cause = fmt.Sprintf("%d of %d inputs: %s", lateInputs, len(results), cause)
		}
		out = append(out, LateNote(merged.Fraction, cause))
	}
	if unsent > 0 {
		out = append(out, UnsentNote(unsent))
	}
	return strings.Join(append(out, rest...), "; ")
}
