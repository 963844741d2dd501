// Package compare is `loadrig compare PROFILE`: every variant of a profile
// in isolation — each repetition of each variant on freshly started servers
// (child `loadrig serve` processes of the same binary; --inproc keeps one
// process), warmed up, with repetitions interleaved round robin (v1 v2 v3,
// v1 v2 v3, ...) so drift of a noisy host hits every variant alike — then
// a table of variants × metrics: medians with their range, and a best
// value marked only when it is significantly better than every other.
//
// Significance: a best value is marked only when every one of its runs
// beats every run of each other variant (complete separation: an exact
// two-sided Mann-Whitney p of 2/C(n1+n2, n1), below 0.05 only from 4 runs
// a side — with 3 it is 0.10) and report.Diff, the test `loadrig diff`
// uses (benchmath's Mann-Whitney U, a change past 5 %), calls it an
// improvement over each other variant.
//
// Redis: a variant whose server starts its own redis-server (no
// --redis-url) gets a fresh one with every server start. --redis-url URL
// points every server that has the flag at a Redis you run; --redis-flush
// then empties that database before each variant's repetition. A Redis
// loadrig did not start is never flushed without --redis-flush.
//
// --server-cpus and --load-cpus pin the child servers and this process
// (every thread; new ones inherit) on Linux.
package compare
