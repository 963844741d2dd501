package report

import (
	"fmt"
	"strings"
)

// TieBand is how close two figures must be for a comparison to call them a
// tie: one short run per side on a shared 2-core machine moves ratios by
// about ±15 % between passes (PERF-NOTES.md), so smaller gaps are not
// claimed as wins.
const TieBand = 0.10

// Tie is the winner Lead returns within TieBand.
const Tie = "tie"

// Lead names which of two sides did better and by how much. advantageB is
// how many times better B did than A (above 1: B better), ok false when a
// side lacks the figure (then winner is ""). Within TieBand the winner is
// Tie and by is advantageB.
func Lead(a, b string, advantageB float64, ok bool) (winner string, by float64) {
	switch {
	case !ok || advantageB <= 0:
		return "", 0
	case advantageB >= 1+TieBand:
		return b, advantageB
	case advantageB <= 1/(1+TieBand):
		return a, 1 / advantageB
	}
	return Tie, advantageB
}

// Ratio formats num/den with two decimals, "-" when either is not positive.
func Ratio(num, den float64) string {
	if num <= 0 || den <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", num/den)
}

// LeadPoint is one step of a sweep (a payload size, a concurrency): who led
// there, as Lead returned it ("" skips the point).
type LeadPoint struct {
	At     string // the step's label, e.g. "64KB"
	Winner string
}

// Crossover describes, for one series of steps, who led where and between
// which steps the lead changed hands, in one line:
//
//	get by ops/s: REST ahead at 1KB, 16KB; gRPC ahead at 1MB — the lead passes from REST to gRPC between 16KB and 1MB
//
// ahead is the verb for a lead ("ahead", "cheaper"); ok is false when no
// step had a winner.
func Crossover(series, metric, ahead string, pts []LeadPoint) (line string, ok bool) {
	var parts, flips []string
	var lastWin, lastAt string
	for _, p := range pts {
		if p.Winner == "" {
			continue
		}
		label := fmt.Sprintf("within %.0f%%", TieBand*100)
		if p.Winner != Tie {
			label = p.Winner + " " + ahead
		}
		if n := len(parts); n > 0 && strings.HasPrefix(parts[n-1], label+" at ") {
			parts[n-1] += ", " + p.At
		} else {
			parts = append(parts, label+" at "+p.At)
		}
		if p.Winner != Tie {
			if lastWin != "" && p.Winner != lastWin {
				flips = append(flips, fmt.Sprintf("the lead passes from %s to %s between %s and %s", lastWin, p.Winner, lastAt, p.At))
			}
			lastWin, lastAt = p.Winner, p.At
		}
	}
	if len(parts) == 0 {
		return "", false
	}
	line = series + " by " + metric + ": " + strings.Join(parts, "; ")
	if len(flips) > 0 {
		return line + " — " + strings.Join(flips, "; "), true
	}
	return line + " — no crossover within the sizes measured", true
}
