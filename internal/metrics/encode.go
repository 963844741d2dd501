package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"reflect"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HdrHistogram's V2 format cookies (hdrhistogram-go's V2EncodingCookieBase
// and V2CompressedEncodingCookieBase, each with the word size bits 0x10 its
// encoder sets).
const (
	v2EncodingCookie           = 0x1c849303 | 0x10
	v2CompressedEncodingCookie = 0x1c849304 | 0x10
)

// histEncoder writes histograms in HdrHistogram's V2 compressed base64
// format, byte for byte what hdrhistogram-go's Encode writes (the same
// payload, compressed at the same zlib level), but keeps its buffers and
// zlib state between calls: the library's Encode makes a fresh zlib writer
// and a slice per count written — ~0.8 MB and ~1,900 allocations a call,
// twice the time — which a sharded run paid every second for its
// per-second histograms and every run for each histogram of its result
// (README design notes, "Two shards at R/2"). Not safe for concurrent use
// (the Recorder calls it under its lock; EncodeHistogram takes one from a
// pool).
type histEncoder struct {
	payload []byte
	comp    bytes.Buffer
	zw      *zlib.Writer
	framed  []byte
	out     []byte
}

// encode returns h encoded.
func (e *histEncoder) encode(h *Histogram) (string, error) {
	s := histView(h)
	last := 0
	for i, c := range s.Counts {
		if c != 0 {
			last = i
		}
	}
	p := e.payload[:0]
	p = binary.BigEndian.AppendUint32(p, v2EncodingCookie)
	p = binary.BigEndian.AppendUint32(p, 0) // payload length, set below
	p = binary.BigEndian.AppendUint32(p, 0) // normalizing index offset (hdrhistogram-go writes 0)
	p = binary.BigEndian.AppendUint32(p, uint32(s.SignificantFigures))
	p = binary.BigEndian.AppendUint64(p, uint64(s.LowestTrackableValue))
	p = binary.BigEndian.AppendUint64(p, uint64(s.HighestTrackableValue))
	ratio := s.IntegerToDoubleConversionRatio
	if ratio == 0 {
		ratio = 1
	}
	p = binary.BigEndian.AppendUint64(p, math.Float64bits(ratio))
	const header = 40
	counts := s.Counts[:min(last+1, len(s.Counts))]
	for i := 0; i < len(counts); {
		c := counts[i]
		i++
		if c == 0 {
			zeros := int64(1)
			for i < len(counts) && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				c = -zeros
			}
		}
		p = appendZigZag(p, c)
	}
	binary.BigEndian.PutUint32(p[4:], uint32(len(p)-header))
	e.payload = p

	e.comp.Reset()
	if e.zw == nil {
		zw, err := zlib.NewWriterLevel(&e.comp, zlib.BestCompression)
		if err != nil {
			return "", err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.comp)
	}
	if _, err := e.zw.Write(p); err != nil {
		return "", err
	}
	if err := e.zw.Close(); err != nil {
		return "", err
	}
	f := e.framed[:0]
	f = binary.BigEndian.AppendUint32(f, v2CompressedEncodingCookie)
	f = binary.BigEndian.AppendUint32(f, uint32(e.comp.Len()))
	f = append(f, e.comp.Bytes()...)
	e.framed = f
	e.out = base64.StdEncoding.AppendEncode(e.out[:0], f)
	return string(e.out), nil
}

// histView is h's header and counts as Export returns them, but with
// Counts being h's own slice, not a copy: read-only, valid until h next
// changes. Export copies every bucket (~180 KB for loadrig's 1 µs–1 h
// geometry) into fresh memory, and a one-shot process pays a page fault per
// 4 KiB of it (a result encodes ~9 histograms; on the measuring VM a fault
// costs far more than the copy); the encoder only reads the counts. When
// the library's fields are not what histFields expects (another version),
// it falls back to Export.
func histView(h *Histogram) *hdrhistogram.Snapshot {
	if !histFields.ok {
		return h.Export()
	}
	p := unsafe.Pointer(h)
	return &hdrhistogram.Snapshot{
		LowestTrackableValue:           h.LowestTrackableValue(),
		HighestTrackableValue:          h.HighestTrackableValue(),
		SignificantFigures:             h.SignificantFigures(),
		Counts:                         *(*[]int64)(unsafe.Add(p, histFields.counts)),
		IntegerToDoubleConversionRatio: *(*float64)(unsafe.Add(p, histFields.ratio)),
	}
}

// histFields locates hdrhistogram.Histogram's unexported counts and
// conversionRatio fields (the ones Export copies into Counts and
// IntegerToDoubleConversionRatio); ok only when both exist with the
// expected types. TestHistViewMatchesExport checks the view equals Export.
var histFields = func() (f struct {
	counts, ratio, total uintptr
	ok                   bool
}) {
	t := reflect.TypeFor[hdrhistogram.Histogram]()
	c, ok1 := t.FieldByName("counts")
	r, ok2 := t.FieldByName("conversionRatio")
	n, ok3 := t.FieldByName("totalCount")
	if ok1 && ok2 && ok3 && c.Type == reflect.TypeFor[[]int64]() && r.Type == reflect.TypeFor[float64]() && n.Type == reflect.TypeFor[int64]() {
		f.counts, f.ratio, f.total, f.ok = c.Offset, r.Offset, n.Offset, true
	}
	return f
}()

// resetHist empties h as h.Reset does, but zeroes only the buckets up to
// the last one holding a count (found by counting down TotalCount), where
// Reset writes every bucket: ~180 KB for loadrig's geometry, a page fault
// per 4 KiB the first time a recorder's histogram is reset (a recording
// touches only the pages of the buckets it uses), and 180 KB of stores
// every second after. A histogram with a tag or start/end time (Reset
// clears those too; the Recorder's never have one) is reset with Reset.
func resetHist(h *Histogram) {
	if !histFields.ok || h.Tag() != "" || h.StartTimeMs() != 0 || h.EndTimeMs() != 0 {
		h.Reset()
		return
	}
	p := unsafe.Pointer(h)
	counts := *(*[]int64)(unsafe.Add(p, histFields.counts))
	total := (*int64)(unsafe.Add(p, histFields.total))
	left := *total
	for i := 0; left > 0 && i < len(counts); i++ {
		if c := counts[i]; c != 0 {
			counts[i] = 0
			left -= c
		}
	}
	if left != 0 { // the counts did not add up to the total: clear them all
		clear(counts)
	}
	*total = 0
}

// appendZigZag appends v as HdrHistogram's ZigZag LEB128-64b9B: seven bits
// a byte, low first, and the ninth byte carrying the last eight.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}
