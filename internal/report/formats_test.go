package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// TestFormatGoldens covers every format of Formats with a golden file.
func TestFormatGoldens(t *testing.T) {
	ths, _ := ParseThresholds([]string{"p99<50ms", "hit_ratio>0.9"})
	a, b := histResult(t, "lru", 1, 3), closedResult()
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Render(&buf, f, Options{Verdicts: Evaluate(ths, a, b)}, a, b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if buf.Len() == 0 {
			t.Fatalf("%s: empty", f)
		}
		out := buf.String()
		if f == FormatHTML {
			out = strings.Replace(out, stripBanner(uplotJS), "/* uPlot */", 1)
		}
		golden(t, "formats."+f, []byte(out))
	}
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	run := openResult()
	run.Variant, run.Repetition = "cache=lru", 3
	run.Latency.Mean = 2435.3071999999993
	if err := CSV(&buf, openResult(), closedResult(), saturatedResult(), run); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("rows %d, header %v", len(rows), rows[0])
	}
	col := func(name string) int {
		for i, h := range CSVHeader {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	if rows[1][col("latency_p99_us")] != "6000" || rows[1][col("error_rate")] != "0.002" || rows[1][col("cache_hit_ratio")] != "0.832" {
		t.Errorf("open row: %v", rows[1])
	}
	// Closed model: no service time of its own, no late sends, no cache: empty, not 0.
	if r := rows[2]; r[col("service_time_p99_us")] != "" || r[col("late_sends")] != "" || r[col("cache_hit_ratio")] != "" {
		t.Errorf("closed row: %v", r)
	}
	if rows[3][col("saturated")] != "true" {
		t.Errorf("saturated row: %v", rows[3])
	}
	// A run of a profile says which variant and repetition it was; the
	// mean is rounded to the nanosecond.
	if r := rows[4]; r[col("variant")] != "cache=lru" || r[col("repetition")] != "3" || r[col("latency_mean_us")] != "2435.307" {
		t.Errorf("profile run row: variant %q repetition %q mean %q", r[col("variant")], r[col("repetition")], r[col("latency_mean_us")])
	}
	if r := rows[1]; r[col("variant")] != "" || r[col("repetition")] != "" {
		t.Errorf("plain run has variant %q repetition %q", r[col("variant")], r[col("repetition")])
	}
}

func TestHgrm(t *testing.T) {
	files, err := Hgrm(histResult(t, "get one", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "get_one.latency.hgrm" {
		t.Fatalf("files %+v", files)
	}
	txt := string(files[0].Text)
	if !strings.HasPrefix(txt, " Value\tPercentile\tTotalCount\t1/(1-Percentile)") || !strings.Contains(txt, "#[Max     =") {
		t.Fatalf("not a percentile distribution:\n%s", txt)
	}
	// Values in ms: the smallest sample is ~1 ms.
	if !strings.Contains(txt, "       1.000 ") {
		t.Errorf("first value not in ms:\n%s", txt[:300])
	}
	if _, err := Hgrm(closedResult()); err == nil {
		t.Error("a result without histograms must say so")
	}
}
