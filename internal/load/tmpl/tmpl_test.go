package tmpl

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func testData(t testing.TB) *Data {
	d, err := NewData("rows", []string{"name", "id"}, [][]string{{"ann", "1"}, {"bob", "2"}, {"cy", "3"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func render(ev *Evaluator, tp *Template, seq uint64) string {
	ev.Begin(seq)
	return string(ev.Append(nil, tp))
}

func TestConstant(t *testing.T) {
	env := NewEnv(nil, RowRoundRobin, 1)
	for _, src := range []string{"", "/hello", "a } b { c }}", `x{{"{{"}}y`} {
		tp, err := env.Compile(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		want := strings.ReplaceAll(src, `{{"{{"}}`, "{{")
		got, ok := tp.Const()
		if !ok || got != want {
			t.Fatalf("%q: Const() = %q, %v; want %q, true", src, got, ok, want)
		}
		if r := render(env.NewEvaluator(0), tp, 5); r != want {
			t.Fatalf("%q rendered %q", src, r)
		}
	}
}

func TestSeqAndFields(t *testing.T) {
	env := NewEnv(testData(t), RowRoundRobin, 1)
	tp := env.MustCompile("/u/{{.Seq}}?n={{.Row.name}}&id={{ .id }}")
	if _, ok := tp.Const(); ok || !tp.UsesRow() {
		t.Fatal("template with actions reported constant or not using row")
	}
	ev := env.NewEvaluator(3)
	for seq, want := range []string{"/u/0?n=ann&id=1", "/u/1?n=bob&id=2", "/u/2?n=cy&id=3", "/u/3?n=ann&id=1"} {
		if got := render(ev, tp, uint64(seq)); got != want {
			t.Errorf("seq %d: got %q want %q", seq, got, want)
		}
	}
	// One row per operation: URL and body of the same operation agree.
	env2 := NewEnv(testData(t), RowRandom, 9)
	a, b := env2.MustCompile("{{.name}}"), env2.MustCompile("{{.id}}")
	ev2 := env2.NewEvaluator(0)
	seen := map[string]bool{}
	for i := range 200 {
		ev2.Begin(uint64(i))
		n, id := string(ev2.Append(nil, a)), string(ev2.Append(nil, b))
		if map[string]string{"ann": "1", "bob": "2", "cy": "3"}[n] != id {
			t.Fatalf("row mismatch: name %q id %q", n, id)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Fatalf("random rows picked only %v", seen)
	}
}

func TestRandInt(t *testing.T) {
	env := NewEnv(nil, RowRoundRobin, 7)
	tp := env.MustCompile("{{randInt -2 3}}")
	ev := env.NewEvaluator(0)
	counts := map[int]int{}
	for i := range 6000 {
		v, err := strconv.Atoi(render(ev, tp, uint64(i)))
		if err != nil || v < -2 || v > 3 {
			t.Fatalf("randInt -2 3 gave %d (%v)", v, err)
		}
		counts[v]++
	}
	for v := -2; v <= 3; v++ {
		if counts[v] < 800 || counts[v] > 1200 {
			t.Errorf("value %d drawn %d times of 6000, want ~1000", v, counts[v])
		}
	}
	full := env.MustCompile("{{randInt -9223372036854775808 9223372036854775807}}")
	if _, err := strconv.ParseInt(render(ev, full, 0), 10, 64); err != nil {
		t.Fatal(err)
	}
}

func TestZipf(t *testing.T) {
	env := NewEnv(nil, RowRoundRobin, 7)
	tp := env.MustCompile("{{zipf 1.2 1 100}}")
	ev := env.NewEvaluator(0)
	counts := make([]int, 101)
	const N = 20000
	for i := range N {
		v, err := strconv.Atoi(render(ev, tp, uint64(i)))
		if err != nil || v < 1 || v > 100 {
			t.Fatalf("zipf 1.2 1 100 gave %d (%v), want 1..100", v, err)
		}
		counts[v]++
	}
	// P(k) ∝ (v + k-1)^-s for key k = 1..n.
	var norm float64
	for k := 1; k <= 100; k++ {
		norm += math.Pow(float64(k), -1.2)
	}
	for _, k := range []int{1, 2, 10} {
		p := math.Pow(float64(k), -1.2) / norm
		got := float64(counts[k]) / N
		if math.Abs(got-p) > 0.15*p+0.003 {
			t.Errorf("key %d: frequency %.4f, want %.4f", k, got, p)
		}
	}
	if counts[1] <= counts[2] || counts[2] <= counts[10] {
		t.Errorf("not skewed: %d %d %d", counts[1], counts[2], counts[10])
	}
	one := env.MustCompile("{{zipf 1.5 2 1}}")
	for i := range 10 {
		if r := render(ev, one, uint64(i)); r != "1" {
			t.Fatalf("zipf n=1 gave %q", r)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDAndDeterminism(t *testing.T) {
	env := NewEnv(nil, RowRoundRobin, 42)
	tp := env.MustCompile("{{uuid}} {{uuid}}")
	seen := map[string]bool{}
	ev := env.NewEvaluator(1)
	for i := range 1000 {
		for _, u := range strings.Fields(render(ev, tp, uint64(i))) {
			if !uuidRE.MatchString(u) {
				t.Fatalf("not a v4 uuid: %q", u)
			}
			if seen[u] {
				t.Fatalf("duplicate uuid %q", u)
			}
			seen[u] = true
		}
	}
	// Same seed and worker: same stream. Other worker or seed: another.
	a := render(NewEnv(nil, 0, 42).NewEvaluator(1), tp, 0)
	b := render(NewEnv(nil, 0, 42).NewEvaluator(1), tp, 0)
	c := render(NewEnv(nil, 0, 42).NewEvaluator(2), tp, 0)
	d := render(NewEnv(nil, 0, 43).NewEvaluator(1), tp, 0)
	if a != b || a == c || a == d {
		t.Fatalf("determinism: %q %q %q %q", a, b, c, d)
	}
}

func TestCompileErrors(t *testing.T) {
	env := NewEnv(testData(t), RowRoundRobin, 1)
	noData := NewEnv(nil, RowRoundRobin, 1)
	for _, tc := range []struct {
		env  *Env
		src  string
		want string
		off  int
	}{
		{env, "/x/{{foo 1}}", `unknown function "foo"`, 3},
		{env, "ab{{.Seq", "unclosed action", 2},
		{env, "{{randInt 1}}", "randInt takes 2 integer arguments", 0},
		{env, "{{randInt 5 1}}", "min is greater than max", 0},
		{env, "{{randInt a b}}", "must be integers", 0},
		{env, "{{zipf 1 1 10}}", "zipf s must be > 1", 0},
		{env, "{{zipf 1.1 0.5 10}}", "zipf v must be >= 1", 0},
		{env, "{{zipf 1.1 1 0}}", "zipf n must be at least 1", 0},
		{env, "{{zipf 1.1 1}}", "zipf takes 3 arguments", 0},
		{env, "x{{.Row.nope}}", `unknown data field "nope"; rows has fields name, id`, 1},
		{noData, "{{.name}}", "needs a data file", 0},
		{env, "{{}}", "empty action", 0},
		{env, "{{uuid 3}}", "uuid takes no arguments", 0},
		{env, "{{- .Seq}}", "trim markers", 0},
		{env, `{{"abc}}`, "bad string literal", 0},
	} {
		_, err := tc.env.Compile(tc.src)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%q: err %v, want a CompileError", tc.src, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || ce.Offset != tc.off {
			t.Errorf("%q: got %q (offset %d), want %q at offset %d", tc.src, err, ce.Offset, tc.want, tc.off)
		}
	}
}

func TestLoadData(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "users.csv")
	os.WriteFile(csvPath, []byte("\ufeffname, id\nann,1\n\"b,ob\",2\n"), 0o644)
	d, err := LoadData(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Columns, "|") != "name|id" || len(d.Rows) != 2 || d.Rows[1][0] != "b,ob" {
		t.Fatalf("csv: %+v", d)
	}
	jl := filepath.Join(dir, "users.jsonl")
	os.WriteFile(jl, []byte(`{"name":"ann","id":1,"vip":true}`+"\n\n"+`{"id":2.5,"tags":["a", "b"],"name":null,"x":{"y":1}}`+"\n"), 0o644)
	d, err = LoadData(jl)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Columns, "|"); got != "name|id|vip|tags|x" {
		t.Fatalf("jsonl columns %q", got)
	}
	if got := strings.Join(d.Rows[0], "|"); got != "ann|1|true||" {
		t.Fatalf("row 0 %q", got)
	}
	if got := strings.Join(d.Rows[1], "|"); got != `|2.5||["a","b"]|{"y":1}` {
		t.Fatalf("row 1 %q", got)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"missing.csv", "", "does not exist"},
		{"x.txt", "a\n1\n", "unknown format"},
		{"empty.csv", "", "empty file"},
		{"hdr.csv", "a,b\n", "no data rows"},
		{"dup.csv", "a,a\n1,2\n", "appears twice"},
		{"ragged.csv", "a,b\n1\n", "wrong number of fields"},
		{"bad.jsonl", "{\"a\":1}\n[1]\n", "line 2: want a JSON object"},
	} {
		p := filepath.Join(dir, tc.name)
		if tc.name != "missing.csv" {
			os.WriteFile(p, []byte(tc.body), 0o644)
		}
		if _, err := LoadData(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRowModeParse(t *testing.T) {
	for in, want := range map[string]RowMode{"": RowRoundRobin, "round-robin": RowRoundRobin, "Random": RowRandom} {
		if m, err := ParseRowMode(in); err != nil || m != want {
			t.Errorf("%q: %v %v", in, m, err)
		}
	}
	if _, err := ParseRowMode("zigzag"); err == nil {
		t.Error("zigzag accepted")
	}
}

func TestEvalAllocs(t *testing.T) {
	env := NewEnv(testData(t), RowRandom, 1)
	tp := env.MustCompile(`{"id":"{{uuid}}","n":"{{.Row.name}}","k":{{zipf 1.1 1 1000}},"r":{{randInt 1 9}},"s":{{.Seq}}}`)
	ev := env.NewEvaluator(0)
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		ev.Begin(12345)
		buf = ev.Append(buf[:0], tp)
	})
	if allocs != 0 {
		t.Fatalf("Append allocates %.1f times per evaluation", allocs)
	}
}
