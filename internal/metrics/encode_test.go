package metrics

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// inflate returns the uncompressed V2 payload of an encoded histogram.
func inflate(t *testing.T, enc string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.BigEndian.Uint32(b[4:]); int(n) != len(b)-8 {
		t.Fatalf("compressed length %d, have %d bytes", n, len(b)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(b[8:]))
	if err != nil {
		t.Fatal(err)
	}
	p, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHistEncoderMatchesLibrary: the encoder writes byte for byte what
// hdrhistogram-go's Encode writes (payload and compressed form), and its
// output decodes to the same histogram, for histograms of every shape, one
// encoder reused across all of them.
func TestHistEncoderMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var e histEncoder
	for k := range 60 {
		h := NewHistogram()
		switch k % 4 {
		case 0: // a few values
			for range 1 + rng.IntN(5) {
				h.RecordValue(1 + rng.Int64N(1000))
			}
		case 1: // a wide spread, up to an hour
			for range 1000 {
				h.RecordValue(1 + rng.Int64N(3_600_000_000))
			}
		case 2: // large counts (multi-byte LEB128) in few buckets
			h.RecordValues(250, 1<<40)
			h.RecordValues(7, 3)
		case 3: // latency-like
			for range 5000 {
				h.RecordValue(int64(200 + rng.ExpFloat64()*3000))
			}
		}
		got, err := e.encode(h)
		if err != nil {
			t.Fatal(err)
		}
		want, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(inflate(t, got), inflate(t, string(want))) {
			t.Fatalf("case %d: payload differs from hdrhistogram-go's", k)
		}
		if got != string(want) {
			t.Fatalf("case %d: same payload, but not the same compressed bytes as hdrhistogram-go", k)
		}
		back, err := DecodeHistogram(got)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Equals(h) {
			t.Fatalf("case %d: decoded histogram differs", k)
		}
	}
}

func TestAppendZigZag(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, 1 << 20, -(1 << 40), 1<<62 + 5, -1 << 63, 1<<63 - 1} {
		b := appendZigZag(nil, v)
		// decode: 7 bits a byte, the ninth byte 8 bits
		var u uint64
		for i, c := range b {
			if i == 8 {
				u |= uint64(c) << 56
				break
			}
			u |= uint64(c&0x7f) << (7 * i)
		}
		if got := int64(u>>1) ^ -int64(u&1); got != v || len(b) > 9 {
			t.Errorf("%d: %x decodes to %d", v, b, got)
		}
	}
}

func BenchmarkEncodeInterval(b *testing.B) {
	h := NewHistogram()
	for i := range 1000 {
		h.RecordValue(int64(100 + i*7))
	}
	b.Run("hdrhistogram-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("histEncoder", func(b *testing.B) {
		var e histEncoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.encode(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHistViewMatchesExport: the encoder's zero-copy view of a histogram
// (hdrhistogram-go's unexported counts and conversion ratio, located by
// reflection) is exactly what Export copies, for the pinned library version
// (a version whose fields moved would fall back to Export: this test then
// says so), including a decoded histogram's non-default conversion ratio.
func TestHistViewMatchesExport(t *testing.T) {
	if !histFields.ok {
		t.Fatal("hdrhistogram-go's Histogram has no counts []int64 / conversionRatio float64: histView copies with Export")
	}
	h := NewHistogram()
	for v := range int64(5000) {
		h.RecordValue(1 + v*v)
	}
	s := h.Export()
	s.IntegerToDoubleConversionRatio = 2.5
	imported := hdrhistogram.Import(s)
	for i, x := range []*Histogram{NewHistogram(), h, imported} {
		got, want := histView(x), x.Export()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("histogram %d: view %+v differs from Export", i, got)
		}
		if len(got.Counts) > 0 && &got.Counts[0] == &want.Counts[0] {
			t.Fatalf("histogram %d: Export did not copy", i)
		}
	}
	if histView(imported).IntegerToDoubleConversionRatio != 2.5 {
		t.Fatal("conversion ratio not read")
	}
}

// TestResetHistMatchesReset: the sparse reset leaves a histogram exactly as
// Reset does (no count, every bucket zero, reusable), for empty, narrow,
// hour-wide and huge-count histograms, and for one whose counts were
// recorded, reset and recorded again.
func TestResetHistMatchesReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for k := range 8 {
		a := NewHistogram()
		switch k % 4 {
		case 1:
			a.RecordValues(300, 7)
		case 2:
			for range 2000 {
				a.RecordValue(1 + rng.Int64N(HistHighest))
			}
		case 3:
			a.RecordValues(HistHighest, 1<<50)
			a.RecordValues(1, 3)
		}
		b := NewHistogram()
		b.Merge(a)
		resetHist(a)
		b.Reset()
		if a.TotalCount() != 0 || !a.Equals(b) {
			t.Fatalf("case %d: sparse reset left total %d", k, a.TotalCount())
		}
		for i, c := range histView(a).Counts {
			if c != 0 {
				t.Fatalf("case %d: bucket %d still holds %d", k, i, c)
			}
		}
		a.RecordValues(42, 2)
		if a.TotalCount() != 2 || a.ValueAtQuantile(50) != 42 {
			t.Fatalf("case %d: histogram not reusable after the sparse reset", k)
		}
	}
}
