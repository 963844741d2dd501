package report

import "testing"

func TestLead(t *testing.T) {
	for _, c := range []struct {
		adv float64
		ok  bool
		win string
		by  float64
	}{
		{2, true, "B", 2}, {0.5, true, "A", 2}, {1.05, true, Tie, 1.05}, {1.1, true, "B", 1.1},
		{1 / 1.1, true, "A", 1.1}, {3, false, "", 0}, {0, true, "", 0},
	} {
		w, by := Lead("A", "B", c.adv, c.ok)
		if w != c.win || !closeTo(by, c.by) {
			t.Errorf("Lead(%v, %v) = %q %v, want %q %v", c.adv, c.ok, w, by, c.win, c.by)
		}
	}
	if Ratio(3, 2) != "1.50" || Ratio(0, 2) != "-" {
		t.Error("Ratio")
	}
}

func TestCrossover(t *testing.T) {
	line, ok := Crossover("get", "ops/s", "ahead", []LeadPoint{{"1KB", "REST"}, {"16KB", "REST"}, {"64KB", Tie}, {"256KB", ""}, {"1MB", "gRPC"}})
	want := "get by ops/s: REST ahead at 1KB, 16KB; within 10% at 64KB; gRPC ahead at 1MB — the lead passes from REST to gRPC between 16KB and 1MB"
	if !ok || line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	line, _ = Crossover("list", "CPU µs/op", "cheaper", []LeadPoint{{"1KB", "gRPC"}, {"1MB", "gRPC"}})
	if line != "list by CPU µs/op: gRPC cheaper at 1KB, 1MB — no crossover within the sizes measured" {
		t.Error(line)
	}
	if _, ok := Crossover("x", "m", "a", []LeadPoint{{"1KB", ""}}); ok {
		t.Error("no winner anywhere must give no line")
	}
}
