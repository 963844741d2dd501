package gqldrv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// ErrGraphQL is the error kind of a response whose errors array is not
// empty, data or not.
const ErrGraphQL metrics.ErrKind = "graphql_error"

// maxCodes bounds the distinct extensions.code values counted (the target
// chooses them); the rest are counted as "other".
const maxCodes = 64

// maxCodeLen bounds one counted code's length.
const maxCodeLen = 64

// Driver is the GraphQL load.Driver: queries and mutations over the HTTP
// driver (one client, its connection accounting and cost), subscriptions
// over WebSocket.
type Driver struct {
	opts Options
	ops  []*opState
	cum  []uint64 // cumulative weights
	sum  uint64
	vars *tmpl.Template // nil: no variables
	http *httpdrv.Driver
	sub  *subscriber // set for a subscription run
	path string      // the URL's path and query (request target)

	statsMu sync.Mutex
	stats   []*workerStats
	codesMu sync.Mutex
	codes   map[string]int64
}

// opState is an operation with its request pieces precomputed.
type opState struct {
	*Operation
	index int // Outcome.Op
	// POST body and GET target before and after the rendered variables,
	// with the query (Full) and without it (Hash: an APQ first attempt).
	postFull, postTailFull, postHash, postTailHash []byte
	getFull, getTailFull, getHash, getTailHash     []byte
	querySaved                                     int // request bytes an APQ hit does not send (the query)
	extCost                                        int // request bytes the APQ extensions add
}

// workerStats are one worker's APQ counters, on their own cache line.
type workerStats struct {
	hits, misses, saved atomic.Int64
	_                   [40]byte
}

var (
	_ load.Driver         = (*Driver)(nil)
	_ load.ConnCounter    = (*Driver)(nil)
	_ load.WireCounter    = (*Driver)(nil)
	_ load.OperationNamer = (*Driver)(nil)
	_ load.Annotator      = (*Driver)(nil)
)

// New parses the document, checks one rendering of the variables and
// returns the driver. Every error is bad input, said in one line.
func New(opts Options) (*Driver, error) {
	d := &Driver{opts: opts, codes: map[string]int64{}}
	all, err := ParseDocument(opts.Query)
	if err != nil {
		return nil, err
	}
	sel, err := SelectOperations(all, opts.OperationName, opts.Mix)
	if err != nil {
		return nil, err
	}
	u, err := endpoint(opts.URL)
	if err != nil {
		return nil, err
	}
	if sel[0].Kind == "subscription" {
		return newSubscriptionDriver(d, sel[0], u)
	}
	if opts.Publish != "" || opts.Subscribers > 0 {
		return nil, fmt.Errorf("--subscribers and --publish apply to subscription operations; %s is a %s", sel[0].ReportName(), sel[0].Kind)
	}
	ho := opts.HTTP
	ho.URL = u.String()
	ho.Method = "POST"
	if opts.GET {
		ho.Method = "GET"
	}
	ho.Body = ""
	ho.Revalidate = false
	ho.Headers = withDefaultHeaders(ho.Headers, !opts.GET)
	ho.NewExchange = d.newExchange
	if d.http, err = httpdrv.New(ho); err != nil {
		return nil, err
	}
	d.path = u.RequestURI()
	if opts.Variables != "" {
		if d.vars, err = d.http.Env().Compile(opts.Variables); err != nil {
			return nil, fmt.Errorf("--variables: %w", err)
		}
	}
	if err := d.checkVariables(d.http.Env(), sel); err != nil {
		return nil, err
	}
	for i, o := range sel {
		st := d.prepare(o, i+1)
		d.ops = append(d.ops, st)
		d.sum += uint64(o.Weight)
		d.cum = append(d.cum, d.sum)
	}
	return d, nil
}

// endpoint parses the URL; ws(s) is accepted as http(s).
func endpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: expected http://host[:port]/graphql", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("invalid URL %q: scheme %q is not http, https, ws or wss", raw, u.Scheme)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// withDefaultHeaders adds Content-Type (POST) and Accept unless given.
func withDefaultHeaders(hs []string, post bool) []string {
	out := append([]string(nil), hs...)
	has := func(name string) bool {
		for _, h := range hs {
			if n, _, _ := strings.Cut(h, ":"); strings.EqualFold(strings.TrimSpace(n), name) {
				return true
			}
		}
		return false
	}
	if post && !has("Content-Type") {
		out = append(out, "Content-Type: application/json")
	}
	if !has("Accept") {
		out = append(out, "Accept: application/json")
	}
	return out
}

// checkVariables renders the variables once (operation 0) and checks that
// they are a JSON object with every required variable of every operation.
func (d *Driver) checkVariables(env *tmpl.Env, ops []*Operation) error {
	vars := map[string]json.RawMessage{}
	if d.vars != nil {
		ev := env.NewEvaluator(0)
		ev.Begin(0)
		sample := ev.Append(nil, d.vars)
		if err := json.Unmarshal(sample, &vars); err != nil || vars == nil {
			msg := "not a JSON object"
			if err != nil {
				msg = err.Error()
			}
			return fmt.Errorf("--variables does not render to a JSON object (%s); the first rendering was: %.200s", msg, sample)
		}
	}
	for _, o := range ops {
		for _, name := range o.Required {
			if v, ok := vars[name]; !ok || string(v) == "null" {
				return fmt.Errorf("operation %s needs variable $%s (non-null, no default), which --variables does not give", o.ReportName(), name)
			}
		}
	}
	return nil
}

// prepare precomputes an operation's request pieces: everything but the
// rendered variables.
func (d *Driver) prepare(o *Operation, index int) *opState {
	st := &opState{Operation: o, index: index}
	q, _ := json.Marshal(o.Text)
	ext := ""
	if d.opts.APQ {
		sum := sha256.Sum256([]byte(o.Text))
		ext = `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	}
	// POST {"operationName":"X","query":"...","variables":V,"extensions":E}
	// and GET path?operationName=X&query=...&variables=V&extensions=E, each
	// split around V (the only part rendered per request).
	var head []string
	if o.Name != "" {
		n, _ := json.Marshal(o.Name)
		head = append(head, `"operationName":`+string(n))
	}
	post := func(withQuery bool) (pre, tail []byte) {
		fields := head
		if withQuery {
			fields = append(append([]string(nil), head...), `"query":`+string(q))
		}
		var after []string
		if ext != "" {
			after = append(after, `"extensions":`+ext)
		}
		if d.vars == nil {
			all := append(append([]string(nil), fields...), after...)
			return []byte("{" + strings.Join(all, ",")), []byte("}")
		}
		pre = []byte("{" + strings.Join(append(append([]string(nil), fields...), `"variables":`), ","))
		t := "}"
		if len(after) > 0 {
			t = "," + strings.Join(after, ",") + "}"
		}
		return pre, []byte(t)
	}
	st.postFull, st.postTailFull = post(true)
	st.postHash, st.postTailHash = post(false)
	st.querySaved = len(`"query":`) + len(q) + 1
	if ext != "" {
		st.extCost = len(`,"extensions":`) + len(ext)
	}

	base := d.path
	if strings.Contains(base, "?") {
		base += "&"
	} else {
		base += "?"
	}
	var ghead []string
	if o.Name != "" {
		ghead = append(ghead, "operationName="+url.QueryEscape(o.Name))
	}
	gq := "query=" + url.QueryEscape(o.Text)
	get := func(withQuery bool) (pre, tail []byte) {
		fields := ghead
		if withQuery {
			fields = append(append([]string(nil), ghead...), gq)
		}
		var after []string
		if ext != "" {
			after = append(after, "extensions="+url.QueryEscape(ext))
		}
		if d.vars == nil {
			all := append(append([]string(nil), fields...), after...)
			return []byte(base + strings.Join(all, "&")), nil
		}
		pre = []byte(base + strings.Join(append(append([]string(nil), fields...), "variables="), "&"))
		if len(after) > 0 {
			tail = []byte("&" + strings.Join(after, "&"))
		}
		return pre, tail
	}
	st.getFull, st.getTailFull = get(true)
	st.getHash, st.getTailHash = get(false)
	if d.opts.GET {
		st.querySaved = len(gq) + 1
		if ext != "" {
			st.extCost = len("&extensions=") + len(url.QueryEscape(ext))
		}
	}
	return st
}

// splitmix64 scrambles a sequence number into a uniform draw.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pick is operation seq's operation: by weight, drawn from seq.
func (d *Driver) pick(seq uint64) *opState {
	if len(d.ops) == 1 {
		return d.ops[0]
	}
	r := splitmix64(seq) % d.sum
	for i, c := range d.cum {
		if r < c {
			return d.ops[i]
		}
	}
	return d.ops[len(d.ops)-1]
}

// Protocol returns "graphql".
func (d *Driver) Protocol() string { return "graphql" }

// Target returns the URL as given.
func (d *Driver) Target() string { return d.opts.URL }

// OperationNames names the operations sent, in Outcome.Op order.
func (d *Driver) OperationNames() []string {
	if d.sub != nil {
		return []string{d.sub.op.ReportName()}
	}
	names := make([]string, len(d.ops))
	for i, o := range d.ops {
		names[i] = o.ReportName()
	}
	return names
}

// Operations returns the operations the run sends, with their weights.
func (d *Driver) Operations() []*Operation {
	if d.sub != nil {
		return []*Operation{d.sub.op}
	}
	out := make([]*Operation, len(d.ops))
	for i, o := range d.ops {
		out[i] = o.Operation
	}
	return out
}

// Subscription reports whether the run opens subscriptions.
func (d *Driver) Subscription() bool { return d.sub != nil }

// NewWorker returns worker id's Worker.
func (d *Driver) NewWorker(ctx context.Context, id int) (load.Worker, error) {
	if d.sub != nil {
		return d.sub.newWorker(ctx, id)
	}
	return d.http.NewWorker(ctx, id)
}

// Close releases the HTTP client's idle connections (and the publisher's).
func (d *Driver) Close() error {
	if d.sub != nil {
		return d.sub.close()
	}
	return d.http.Close()
}

// Connections reports client-side connections.
func (d *Driver) Connections() metrics.Connections {
	if d.sub != nil {
		return d.sub.conns.Connections()
	}
	return d.http.Connections()
}

// WireBytes is what the connections wrote and read.
func (d *Driver) WireBytes() metrics.Bytes {
	if d.sub != nil {
		return d.sub.conns.WireBytes()
	}
	return d.http.WireBytes()
}

// CacheSource is the header queries read the cache status from (the HTTP
// driver's), for metrics.Cache.Source; "" for subscriptions.
func (d *Driver) CacheSource() string {
	if d.sub != nil {
		return ""
	}
	return d.http.CacheSource()
}

// Path is the HTTP client path ("fast" or "net/http"), or "websocket".
func (d *Driver) Path() string {
	if d.sub != nil {
		return "websocket"
	}
	return d.http.Path()
}

// Annotate adds the graphql (and subscriptions) sections to a finished
// run's result (load.Annotator: the engine calls it after every worker
// finished).
func (d *Driver) Annotate(res *metrics.Result) {
	g := &metrics.GraphQL{ErrorsByCode: map[string]int64{}}
	d.codesMu.Lock()
	for c, n := range d.codes {
		g.ErrorsByCode[c] = n
	}
	d.codesMu.Unlock()
	if d.opts.APQ {
		a := &metrics.APQ{}
		d.statsMu.Lock()
		for _, s := range d.stats {
			a.Hits += s.hits.Load()
			a.Misses += s.misses.Load()
			a.BytesSaved += s.saved.Load()
		}
		d.statsMu.Unlock()
		g.APQ = a
	}
	res.GraphQL = g
	if d.sub != nil {
		res.Subscriptions = d.sub.result()
	}
}

// countCodes counts one response's error codes (measured operations only).
func (d *Driver) countCodes(codes []string) {
	d.codesMu.Lock()
	for _, c := range codes {
		switch {
		case c == "":
			c = "unknown"
		case len(c) > maxCodeLen:
			c = c[:maxCodeLen]
		}
		if _, ok := d.codes[c]; !ok && len(d.codes) >= maxCodes {
			c = "other"
		}
		d.codes[c]++
	}
	d.codesMu.Unlock()
}

// exchange is one worker's side of the HTTP driver's Exchange: it writes
// each operation's target and body and classifies its response.
type exchange struct {
	d       *Driver
	st      *workerStats
	op      *opState
	attempt int
	first   int    // the first attempt's body (POST) or target (GET) length
	vars    []byte // the operation's rendered variables, reused by a follow-up
	v       Verdict
}

func (d *Driver) newExchange(int) httpdrv.Exchange {
	st := &workerStats{}
	d.statsMu.Lock()
	d.stats = append(d.stats, st)
	d.statsMu.Unlock()
	return &exchange{d: d, st: st, vars: make([]byte, 0, 256), v: Verdict{Codes: make([]string, 0, 4)}}
}

// Request writes the operation's request: with APQ the first attempt sends
// the hash alone, a follow-up (after a miss) the query too.
func (x *exchange) Request(ev *tmpl.Evaluator, seq uint64, attempt int, target, body []byte) ([]byte, []byte, int) {
	d := x.d
	if attempt == 0 {
		x.op = d.pick(seq)
		if d.vars != nil {
			x.vars = ev.Append(x.vars[:0], d.vars)
		}
	}
	x.attempt = attempt
	op := x.op
	hashOnly := d.opts.APQ && attempt == 0
	if d.opts.GET {
		pre, tail := op.getFull, op.getTailFull
		if hashOnly {
			pre, tail = op.getHash, op.getTailHash
		}
		target = append(target, pre...)
		if d.vars != nil {
			target = appendQueryEscape(target, x.vars)
		}
		target = append(target, tail...)
		if attempt == 0 {
			x.first = len(target)
		}
		return target, body, op.index
	}
	target = append(target, d.path...)
	pre, tail := op.postFull, op.postTailFull
	if hashOnly {
		pre, tail = op.postHash, op.postTailHash
	}
	body = append(body, pre...)
	if d.vars != nil {
		body = append(body, x.vars...)
	}
	body = append(body, tail...)
	if attempt == 0 {
		x.first = len(body)
	}
	return target, body, op.index
}

// Response classifies the response: an APQ miss asks for the follow-up;
// a non-empty errors array fails a 2xx as graphql_error and is counted by
// code whatever the status; a 2xx that is not a JSON object is a
// protocol_error.
func (x *exchange) Response(status int, kind metrics.ErrKind, body []byte, truncated, recording bool) (metrics.ErrKind, bool) {
	v := &x.v
	Classify(body, v)
	d := x.d
	if d.opts.APQ && x.attempt == 0 {
		// Bytes saved, net, against sending the query without APQ: a hit
		// leaves the query out but adds the extensions; a miss costs the
		// hash-only request's body (GET: its target) and the extensions
		// of the resend. Request line and headers are not counted.
		if v.PersistedQueryNotFound {
			if recording {
				x.st.misses.Add(1)
				x.st.saved.Add(-int64(x.first + x.op.extCost))
			}
			return metrics.OK, true
		}
		if kind == metrics.OK && v.Errors == 0 && recording {
			x.st.hits.Add(1)
			x.st.saved.Add(int64(x.op.querySaved - x.op.extCost))
		}
	}
	if v.Errors > 0 && recording {
		d.countCodes(v.Codes)
	}
	switch {
	case kind != metrics.OK:
		return kind, false
	case v.Errors > 0:
		return ErrGraphQL, false
	case !v.JSON:
		return metrics.ErrProtocol, false
	}
	return metrics.OK, false
}

const upperHex = "0123456789ABCDEF"

// appendQueryEscape appends s escaped for a URL query value, as
// url.QueryEscape does, without allocating.
func appendQueryEscape(dst, s []byte) []byte {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}
