package metrics

import (
	"fmt"
	"sort"
)

// MaxOperations bounds the named operations a Recorder keeps apart (a
// GraphQL document's operations mixed by weight). Each costs one latency
// histogram per shard in use.
const MaxOperations = 32

// Operation is one named operation's share of a run: result key
// operations.<name>. Histogram is its success latency histogram (HDR V2
// compressed base64), so merges recompute Latency exactly.
type Operation struct {
	Requests  Requests `json:"requests"`
	Latency   Summary  `json:"latency_us"`
	Histogram string   `json:"histogram,omitempty"`
}

// GraphQL is what a GraphQL run saw besides statuses: result key graphql.
type GraphQL struct {
	// ErrorsByCode counts the entries of responses' errors arrays by
	// extensions.code ("" when an entry has none, as "unknown").
	ErrorsByCode map[string]int64 `json:"errors_by_code"`
	// APQ is present when automatic persisted queries were used.
	APQ *APQ `json:"apq,omitempty"`
}

// APQ counts automatic persisted query exchanges: a hit is a hash-only
// request the server answered; a miss is a PERSISTED_QUERY_NOT_FOUND that
// made the driver resend with the query (not an error). BytesSaved is net,
// against sending every query without APQ: each hit's query text left out
// minus the extensions it adds, less each miss's extra hash-only request
// body (GET: target) and its resend's extensions; request lines and headers
// are not counted. Negative when the query is shorter than the hash.
type APQ struct {
	Hits       int64 `json:"hits"`
	Misses     int64 `json:"misses"`
	BytesSaved int64 `json:"bytes_saved"`
}

// Subscriptions is a subscription run's delivery: result key subscriptions.
// Expected is how many events the subscribers should have received (each
// published event times the subscribers listening when it was published,
// when the driver publishes; else 0), Received how many arrived. Drops is
// Expected − Received when Expected is known.
type Subscriptions struct {
	Subscribers   int64   `json:"subscribers"`
	Expected      int64   `json:"expected"`
	Received      int64   `json:"received"`
	DeliveryRatio float64 `json:"delivery_ratio"`
	Drops         int64   `json:"drops"`
	Published     int64   `json:"published,omitempty"`
	PublishErrors int64   `json:"publish_errors,omitempty"`
	// PublishLate counts publishes sent more than one interval after their
	// intended time (the publisher's in-flight bound was reached).
	PublishLate int64 `json:"publish_late,omitempty"`
	// PublishErrorsByKind says why publishes failed (graphql_error:CODE for
	// an errors array, e.g. graphql_error:UNAUTHENTICATED).
	PublishErrorsByKind map[string]int64 `json:"publish_errors_by_kind,omitempty"`
	CloseCodes          map[string]int64 `json:"close_codes,omitempty"`
}

// SetRatio recomputes DeliveryRatio and Drops from the counts.
func (s *Subscriptions) SetRatio() {
	s.DeliveryRatio, s.Drops = 0, 0
	if s.Expected > 0 {
		s.DeliveryRatio = float64(s.Received) / float64(s.Expected)
		s.Drops = max(s.Expected-s.Received, 0)
	}
}

// opCounters is one named operation's counters in a shard or total.
type opCounters struct {
	ok, errors int64
	kinds      []kindCount
}

func (c *opCounters) addAndZero(s *opCounters) {
	c.ok += s.ok
	c.errors += s.errors
	s.ok, s.errors = 0, 0
	for i := range s.kinds {
		if s.kinds[i].n != 0 {
			found := false
			for j := range c.kinds {
				if c.kinds[j].kind == s.kinds[i].kind {
					c.kinds[j].n += s.kinds[i].n
					found = true
					break
				}
			}
			if !found {
				c.kinds = append(c.kinds, s.kinds[i])
			}
			s.kinds[i].n = 0
		}
	}
}

// fillOperations writes Result.Operations from the totals.
func (r *Recorder) fillOperations(res *Result) error {
	res.Operations = nil
	for i, name := range r.cfg.OperationNames {
		c := &r.opTot[i]
		if c.ok+c.errors == 0 {
			continue
		}
		h := r.opTotal[i]
		if h == nil {
			h = NewHistogram()
		}
		kinds := make(map[string]int64, len(c.kinds))
		for _, k := range c.kinds {
			if k.n != 0 {
				kinds[string(k.kind)] = k.n
			}
		}
		op := Operation{
			Requests: Requests{Total: c.ok + c.errors, OK: c.ok, Errors: c.errors, ErrorsByKind: kinds},
			Latency:  Summarize(h),
		}
		enc, err := EncodeHistogram(h)
		if err != nil {
			return fmt.Errorf("operation %s: %w", name, err)
		}
		op.Histogram = enc
		if res.Operations == nil {
			res.Operations = make(map[string]*Operation)
		}
		res.Operations[name] = &op
	}
	return nil
}

// mergeOperations merges the inputs' operations exactly: counters add,
// histograms add, summaries are recomputed.
func mergeOperations(results []*Result, name func(int) string) (map[string]*Operation, error) {
	var out map[string]*Operation
	hists := map[string]*Histogram{}
	for i, r := range results {
		keys := make([]string, 0, len(r.Operations))
		for k := range r.Operations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			op := r.Operations[k]
			if op == nil {
				continue
			}
			if op.Latency.N > 0 && op.Histogram == "" {
				return nil, fmt.Errorf("%s: operations.%s has %d latency values but no histogram, so it cannot be merged exactly", name(i), k, op.Latency.N)
			}
			if out == nil {
				out = map[string]*Operation{}
			}
			dst := out[k]
			if dst == nil {
				dst = &Operation{Requests: Requests{ErrorsByKind: map[string]int64{}}}
				out[k] = dst
				hists[k] = NewHistogram()
			}
			dst.Requests.Total += op.Requests.Total
			dst.Requests.OK += op.Requests.OK
			dst.Requests.Errors += op.Requests.Errors
			for kind, n := range op.Requests.ErrorsByKind {
				dst.Requests.ErrorsByKind[kind] += n
			}
			if op.Histogram != "" {
				h, err := DecodeHistogram(op.Histogram)
				if err != nil {
					return nil, fmt.Errorf("%s: operations.%s histogram: %w", name(i), k, err)
				}
				if dropped := hists[k].Merge(h); dropped > 0 {
					return nil, fmt.Errorf("%s: operations.%s histogram: %d values outside 1 µs..1 h", name(i), k, dropped)
				}
			}
		}
	}
	for k, op := range out {
		op.Latency = Summarize(hists[k])
		enc, err := EncodeHistogram(hists[k])
		if err != nil {
			return nil, fmt.Errorf("operations.%s: %w", k, err)
		}
		op.Histogram = enc
	}
	return out, nil
}

// mergeGraphQL sums the inputs' graphql sections; nil when none has one.
func mergeGraphQL(results []*Result) *GraphQL {
	var out *GraphQL
	for _, r := range results {
		g := r.GraphQL
		if g == nil {
			continue
		}
		if out == nil {
			out = &GraphQL{ErrorsByCode: map[string]int64{}}
		}
		for c, n := range g.ErrorsByCode {
			out.ErrorsByCode[c] += n
		}
		if g.APQ != nil {
			if out.APQ == nil {
				out.APQ = &APQ{}
			}
			out.APQ.Hits += g.APQ.Hits
			out.APQ.Misses += g.APQ.Misses
			out.APQ.BytesSaved += g.APQ.BytesSaved
		}
	}
	return out
}

// mergeSubscriptions sums the inputs' subscriptions sections and recomputes
// the ratio; nil when none has one.
func mergeSubscriptions(results []*Result) *Subscriptions {
	var out *Subscriptions
	for _, r := range results {
		s := r.Subscriptions
		if s == nil {
			continue
		}
		if out == nil {
			out = &Subscriptions{}
		}
		out.Subscribers += s.Subscribers
		out.Expected += s.Expected
		out.Received += s.Received
		out.Published += s.Published
		out.PublishErrors += s.PublishErrors
		out.PublishLate += s.PublishLate
		for k, n := range s.PublishErrorsByKind {
			if out.PublishErrorsByKind == nil {
				out.PublishErrorsByKind = map[string]int64{}
			}
			out.PublishErrorsByKind[k] += n
		}
		for c, n := range s.CloseCodes {
			if out.CloseCodes == nil {
				out.CloseCodes = map[string]int64{}
			}
			out.CloseCodes[c] += n
		}

	}
	if out != nil {
		out.SetRatio()
	}
	return out
}
