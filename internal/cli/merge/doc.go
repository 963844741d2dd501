// Package merge is `loadrig merge FILE... -o OUT`: it combines the results of
// concurrent runs (several generators against one target) into one result
// with metrics.Merge — histograms added, counters summed, percentiles
// recomputed, inputs listed — and prints the merged summary.
package merge
