// Package report renders and judges loadrig result files. It depends only
// on the metrics result types, so everything here runs offline from files
// alone, long after the run; `loadrig load` prints its summary through the
// same Render, so what a run prints and what `loadrig report` prints for its
// file are identical.
//
// # Rendering
//
// Render(w, format, opts, results...) is the one entry point over one list
// of formats (Formats: text, json, markdown, csv, html, hgrm, junit) that
// every command's --format takes. One result renders as a summary: target,
// model, duration and stop reason, throughput, the latency percentiles with
// service time and schedule lag beside them (open model), late sends,
// errors by kind, connections, per-phase timings, cache hit ratio,
// messages, the server's /stats (decoded once, by metrics.DecodeServerStats),
// and the generator's own warning when it could not keep the schedule
// (never silent). Several results render side by side, one column per
// result, labelled by Result.Name (callers set it, e.g. from the file name).
// Text and Markdown are the same document (doc) written two ways; HTML
// writes that document's tables as HTML under charts drawn by the vendored
// uPlot 1.6.32 (assets/uplot, MIT, inline: the page loads nothing, and its
// Content-Security-Policy says so): the latency percentile spectrum on a log
// axis of 1/(1−p) from the latency histogram, each timeline (downsampled by
// LTTB past 2,000 points) and bars side by side. CSV is one row per result
// under the fixed CSVHeader; hgrm is hdrhistogram-go's PercentilesPrint in
// milliseconds, one per histogram.
//
// # Judging
//
// Thresholds (ParseThreshold, Evaluate) are `[WORKLOAD:]METRIC OP VALUE`
// rules; a metric a result has no data for fails, never passes. Diff
// compares per-run values of two sets of runs per workload and metric with
// benchstat's Mann-Whitney U test (golang.org/x/perf/benchmath,
// AssumeNothing) and calls a regression only when p < alpha and the median
// moved past a minimum change in the bad direction. Lead, Ratio and
// Crossover are the side-by-side comparison the demo (and compare) print.
// Verdicts and diff rows become JUnit test cases (WriteJUnit).
//
// Output is deterministic (sorted map keys, fixed formats), which the golden
// tests in testdata/ rely on; refresh them with `go test ./internal/report -update`.
package report
