package gqldrv

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

func do(t *testing.T, d *Driver, w load.Worker, seq uint64) load.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return w.Do(ctx, load.NewOp(seq, nil))
}

// A 200 whose errors array is not empty is a failure (graphql_error),
// counted by extensions.code, even with data; a non-2xx stays the HTTP
// driver's kind; a 2xx that is not JSON is a protocol error. Both HTTP
// paths agree.
func TestTwoHundredWithErrors(t *testing.T) {
	for _, force := range []bool{false, true} {
		f, u := newFake(t)
		for op, want := range map[string]metrics.ErrKind{"Good": metrics.OK, "Bad": ErrGraphQL, "Boom": "http_500", "Text": metrics.ErrProtocol} {
			d := newDriver(t, Options{URL: u, Query: testDoc, OperationName: op, Variables: `{"id":"{{.Seq}}"}`, HTTP: httpdrv.Options{ForceNetHTTP: force}})
			w, err := d.NewWorker(t.Context(), 0)
			if err != nil {
				t.Fatal(err)
			}
			// Recorded operations count codes; warm-up ones do not.
			sink := load.NewOp(1, nopSink{})
			out := w.Do(t.Context(), sink)
			w.Close()
			if out.Err != want || out.Op != 1 {
				t.Errorf("net/http=%v %s: outcome %+v, want kind %q op 1", force, op, out, want)
			}
			var res metrics.Result
			d.Annotate(&res)
			if op == "Bad" && res.GraphQL.ErrorsByCode["NOT_FOUND"] != 1 {
				t.Errorf("%s: errors_by_code %v, want NOT_FOUND 1", op, res.GraphQL.ErrorsByCode)
			}
			if op == "Good" && len(res.GraphQL.ErrorsByCode) != 0 {
				t.Errorf("Good counted codes %v", res.GraphQL.ErrorsByCode)
			}
		}
		if f.count("Good") != 1 || f.count("Bad") != 1 {
			t.Errorf("server saw %v", f.byOp)
		}
		if got := f.vars[0]; got != `{"id":"1"}` {
			t.Errorf("variables sent %q, want the rendered template {\"id\":\"1\"}", got)
		}
		// Only the operation and the fragment it uses are sent.
		for _, q := range f.queries {
			if strings.Count(q, "query ") != 1 {
				t.Errorf("sent document %q, want one operation", q)
			}
		}
		for _, q := range f.queries {
			if strings.Contains(q, "query Good") != strings.Contains(q, "fragment P on Product") {
				t.Errorf("fragment P sent with the wrong operation (only Good uses it): %q", q)
			}
		}
	}
}

// A mix sends each operation its share (drawn from the sequence number),
// the engine reports each under its name, and a merge of two runs adds
// them exactly.
func TestMixPerOperationAndMerge(t *testing.T) {
	f, u := newFake(t)
	var results []*metrics.Result
	for run := 0; run < 2; run++ {
		d := newDriver(t, Options{URL: u, Query: testDoc, Mix: "Good=3,Bad=1", Variables: `{"id":"{{randInt 1 100}}"}`})
		res, err := load.Run(t.Context(), d, load.Config{Concurrency: 4, Requests: 400})
		if err != nil {
			t.Fatal(err)
		}
		d.Annotate(res)
		g, b := res.Operations["Good"], res.Operations["Bad"]
		if g == nil || b == nil || g.Requests.Total+b.Requests.Total != 400 {
			t.Fatalf("operations %+v", res.Operations)
		}
		if g.Requests.Errors != 0 || b.Requests.OK != 0 || b.Requests.ErrorsByKind["graphql_error"] != b.Requests.Total {
			t.Errorf("good %+v bad %+v", g.Requests, b.Requests)
		}
		if g.Requests.Total < 250 || g.Requests.Total > 350 {
			t.Errorf("Good got %d of 400 at weight 3:1", g.Requests.Total)
		}
		if res.GraphQL.ErrorsByCode["NOT_FOUND"] != b.Requests.Total {
			t.Errorf("errors_by_code %v, want NOT_FOUND %d", res.GraphQL.ErrorsByCode, b.Requests.Total)
		}
		if res.Protocol != "graphql" || res.Bytes == nil || res.Bytes.Sent == 0 {
			t.Errorf("protocol %q bytes %+v", res.Protocol, res.Bytes)
		}
		results = append(results, res)
	}
	if f.count("Good")+f.count("Bad") != 800 {
		t.Errorf("server saw %v", f.byOp)
	}
	m, err := metrics.Merge(results, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Good", "Bad"} {
		a, b, got := results[0].Operations[name], results[1].Operations[name], m.Operations[name]
		if got.Requests.Total != a.Requests.Total+b.Requests.Total || got.Latency.N != a.Latency.N+b.Latency.N {
			t.Errorf("merged %s = %+v", name, got.Requests)
		}
	}
	if m.GraphQL.ErrorsByCode["NOT_FOUND"] != results[0].GraphQL.ErrorsByCode["NOT_FOUND"]+results[1].GraphQL.ErrorsByCode["NOT_FOUND"] {
		t.Errorf("merged codes %v", m.GraphQL.ErrorsByCode)
	}
}

// APQ: each worker's first request of an operation misses (the server
// does not know the hash) and is resent with the query in the same
// operation; later ones are hits that leave the query out. Over GET too.
func TestAPQ(t *testing.T) {
	for _, get := range []bool{false, true} {
		f, u := newFake(t)
		d := newDriver(t, Options{URL: u, Query: testDoc, OperationName: "Good", Variables: `{"id":"1"}`, APQ: true, GET: get})
		w, err := d.NewWorker(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		var sent []int64
		for seq := uint64(0); seq < 5; seq++ {
			out := w.Do(t.Context(), load.NewOp(seq, nopSink{}))
			if out.Err != metrics.OK {
				t.Fatalf("get=%v seq %d: %+v", get, seq, out)
			}
			sent = append(sent, out.BytesSent)
		}
		var res metrics.Result
		d.Annotate(&res)
		a := res.GraphQL.APQ
		if a == nil || a.Misses != 1 || a.Hits != 4 || len(res.GraphQL.ErrorsByCode) != 0 {
			t.Errorf("get=%v: apq %+v codes %v, want 1 miss, 4 hits, no error codes", get, a, res.GraphQL.ErrorsByCode)
		}
		f.mu.Lock()
		hashOnly, gets := f.hashOnly, f.gets
		f.mu.Unlock()
		if hashOnly != 5 || f.count("Good") != 5 {
			t.Errorf("get=%v: server saw %d hash-only requests and %d executions, want 5 and 5", get, hashOnly, f.count("Good"))
		}
		// The miss sends the hash-only request and the full one; each hit
		// sends the hash-only request alone.
		if sent[0] <= 2*sent[1] || sent[1] != sent[4] {
			t.Errorf("get=%v: bytes sent per operation %v", get, sent)
		}
		if get && gets != 6 {
			t.Errorf("server saw %d GETs, want 6 (a miss and its resend, then 4 hits)", gets)
		}
		// Bytes saved is exactly what the same 5 operations without APQ
		// would have sent in bodies (GET: targets) minus what was sent.
		plain := newDriver(t, Options{URL: u, Query: testDoc, OperationName: "Good", Variables: `{"id":"1"}`, GET: get})
		pw, _ := plain.NewWorker(t.Context(), 0)
		pw.Do(t.Context(), load.NewOp(0, nil))
		pw.Close()
		f.mu.Lock()
		total, one := 0, f.sizes[len(f.sizes)-1]
		for _, n := range f.sizes[:len(f.sizes)-1] {
			total += n
		}
		f.mu.Unlock()
		if want := int64(5*one - total); a != nil && a.BytesSaved != want {
			t.Errorf("get=%v: bytes saved %d, want %d (5×%d without APQ − %d sent)", get, a.BytesSaved, want, one, total)
		}
	}
}

// Bad input fails once, before any request, with one line saying what is
// wrong.
func TestBadInput(t *testing.T) {
	_, u := newFake(t)
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"syntax", Options{Query: "query { product(id: 1) { name }"}, "does not parse"},
		{"empty", Options{Query: "  "}, "empty"},
		{"unknown operation", Options{Query: testDoc, OperationName: "Nope", Variables: `{"id":1}`}, "no such operation"},
		{"weight for missing", Options{Query: testDoc, Mix: "Good=1,Nope=2", Variables: `{"id":1}`}, "Nope, which the document does not define"},
		{"bad weight", Options{Query: testDoc, Mix: "Good=x"}, "positive integer weights"},
		{"several, none chosen", Options{Query: testDoc}, "choose one with --operation-name"},
		{"variables not json", Options{Query: testDoc, OperationName: "Good", Variables: `{"id": 1`}, "does not render to a JSON object"},
		{"variables not object", Options{Query: testDoc, OperationName: "Good", Variables: `[1]`}, "JSON object"},
		{"variables template", Options{Query: testDoc, OperationName: "Good", Variables: `{"id": {{nope}}}`}, "--variables"},
		{"required variable", Options{Query: testDoc, OperationName: "Good", Variables: `{"x": 1}`}, "needs variable $id"},
		{"undefined fragment", Options{Query: `{ a { ...F } }`}, "fragment F is used but not defined"},
		{"anonymous among several", Options{Query: `{ a } query B { b }`}, "name every operation"},
		{"subscription in mix", Options{Query: `query A { a } subscription S { s }`, Mix: "A=1,S=1"}, "subscription"},
		{"subscribers for a query", Options{Query: `{ a }`, Subscribers: 3}, "subscription operations"},
		{"bad scheme", Options{Query: `{ a }`, URL: "ftp://x/graphql"}, "scheme"},
	} {
		o := c.o
		if o.URL == "" {
			o.URL = u
		}
		_, err := New(o)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: New error = %v, want one line containing %q", c.name, err, c.want)
		}
	}
}

// Variables render like HTTP bodies: data rows, the sequence number and
// the template functions, with the HTTP driver's environment.
func TestVariablesFromDataRows(t *testing.T) {
	f, u := newFake(t)
	data, err := tmpl.NewData("users", []string{"id"}, [][]string{{"11"}, {"12"}, {"13"}})
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, Options{URL: u, Query: testDoc, OperationName: "Good", HTTP: httpdrv.Options{Data: data},
		Variables: `{"id":"{{.Row.id}}","seq":{{.Seq}},"z":{{zipf 1.1 1 10}}}`})
	w, err := d.NewWorker(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for seq := uint64(0); seq < 3; seq++ {
		if out := w.Do(t.Context(), load.NewOp(seq, nil)); out.Err != metrics.OK {
			t.Fatal(out)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, v := range f.vars {
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil || m["id"] != fmt.Sprint(11+i) || m["seq"] != float64(i) || m["z"] == nil {
			t.Errorf("request %d variables %s", i, v)
		}
	}
}

// Queries read the cache status from the HTTP driver's header, and the
// result names it like load http's; subscriptions have none.
func TestCacheSource(t *testing.T) {
	_, u := newFake(t)
	d := newDriver(t, Options{URL: u, Query: testDoc, OperationName: "Good", Variables: `{"id":"1"}`})
	if got := d.CacheSource(); got != "X-Cache" {
		t.Errorf("query CacheSource %q, want X-Cache", got)
	}
	s := newDriver(t, Options{URL: u, Query: `subscription { productUpdated(id: 1) { emittedAt } }`, Subscribers: 1})
	if got := s.CacheSource(); got != "" {
		t.Errorf("subscription CacheSource %q, want none", got)
	}
}
