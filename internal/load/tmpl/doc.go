// Package tmpl renders the per-operation templates of load drivers: the
// URL, headers and body of an HTTP request today, gRPC messages later.
//
// # Syntax
//
//	{{.Seq}}            the operation's sequence number in the run (from 0, warm-up included)
//	{{randInt a b}}     a uniform integer in [a, b], both inclusive, a <= b (negative allowed)
//	{{zipf s v n}}      a Zipf-distributed key in 1..n (1-based), key 1 the most frequent;
//	                    P(k) ∝ (v + k - 1)^-s with s > 1, v >= 1 (math/rand/v2 Zipf with imax n-1, plus 1),
//	                    so {{zipf 1.1 1 10000}} is a product id 1..10000 with a realistic read skew
//	{{uuid}}            a random version-4 UUID; each occurrence draws a new one
//	{{.Row.name}}       field "name" of the operation's data row; {{.name}} is the same
//	                    (use the .Row. form when a column is called Seq or Row)
//	{{"text"}}          a quoted Go string literal, e.g. {{"{{"}} for literal braces
//
// Spaces inside the braces are ignored. Nothing else of text/template is
// supported (no pipelines, no trim markers); anything else is a compile
// error that names the byte offset of the action and what is accepted.
//
// # Why not text/template
//
// A template is evaluated for every operation of a load test, on the
// generator's hot path, where the HTTP fast path's whole user-space budget is
// a few microseconds and 0 allocations. text/template executes by reflection
// and allocates per Execute. Compile here turns the source into a slice of
// segments (literal, seq, randInt, zipf, uuid, field) that Evaluator.Append
// writes into a caller-owned, reused []byte: 0 allocations per evaluation,
// and a source without "{{" compiles to a constant the driver can
// pre-serialize once.
//
// # Randomness and rows
//
// Each worker owns an Evaluator with its own PCG generator seeded from
// (Env seed, worker id): no locks, no crypto syscall for {{uuid}}, and a run
// with the same seed and worker count renders the same values. Evaluator.Begin
// picks one data row per operation — round-robin by Seq (row Seq mod N) or
// uniformly at random — so the URL, headers and body of one request read the
// same row.
//
// # Data files
//
// LoadData reads CSV with a header row, or JSONL (one object per line;
// columns are the union of keys in first-seen order; values are stringified:
// numbers keep their JSON text, null is "", nested values are compact JSON).
//
// # Measured cost
//
// go test -run XXX -bench . -benchtime 1s -count 3 ./internal/load/tmpl/
// (2 vCPUs shared with other jobs, Go 1.26.8, 2026-11-28):
//
//	BenchmarkEval/constant        14–15 ns/op   0 allocs/op
//	BenchmarkEval/seq+zipf_url    217–260 ns/op 0 allocs/op  (zipf rejection sampling: Log/Exp)
//	BenchmarkEval/body_uuid+row   182–336 ns/op 0 allocs/op
//
// Against a ~10 µs loopback HTTP request that is 0.1–3 %.
package tmpl
