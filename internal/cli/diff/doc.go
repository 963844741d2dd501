// Package diff is `loadrig diff BASE CURRENT`: per workload and metric, the
// per-run values of two sets of runs compared with a Mann-Whitney U test
// (report.Diff), a regression called only when p < --alpha and the medians
// moved past --min-change in the bad direction. Exit 3 on a regression, 2
// on bad input (another schema, different workloads, under 4 runs a side).
package diff
