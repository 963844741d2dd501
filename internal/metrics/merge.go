package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Merge combines results of runs that ran at the same time (a distributed
// run: several generators against one target) into one result, exactly where
// exactness is possible:
//
//   - histograms are decoded and added, and every percentile (latency,
//     service time, schedule lag, error latency, message latency, phases) is
//     recomputed from the merged histograms, never averaged;
//   - counters (requests, errors by kind, late sends, connections, cache,
//     messages, bytes) are summed and the ratios recomputed;
//   - duration_s is the longest input's, because the runs are assumed to be
//     concurrent; throughput_rps = ok / duration_s;
//   - timeline points are matched by t_s: rates and errors add (messages
//     too); p50/p99 are exact, from the added per-second histograms
//     (Point.Hist), when every input point of that second has one (sharded
//     runs keep them), else the maximum over inputs, an upper bound (the
//     message p50/p99 are always that maximum);
//   - connections.peak_open is summed, an upper bound on the true peak;
//     failed, reconnects and closed_by_code add up; connect_time_us comes
//     from the merged histogram; fanout counts add up and the delivery
//     ratio is recomputed;
//   - the model's rate, max_inflight and concurrency add up;
//   - started_at is the earliest; the stop reason is "interrupted" or
//     "error_budget" if any input stopped that way, else the first input's;
//   - operations.<name> add their counters and histograms, and their
//     latency summaries are recomputed (exact); graphql and subscriptions
//     counters add and the delivery ratio is recomputed;
//   - the generator's note is written once from the merged counts: the
//     merged late-send fraction (and how many inputs were late, and why),
//     the unsent operations added up, any other note once;
//   - the variant and repetition are kept when every input has the same
//     (the shards of one profile run);
//   - server sections are dropped (they are snapshots, not additive).
//
// inputs names the results (file paths) for Result.Inputs and for errors; it
// may be nil. Results with another schema, or with a summary but without the
// histogram it came from, are rejected: an inexact merge would look exact.
func Merge(results []*Result, inputs []string) (*Result, error) {
	if len(results) == 0 {
		return nil, errors.New("merge: no results given")
	}
	if inputs != nil && len(inputs) != len(results) {
		return nil, fmt.Errorf("merge: %d results but %d input names", len(results), len(inputs))
	}
	name := func(i int) string {
		if inputs != nil {
			return inputs[i]
		}
		return fmt.Sprintf("input %d", i+1)
	}
	for i, r := range results {
		if r == nil {
			return nil, fmt.Errorf("merge: %s: no result", name(i))
		}
		if r.Schema != Schema {
			return nil, fmt.Errorf("merge: %s: schema %q, want %q", name(i), r.Schema, Schema)
		}
	}

	hists := map[string]*Histogram{}
	for i, r := range results {
		if err := requireHist(r, HistLatency, r.Latency.N); err != nil {
			return nil, fmt.Errorf("merge: %s: %w", name(i), err)
		}
		if err := requireHist(r, HistServiceTime, r.ServiceTime.N); err != nil {
			return nil, fmt.Errorf("merge: %s: %w", name(i), err)
		}
		for _, opt := range []struct {
			key string
			s   *Summary
		}{{HistScheduleLag, r.ScheduleLag}, {HistError, r.ErrorLatency}, {HistMessageLatency, r.MessageLatency}, {HistConnectTime, r.ConnectTime}, {HistAckLatency, r.AckLatency}} {
			if opt.s != nil {
				if err := requireHist(r, opt.key, opt.s.N); err != nil {
					return nil, fmt.Errorf("merge: %s: %w", name(i), err)
				}
			}
		}
		for p, s := range r.Phases {
			if err := requireHist(r, PhaseHistPrefix+p, s.N); err != nil {
				return nil, fmt.Errorf("merge: %s: %w", name(i), err)
			}
		}
		for key, enc := range r.Histograms {
			h, err := DecodeHistogram(enc)
			if err != nil {
				return nil, fmt.Errorf("merge: %s: histogram %q: %w", name(i), key, err)
			}
			dst := hists[key]
			if dst == nil {
				dst = NewHistogram()
				hists[key] = dst
			}
			if dropped := dst.Merge(h); dropped > 0 {
				return nil, fmt.Errorf("merge: %s: histogram %q: %d values outside 1 µs..1 h", name(i), key, dropped)
			}
		}
	}

	first := results[0]
	out := &Result{
		Schema:      Schema,
		ToolVersion: joinUnique(results, func(r *Result) string { return r.ToolVersion }),
		StartedAt:   first.StartedAt,
		Protocol:    joinUnique(results, func(r *Result) string { return r.Protocol }),
		Target:      joinUnique(results, func(r *Result) string { return r.Target }),
		Name:        joinUnique(results, func(r *Result) string { return r.Name }),
		Workload:    joinUnique(results, func(r *Result) string { return r.Workload }),
		StopReason:  first.StopReason,
		Inputs:      append([]string(nil), inputs...),
	}
	if inputs == nil {
		out.Inputs = nil
	}
	out.Model = mergeModel(results)
	// The shards of one profile run keep its variant and repetition, so the
	// merged result is grouped like the runs it stands for (report, diff).
	if v := first.Variant; v != "" && all(results, func(r *Result) bool { return r.Variant == v }) {
		out.Variant = v
	}
	if k := first.Repetition; k > 0 && all(results, func(r *Result) bool { return r.Repetition == k }) {
		out.Repetition = k
	}

	kinds := map[string]int64{}
	var conn Connections
	var cache Cache
	var cacheSeen bool
	var msgs Messages
	var msgSeen bool
	var bytes Bytes
	var bytesSeen bool
	var late int64
	var fan *Fanout
	for _, r := range results {
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		if r.DurationS > out.DurationS {
			out.DurationS = r.DurationS
		}
		switch r.StopReason {
		case StopInterrupted:
			out.StopReason = StopInterrupted
		case StopErrorBudget:
			if out.StopReason != StopInterrupted {
				out.StopReason = StopErrorBudget
			}
		}
		out.Requests.Total += r.Requests.Total
		out.Requests.OK += r.Requests.OK
		out.Requests.Errors += r.Requests.Errors
		for k, n := range r.Requests.ErrorsByKind {
			kinds[k] += n
		}
		late += r.LateSends.Count
		conn.Opened += r.Connections.Opened
		conn.Reused += r.Connections.Reused
		conn.PeakOpen += r.Connections.PeakOpen
		conn.Failed += r.Connections.Failed
		conn.Reconnects += r.Connections.Reconnects
		if cc := r.Connections.ClosedByCode; cc != nil {
			if conn.ClosedByCode == nil {
				conn.ClosedByCode = &CodeCounts{}
			}
			for k, n := range *cc {
				(*conn.ClosedByCode)[k] += n
			}
		}
		if f := r.Fanout; f != nil {
			if fan == nil {
				fan = &Fanout{}
			}
			fan.Expected += f.Expected
			fan.Delivered += f.Delivered
			fan.Duplicates += f.Duplicates
			fan.OutOfOrder += f.OutOfOrder
		}
		if c := r.Cache; c != nil {
			cacheSeen = true
			cache.Hits += c.Hits
			cache.Misses += c.Misses
			cache.Revalidated += c.Revalidated
			cache.Other += c.Other
		}
		if m := r.Messages; m != nil {
			msgSeen = true
			msgs.Sent += m.Sent
			msgs.Received += m.Received
			msgs.Errors += m.Errors
			for k, n := range m.ErrorsByKind {
				if msgs.ErrorsByKind == nil {
					msgs.ErrorsByKind = map[string]int64{}
				}
				msgs.ErrorsByKind[k] += n
			}
		}
		if b := r.Bytes; b != nil {
			bytesSeen = true
			bytes.Sent += b.Sent
			bytes.Received += b.Received
		}
		if r.Generator.Saturated {
			out.Generator.Saturated = true
		}
	}
	out.Requests.ErrorsByKind = kinds
	if out.DurationS > 0 {
		out.ThroughputRPS = float64(out.Requests.OK) / out.DurationS
	}
	out.Connections = conn
	if cacheSeen {
		cache.Source = joinUnique(results, func(r *Result) string {
			if r.Cache == nil {
				return ""
			}
			return r.Cache.Source
		})
		cache.setRatio()
		out.Cache = &cache
	}
	if msgSeen {
		out.Messages = &msgs
	}
	if bytesSeen {
		out.Bytes = &bytes
	}

	if hists[HistLatency] == nil {
		hists[HistLatency] = NewHistogram()
	}
	if hists[HistServiceTime] == nil {
		hists[HistServiceTime] = NewHistogram()
	}
	out.Latency = Summarize(hists[HistLatency])
	out.ServiceTime = Summarize(hists[HistServiceTime])
	out.ScheduleLag = SummaryPtr(hists[HistScheduleLag])
	out.ErrorLatency = SummaryPtr(hists[HistError])
	out.MessageLatency = SummaryPtr(hists[HistMessageLatency])
	out.ConnectTime = SummaryPtr(hists[HistConnectTime])
	out.AckLatency = SummaryPtr(hists[HistAckLatency])
	if fan != nil {
		fan.SetRatio()
		out.Fanout = fan
	}
	if lag := hists[HistScheduleLag]; lag != nil && lag.TotalCount() > 0 {
		out.LateSends = LateSends{Count: late, Fraction: float64(late) / float64(lag.TotalCount())}
	} else {
		out.LateSends = LateSends{Count: late}
	}
	out.Generator.Note = mergeNotes(results, out.LateSends)
	out.Histograms = make(map[string]string, len(hists))
	for key, h := range hists {
		if strings.HasPrefix(key, PhaseHistPrefix) && h.TotalCount() > 0 {
			if out.Phases == nil {
				out.Phases = map[string]Summary{}
			}
			out.Phases[strings.TrimPrefix(key, PhaseHistPrefix)] = Summarize(h)
		}
		enc, err := EncodeHistogram(h)
		if err != nil {
			return nil, fmt.Errorf("merge: histogram %q: %w", key, err)
		}
		out.Histograms[key] = enc
	}
	out.Timeline = mergeTimeline(results)
	ops, err := mergeOperations(results, name)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	out.Operations = ops
	out.GraphQL = mergeGraphQL(results)
	out.Subscriptions = mergeSubscriptions(results)
	return out, nil
}

func requireHist(r *Result, key string, n int64) error {
	if n > 0 && r.Histograms[key] == "" {
		return fmt.Errorf("has %d %s values but no histograms.%s, so it cannot be merged exactly", n, key, key)
	}
	return nil
}

func mergeModel(results []*Result) Model {
	m := results[0].Model
	for _, r := range results[1:] {
		o := r.Model
		if o.Kind != m.Kind {
			m.Kind = "mixed"
		}
		m.Rate += o.Rate
		m.MaxInflight += o.MaxInflight
		m.Concurrency += o.Concurrency
		if o.Stages != m.Stages {
			m.Stages = ""
		}
		if o.ThinkTimeUS != m.ThinkTimeUS {
			m.ThinkTimeUS = 0
		}
	}
	return m
}

func mergeTimeline(results []*Result) []Point {
	byT := map[int64]*Point{}
	hists := map[int64][]string{}
	inexact := map[int64]bool{}
	for _, r := range results {
		for _, p := range r.Timeline {
			k := int64(math.Round(p.TS * 1000))
			q := byT[k]
			if q == nil {
				q = &Point{TS: float64(k) / 1000}
				byT[k] = q
			}
			q.OfferedRPS += p.OfferedRPS
			q.CompletedRPS += p.CompletedRPS
			q.Errors += p.Errors
			q.P50US = max(q.P50US, p.P50US)
			q.P99US = max(q.P99US, p.P99US)
			switch {
			case p.Hist != "":
				hists[k] = append(hists[k], p.Hist)
			case p.P50US > 0:
				inexact[k] = true // a second with latencies but no histogram
			}
			q.MsgSentRPS += p.MsgSentRPS
			q.MsgReceivedRPS += p.MsgReceivedRPS
			q.MsgErrors += p.MsgErrors
			q.MsgP50US = max(q.MsgP50US, p.MsgP50US)
			q.MsgP99US = max(q.MsgP99US, p.MsgP99US)
		}
	}
	out := make([]Point, 0, len(byT))
	for k, p := range byT {
		if hs := hists[k]; len(hs) > 0 && !inexact[k] {
			if m, err := MergeEncoded(hs...); err == nil {
				p.Hist, p.P50US, p.P99US = m.Encoded, m.P50, m.P99
			}
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TS < out[j].TS })
	return out
}

// MergedHist is a merge of encoded histograms: the encoding and its
// median and 99th percentile (microseconds).
type MergedHist struct {
	Encoded  string
	P50, P99 int64
}

// MergeEncoded adds encoded histograms (EncodeHistogram) exactly; empty
// strings are skipped.
func MergeEncoded(encs ...string) (MergedHist, error) {
	sum := NewHistogram()
	for _, e := range encs {
		if e == "" {
			continue
		}
		h, err := DecodeHistogram(e)
		if err != nil {
			return MergedHist{}, err
		}
		sum.Merge(h)
	}
	enc, err := EncodeHistogram(sum)
	if err != nil {
		return MergedHist{}, err
	}
	m := MergedHist{Encoded: enc}
	if sum.TotalCount() > 0 {
		m.P50, m.P99 = sum.ValueAtQuantile(50), sum.ValueAtQuantile(99)
	}
	return m, nil
}

func joinUnique(results []*Result, f func(*Result) string) string {
	var vals []string
	for _, r := range results {
		if v := f(r); v != "" && !contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, ", ")
}

func all(results []*Result, f func(*Result) bool) bool {
	for _, r := range results {
		if !f(r) {
			return false
		}
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// dealt says how a shard's operations were dealt (ShardInfo.By).
func dealt(by string) string {
	if by == "" {
		return "by sequence number"
	}
	return "by " + by
}

// CheckShards checks that results are one plan's shards, each exactly
// once: all or none sharded, one shard count, no index twice, one plan
// hash. A missing shard is an error unless allowPartial, when partial is
// true instead. Unsharded results with differing plan hashes are mixed
// plans too. names label the results in errors.
func CheckShards(results []*Result, names []string, allowPartial bool) (partial bool, err error) {
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("input %d", i+1)
	}
	hash := ""
	for i, r := range results {
		if r.PlanHash == "" {
			continue
		}
		if hash == "" {
			hash = r.PlanHash
		} else if r.PlanHash != hash {
			return false, fmt.Errorf("%s belongs to another plan (plan_hash %.12s, not %.12s): merge results of one plan only", name(i), r.PlanHash, hash)
		}
	}
	sharded := 0
	for _, r := range results {
		if r.Shard != nil {
			sharded++
		}
	}
	if sharded == 0 {
		return false, nil
	}
	if sharded != len(results) {
		return false, errors.New("some results are shards and some are not: merge one sharded run's shards, or unsharded results")
	}
	count := results[0].Shard.Count
	seen := map[int]string{}
	for i, r := range results {
		if r.Shard.Count != count {
			return false, fmt.Errorf("%s is shard %d/%d but %s is of %d shards", name(i), r.Shard.Index, r.Shard.Count, name(0), count)
		}
		if by := r.Shard.By; by != results[0].Shard.By {
			return false, fmt.Errorf("%s was dealt %s but %s %s: merge shards dealt one way", name(i), dealt(by), name(0), dealt(results[0].Shard.By))
		}
		if prev, dup := seen[r.Shard.Index]; dup {
			return false, fmt.Errorf("shard %d/%d given twice: %s and %s", r.Shard.Index, count, prev, name(i))
		}
		seen[r.Shard.Index] = name(i)
	}
	var missing []string
	for i := range count {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, count))
		}
	}
	if len(missing) > 0 {
		if !allowPartial {
			return false, fmt.Errorf("missing shard(s) %s; give every shard, or --allow-partial to merge what there is (marked partial)", strings.Join(missing, ", "))
		}
		return true, nil
	}
	return false, nil
}
