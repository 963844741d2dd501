package metrics

import (
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry used for every recorded distribution: microseconds from
// 1 µs to 1 h with 3 significant digits (MEASUREMENT.md "Recording"). One
// histogram of this shape is about 184 KiB, which is why the Recorder shares
// a few shards between workers instead of giving each worker its own.
const (
	HistLowest  = 1
	HistHighest = int64(time.Hour / time.Microsecond)
	HistDigits  = 3
)

// Histogram is the HDR histogram type recorded and merged here.
type Histogram = hdrhistogram.Histogram

// NewHistogram returns an empty histogram of the standard geometry.
func NewHistogram() *Histogram {
	return hdrhistogram.New(HistLowest, HistHighest, HistDigits)
}

// Micros converts a duration to the histogram unit, clamped to the trackable
// range so that an out-of-range value is recorded at the edge instead of being
// dropped (dropping would make counts disagree with the histogram).
func Micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	if us < 0 {
		return 0
	}
	if us > HistHighest {
		return HistHighest
	}
	return us
}

// Summarize is the Summary of h: min, mean, p50, p90, p99, p99.9, max and n,
// in the histogram's unit (microseconds). An empty or nil histogram gives the
// zero Summary.
func Summarize(h *Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Min:  h.Min(),
		Mean: h.Mean(),
		P50:  h.ValueAtQuantile(50),
		P90:  h.ValueAtQuantile(90),
		P99:  h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9),
		Max:  h.Max(),
		N:    h.TotalCount(),
	}
}

// SummaryPtr is Summarize returning nil for an empty histogram, for the
// optional sections of the result file.
func SummaryPtr(h *Histogram) *Summary {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	s := Summarize(h)
	return &s
}

// EncodeHistogram encodes h as HDR V2 compressed base64 (the form the result
// file stores, readable by every HdrHistogram implementation), with a
// pooled histEncoder: hdrhistogram-go's own Encode costs ~0.8 MB and ~1,900
// allocations a call, a fixed cost every process paid per histogram when it
// wrote its result.
func EncodeHistogram(h *Histogram) (string, error) {
	e := encoders.Get().(*histEncoder)
	defer encoders.Put(e)
	s, err := e.encode(h)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return s, nil
}

var encoders = sync.Pool{New: func() any { return new(histEncoder) }}

// DecodeHistogram decodes an HDR V2 compressed base64 histogram.
func DecodeHistogram(s string) (*Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// Equivalent reports whether two microsecond values fall in the same
// histogram bucket, i.e. are equal at the recorded precision.
func Equivalent(a, b int64) bool {
	return equivRef().ValuesAreEquivalent(a, b)
}

var equivRef = sync.OnceValue(NewHistogram)
