// Package run is `loadrig run PROFILE`: one variant of a profile (its
// servers, all its workloads at once), --repeat times, each repetition on
// freshly started servers, writing DIR/<variant>/<workload>-r<k>.json and
// DIR/summary.json (loadrig.summary/v1). The profile is checked against
// the real commands' flags before anything starts (exit 2 with file:line:col).
package run
