// Package report renders loadrig result files for people (Text, Markdown)
// and machines (JSON). It depends only on the metrics result types, so a
// report can be made offline from files alone, long after the run; `loadrig
// load` prints its summary through the same Text function, so what a run
// prints and what `loadrig report` prints for its file are identical.
//
// One result renders as a summary: target, model, duration and stop reason,
// throughput, the latency percentiles with service time and schedule lag
// beside them (open model), late sends, errors by kind, connections,
// per-phase timings, cache hit ratio, messages, and the generator's own
// warning when it could not keep the schedule (never silent). Several
// results render side by side, one column per result, labelled by
// Result.Name (callers set it, e.g. from the file name).
//
// Output is deterministic (sorted map keys, fixed formats), which the golden
// tests in testdata/ rely on; refresh them with `go test ./internal/report -update`.
package report
