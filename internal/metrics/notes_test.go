package metrics

import (
	"strings"
	"testing"
)

func TestSplitNote(t *testing.T) {
	capNever := "the in-flight cap of 1000 was never reached, so the generator itself (CPU, scheduler tick 750µs) or the driver's own queue was too slow"
	for _, c := range []struct {
		note string
		want noteParts
	}{
		{"", noteParts{}},
		{LateNote(0.05, capNever), noteParts{late: true, cause: capNever}},
		{LateNote(0.2, "the in-flight cap of 5 was reached 3 times") + "; " + UnsentNote(17),
			noteParts{late: true, cause: "the in-flight cap of 5 was reached 3 times", unsent: 17}},
		{UnsentNote(4), noteParts{unsent: 4}},
		{ClosedModelNote, noteParts{rest: ClosedModelNote}},
		{"something else; " + UnsentNote(2), noteParts{unsent: 2, rest: "something else"}},
	} {
		if got := splitNote(c.note); got != c.want {
			t.Errorf("splitNote(%q)\n got %+v\nwant %+v", c.note, got, c.want)
		}
	}
}

// A merged result says once that the generator fell behind, with the
// merged fraction and how many inputs did, instead of every input's note.
func TestMergeNotes(t *testing.T) {
	capNever := "the in-flight cap of 10 was never reached, so the generator itself (CPU, scheduler tick 750µs) or the driver's own queue was too slow"
	capHit := "the in-flight cap of 10 was reached 2 times"
	a, b, c := resultOf(t, 2000, 1, 2), resultOf(t, 2000, 2, 2), resultOf(t, 2000, 3, 2)
	a.LateSends.Count += 100
	a.Generator = Generator{Saturated: true, Note: LateNote(0.05, capNever) + "; " + UnsentNote(7)}
	b.LateSends.Count += 60
	b.Generator = Generator{Saturated: true, Note: LateNote(0.03, capHit) + "; " + UnsentNote(5)}
	m, err := Merge([]*Result{a, b, c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.LateSends.Count != a.LateSends.Count+b.LateSends.Count+c.LateSends.Count || m.LateSends.Fraction <= 0 {
		t.Fatalf("late sends %+v", m.LateSends)
	}
	want := LateNote(m.LateSends.Fraction, "2 of 3 inputs: "+capNever+"; "+capHit) + "; " + UnsentNote(12)
	if !m.Generator.Saturated || m.Generator.Note != want {
		t.Fatalf("merged note\n got %q\nwant %q", m.Generator.Note, want)
	}
	if n := strings.Count(m.Generator.Note, "could not keep the schedule"); n != 1 {
		t.Fatalf("the note says it %d times: %q", n, m.Generator.Note)
	}

	// Identical causes are given once; a merge of merges keeps one clause.
	b.Generator.Note = LateNote(0.03, capNever)
	m, err = Merge([]*Result{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := LateNote(m.LateSends.Fraction, "2 of 2 inputs: "+capNever) + "; " + UnsentNote(7); m.Generator.Note != want {
		t.Fatalf("merged note\n got %q\nwant %q", m.Generator.Note, want)
	}
	again, err := Merge([]*Result{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Generator.Note != m.Generator.Note {
		t.Fatalf("merging a merged result changed its note:\n%q\n%q", m.Generator.Note, again.Generator.Note)
	}

	// Closed-model notes are not about the schedule: kept once.
	a.Generator, b.Generator = Generator{Note: ClosedModelNote}, Generator{Note: ClosedModelNote}
	m, err = Merge([]*Result{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Generator.Note != ClosedModelNote {
		t.Fatalf("closed-model note: %q", m.Generator.Note)
	}
}

// The shards of one profile run merge into a result of that run: its
// variant, repetition and workload are kept; results of different variants
// keep none.
func TestMergeKeepsRunIdentity(t *testing.T) {
	a, b := resultOf(t, 100, 1, 2), resultOf(t, 100, 2, 2)
	for i, r := range []*Result{a, b} {
		r.Name, r.Workload, r.Variant, r.Repetition = "reads", "GET http://127.0.0.1:1/", "cache=lru", 2
		r.Shard = &ShardInfo{Index: i, Count: 2}
	}
	m, err := Merge([]*Result{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "reads" || m.Workload != "GET http://127.0.0.1:1/" || m.Variant != "cache=lru" || m.Repetition != 2 {
		t.Fatalf("merged identity: name %q workload %q variant %q repetition %d", m.Name, m.Workload, m.Variant, m.Repetition)
	}
	b.Variant, b.Repetition = "cache=none", 3
	if m, err = Merge([]*Result{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	if m.Variant != "" || m.Repetition != 0 {
		t.Fatalf("inputs of two variants merged as variant %q repetition %d", m.Variant, m.Repetition)
	}
}
