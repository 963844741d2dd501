package tmpl

import "testing"

func benchEval(b *testing.B, env *Env, src string) {
	tp := env.MustCompile(src)
	ev := env.NewEvaluator(0)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ev.Begin(uint64(i))
		buf = ev.Append(buf[:0], tp)
	}
}

// BenchmarkEval measures one evaluation per operation of typical templates.
func BenchmarkEval(b *testing.B) {
	d := testData(b)
	b.Run("constant", func(b *testing.B) {
		benchEval(b, NewEnv(nil, RowRoundRobin, 1), "/products/42?verbose=1")
	})
	b.Run("seq+zipf_url", func(b *testing.B) {
		benchEval(b, NewEnv(nil, RowRoundRobin, 1), "/products/{{zipf 1.1 1 10000}}?req={{.Seq}}")
	})
	b.Run("body_uuid+row", func(b *testing.B) {
		benchEval(b, NewEnv(d, RowRoundRobin, 1), `{"request_id":"{{uuid}}","user":"{{.Row.name}}","id":{{.Row.id}},"qty":{{randInt 1 5}}}`)
	})
}
