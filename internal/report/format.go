package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/loadrig/loadrig/internal/metrics"
)

// us formats a duration in microseconds: 850µs, 1.23ms, 2.50s.
func us(v int64) string { return usf(float64(v)) }

func usf(v float64) string {
	switch a := math.Abs(v); {
	case a < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + "µs"
	case a < 1e6:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "ms"
	default:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "s"
	}
}

// pct formats a fraction as a percentage: 0.0123 -> "1.23%".
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" }

// rate formats operations per second.
func rate(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + "/s" }

// seconds formats a run length: 2 decimals, 3 below one second.
func seconds(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s, 'f', 3, 64) + "s"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + "s"
}

// num formats a float without trailing zeros: 500, 12.5.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func count(n int64) string { return strconv.FormatInt(n, 10) }

// byteSize formats a byte count with binary units.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// modelText describes the load model in one line.
func modelText(m metrics.Model) string {
	switch m.Kind {
	case "open":
		var b strings.Builder
		b.WriteString("open")
		if m.Stages != "" {
			fmt.Fprintf(&b, ", stages %s (peak %s/s)", m.Stages, num(m.Rate))
		} else {
			fmt.Fprintf(&b, ", %s/s", num(m.Rate))
		}
		if m.MaxInflight > 0 {
			fmt.Fprintf(&b, ", max in-flight %d", m.MaxInflight)
		}
		return b.String()
	case "closed":
		s := fmt.Sprintf("closed, %d workers", m.Concurrency)
		if m.ThinkTimeUS > 0 {
			s += ", think time " + us(m.ThinkTimeUS)
		}
		return s
	case "":
		return "unknown"
	}
	return m.Kind
}

// isOpen reports whether latency, service time and lag differ for r: an
// open-model result, or a merge of open and closed ones ("mixed"), whose
// open part has a schedule.
func isOpen(r *metrics.Result) bool { return r.Model.Kind == "open" || r.Model.Kind == "mixed" }

// label names a result in side-by-side output: its name (else its place),
// as RunLabel scopes it, so the runs of a compare stay apart.
func label(r *metrics.Result, i int) string {
	name := r.Name
	if name == "" {
		name = "#" + strconv.Itoa(i+1)
	}
	return RunLabel(r, name)
}

// RunLabel names a run of a profile VARIANT/NAME rK (the variant and the
// repetition when the result has them): how reports label its column and
// how run and compare scope its threshold verdicts.
func RunLabel(r *metrics.Result, name string) string {
	if r.Variant != "" {
		name = r.Variant + "/" + name
	}
	if r.Repetition > 0 {
		name += " r" + strconv.Itoa(r.Repetition)
	}
	return name
}

// generatorWarning is the plain-language line for a generator that could
// not keep its schedule, or "" when it did. A saturated flag or more than 1 %
// of sends over 1 ms late both count, so a result is never silent about it.
func generatorWarning(r *metrics.Result) string {
	late := r.LateSaturated()
	if !r.Generator.Saturated && !late {
		return ""
	}
	if r.Generator.Note != "" {
		return r.Generator.Note
	}
	return fmt.Sprintf("the generator or its in-flight cap could not keep the schedule: %s of sends were more than 1 ms late; the latency above includes that wait",
		pct(r.LateSends.Fraction))
}

// closedNote is the reminder printed for closed-model results.
const closedNote = metrics.ClosedModelNote

// phaseOrder lists phases in the order an operation goes through them
// (metrics defines them once); others follow alphabetically.
var phaseOrder = metrics.PhaseNames()
