package load

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Stage is one segment of an open-model schedule: for Duration, the rate
// moves linearly from From to To operations per second (a ramp), or holds
// when From == To.
type Stage struct {
	Duration time.Duration
	From, To float64
}

// String formats the stage as ParseStages reads it: "10s:0-1000" for a
// ramp, "30s:1000" for a hold.
func (s Stage) String() string {
	if s.From == s.To {
		return s.Duration.String() + ":" + formatRate(s.From)
	}
	return s.Duration.String() + ":" + formatRate(s.From) + "-" + formatRate(s.To)
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

// FormatStages formats stages as ParseStages reads them, comma separated.
func FormatStages(stages []Stage) string {
	parts := make([]string, len(stages))
	for i, s := range stages {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

const stageForm = "want DURATION:RATE or DURATION:FROM-TO, e.g. 30s:1000 or 10s:0-1000"

// ParseStages parses a stages list such as "10s:0-1000,30s:1000,10s:1000-0":
// comma-separated segments, each a duration and either a constant rate or a
// FROM-TO ramp, in operations per second. Errors name the bad segment and the
// expected form.
func ParseStages(s string) ([]Stage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no stages given (" + stageForm + ")")
	}
	segs := strings.Split(s, ",")
	out := make([]Stage, 0, len(segs))
	var total time.Duration
	for i, seg := range segs {
		seg = strings.TrimSpace(seg)
		bad := func(why string) error {
			return fmt.Errorf("stage %d %q: %s (%s)", i+1, seg, why, stageForm)
		}
		if seg == "" {
			return nil, bad("empty stage")
		}
		ds, rs, ok := strings.Cut(seg, ":")
		if !ok {
			return nil, bad("missing ':' between duration and rate")
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil {
			return nil, bad(fmt.Sprintf("bad duration %q", strings.TrimSpace(ds)))
		}
		if d <= 0 {
			return nil, bad("duration must be greater than 0")
		}
		if total > math.MaxInt64-d {
			return nil, bad("stages add up to more than time.Duration can hold")
		}
		total += d
		fromS, toS := rs, rs
		if j := rangeDash(rs); j >= 0 {
			fromS, toS = rs[:j], rs[j+1:]
		}
		from, err := parseRate(fromS)
		if err != nil {
			return nil, bad(err.Error())
		}
		to, err := parseRate(toS)
		if err != nil {
			return nil, bad(err.Error())
		}
		out = append(out, Stage{Duration: d, From: from, To: to})
	}
	return out, nil
}

// rangeDash finds the '-' separating FROM and TO: not the first character
// and not an exponent's sign (1e-3).
func rangeDash(s string) int {
	for j := 1; j < len(s); j++ {
		if s[j] == '-' && s[j-1] != 'e' && s[j-1] != 'E' {
			return j
		}
	}
	return -1
}

func parseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return 0, fmt.Errorf("rate %q must be a finite number >= 0", s)
	}
	return r, nil
}

// stagesTotal is the sum of the stage durations.
func stagesTotal(stages []Stage) time.Duration {
	var t time.Duration
	for _, s := range stages {
		t += s.Duration
	}
	return t
}

// peakRate is the highest rate any stage reaches.
func peakRate(stages []Stage) float64 {
	var p float64
	for _, s := range stages {
		p = max(p, s.From, s.To)
	}
	return p
}
