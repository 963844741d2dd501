// Package metrics records what the load engine measures and defines the
// result file, loadrig.result/v1 (MEASUREMENT.md), with its decoding,
// encoding and exact merge.
//
// # Recording
//
// Every distribution is an HdrHistogram in microseconds, 1 µs to 1 h, 3
// significant digits (hdrhistogram-go v1.4.0). Such a histogram is ~184 KiB
// and is not safe for concurrent writes. "One histogram per worker per
// metric" would cost 1,000 workers × 3 metrics × 184 KiB ≈ 550 MB in an open
// model run with --max-inflight 1000, so the Recorder shards instead: a small
// fixed number of Shards (the engine uses min(workers, 2×GOMAXPROCS, 16)),
// each an uncontended sync.Mutex over its own interval histograms (latency,
// service time, schedule lag, error latency, message latency and up to
// MaxPhases phases, each allocated on first use) and counters (ok, errors by
// kind in a small slice that allocates only on a kind's first sighting, cache
// statuses, bytes, messages, late sends). Workers are assigned a shard by id.
// Once per interval the engine's collector calls Collect, which swaps each
// shard's histograms for empty spares under the shard lock, then merges the
// swapped-out ones into the run totals outside the lock and resets them to
// become the next shard's spares. So memory is shards × distributions in use
// + one spare and one total per distribution + one interval histogram: it
// depends on neither run length nor worker count (Recorder.HistogramCount
// reports it; a test asserts it stays fixed).
//
// Measured cost (go test -run XXX -bench . -benchtime=1s ./internal/metrics/,
// 2 vCPU Xeon KVM guest, Go 1.26.8, three passes while other sessions were
// loading the machine):
//
//	BenchmarkRecordOp           45-69 ns/op   0 allocs  (lock + 3 RecordValue + counters + unlock)
//	BenchmarkRecordOpParallel   41-71 ns/op   0 allocs  (2 goroutines, 4 shards)
//	BenchmarkCollect            170-246 µs/op 0 allocs  (4 shards; once per second)
//	BenchmarkMerge              9.9-10.1 ms/op          (4 results of 5,000 ops, all histograms)
//
// The record path is within the ~100 ns budget (PERF-NOTES: a request's
// floor is ~10 µs), and the per-second collect is ~0.02 % of one core.
// TestRecordOpDoesNotAllocate asserts the zero allocations.
//
// Errors never enter the latency, service-time or phase histograms; their
// latency goes to the error histogram. Schedule lag is recorded for every
// operation because it describes the generator, not the target.
//
// # Result files
//
// Decode/Load read a result and reject other schemas with a clear error;
// (*Result).Write writes indented JSON. Histograms are stored as HDR V2
// compressed base64 (EncodeHistogram/DecodeHistogram), which is what makes
// Merge exact: see Merge for which figures are exact and which are bounds.
package metrics
