package tmpl

import (
	"strings"
	"testing"
)

// FuzzCompile checks that Compile never panics and that whatever compiles
// also evaluates without panicking, and a constant renders its Const text.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "/p", "/p/{{.Seq}}", "{{randInt 1 10}}", "{{zipf 1.1 1 100}}", "{{uuid}}",
		"{{.Row.name}}", "{{.id}}", `{{"{{"}}`, "{{", "}}", "{{}}", "{{zipf 1.0000001 1 1}}", "{{randInt -5 -5}}"} {
		f.Add(s)
	}
	d, err := NewData("f", []string{"name", "id"}, [][]string{{"a", "1"}, {"b", "2"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, env := range []*Env{NewEnv(d, RowRandom, 1), NewEnv(nil, RowRoundRobin, 2)} {
			tp, err := env.Compile(src)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			ev := env.NewEvaluator(3)
			var out []byte
			for i := range 3 {
				ev.Begin(uint64(i))
				out = ev.Append(out[:0], tp)
			}
			if c, ok := tp.Const(); ok && c != string(out) {
				t.Fatalf("constant %q rendered %q", c, out)
			}
			if !strings.Contains(src, "{{") {
				if _, ok := tp.Const(); !ok || string(out) != src {
					t.Fatalf("plain text %q not constant (%q)", src, out)
				}
			}
		}
	})
}
