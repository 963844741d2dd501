package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/server/stack"
)

func TestGraphQLSectionFlag(t *testing.T) {
	t.Parallel()
	o, err := parse(t, "--section", "graphql", "--quick")
	if err != nil || o.Section != SectionGraphQL {
		t.Fatalf("--section graphql: %v, %+v", err, o)
	}
	if !(&Options{Section: SectionAll}).runs(SectionGraphQL) || (&Options{Section: SectionCache}).runs(SectionGraphQL) {
		t.Fatal("graphql is part of all, and only of all")
	}
	q, full := newGQLPlan(profile.Plan{}, true), newGQLPlan(profile.Plan{}, false)
	if q.screenDur >= full.screenDur || q.n1Dur >= full.n1Dur || q.storePool != 8 || q.storeLatency != 2*time.Millisecond || len(q.keys) == 0 {
		t.Fatalf("plans: quick %+v, full %+v", q, full)
	}
}

// screenKey finds a product of the section's dataset whose first page of
// reviews has at least two distinct authors, and returns it with that
// count, read from the real store.
func screenKey(t *testing.T, p gqlPlan) (id int64, authors int) {
	t.Helper()
	st, err := stack.New(context.Background(), stack.Config{Cache: "none", Dataset: p.dataset, Seed: p.seed})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	for id = 1; id < 100; id++ {
		rs, err := st.Store.ProductReviews(context.Background(), id, 0, screenReviews)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, r := range rs {
			seen[r.AuthorID] = true
		}
		if len(seen) >= 2 {
			return id, len(seen)
		}
	}
	t.Fatal("no product with two review authors")
	return 0, 0
}

// TestGraphQLSection runs the section shrunk (a few operations per run,
// a cheap store) through DemoRun against the real servers and drivers, and
// checks what is counted, not how fast: requests and store calls per
// screen, store calls per N+1 query with DataLoader off and on, bytes, the
// tables, the result files and the report page.
func TestGraphQLSection(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	var key int64
	var authors int
	opts := &Options{
		IO: ios, OutDir: dir, Section: SectionGraphQL,
		TuneGraphQL: func(p *gqlPlan) {
			key, authors = screenKey(t, *p)
			p.keys = []int64{key}
			p.storeLatency, p.storePerRow = 200*time.Microsecond, 0
			// Generous: every level's keys arrive within the wait even on a
			// loaded machine under -race, so DataLoader makes one call per
			// level (as the server's own test does).
			p.loaderWait = 250 * time.Millisecond
			p.screenRate, p.screenDur, p.warmup = 20, 300*time.Millisecond, 50*time.Millisecond
			p.n1Rate, p.n1Dur, p.satWorkers, p.satDur, p.unbounded = 4, 500*time.Millisecond, 2, 300*time.Millisecond, 300*time.Millisecond
			p.samples = 1
		},
	}
	if err := DemoRun(t.Context(), opts); err != nil {
		t.Fatalf("DemoRun: %v\nstderr:\n%s", err, errOut)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)

	load := func(name string) (*metrics.Result, map[string]any) {
		t.Helper()
		res, err := metrics.Load(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatalf("result file of %s: %v", name, err)
		}
		if res.Name != name || res.Requests.OK == 0 || res.Requests.Errors != 0 {
			t.Fatalf("%s: name %q, %d ok, %d errors %v", name, res.Name, res.Requests.OK, res.Requests.Errors, res.Requests.ErrorsByKind)
		}
		m, _ := res.Server["demo_graphql"].(map[string]any)
		if m == nil {
			t.Fatalf("%s: no server.demo_graphql", name)
		}
		return res, m
	}

	// One screen two ways: REST is 2 + one request per distinct author, a
	// store call each (cache none); GraphQL is one request, one store call
	// per level.
	rest, rm := load("graphql-screen-rest")
	gq, gm := load("graphql-screen-graphql")
	if want := float64(2 + authors); rm["requests_per_screen"] != want || rm["store_calls_per_op"] != want {
		t.Errorf("REST screen of product %d (%d authors): %v requests, %v store calls per screen, want %v", key, authors, rm["requests_per_screen"], rm["store_calls_per_op"], want)
	}
	if gm["requests_per_screen"] != 1.0 || gm["store_calls_per_op"] != 3.0 {
		t.Errorf("GraphQL screen: %v requests, %v store calls per screen, want 1 and 3", gm["requests_per_screen"], gm["store_calls_per_op"])
	}
	if rest.Protocol != "http" || gq.Protocol != "graphql" || rest.Bytes == nil || gq.Bytes == nil {
		t.Fatalf("protocols %q %q, bytes %v %v", rest.Protocol, gq.Protocol, rest.Bytes, gq.Bytes)
	}
	perScreen := func(r *metrics.Result) (float64, float64) {
		return float64(r.Bytes.Sent) / float64(r.Requests.Total), float64(r.Bytes.Received) / float64(r.Requests.Total)
	}
	rs, rr := perScreen(rest)
	gs, gr := perScreen(gq)
	// REST repeats headers and the token per request and returns whole
	// entities; the query returns the shown fields only.
	if rs <= gs || rr <= gr {
		t.Errorf("bytes per screen: REST %.0f sent %.0f received, GraphQL %.0f sent %.0f received", rs, rr, gs, gr)
	}
	for _, m := range []map[string]any{rm, gm} {
		raw, _ := m["sample_body_bytes_per_screen"].(float64)
		gz, _ := m["sample_body_gzip_bytes_per_screen"].(float64)
		if raw <= 0 || gz <= 0 || gz >= raw {
			t.Errorf("sample bodies: %v raw, %v gzipped", raw, gz)
		}
	}
	if rest.Connections.Opened < 1 || gq.Connections.Opened < 1 {
		t.Errorf("connections %+v %+v", rest.Connections, gq.Connections)
	}

	// The N+1: 1 + 50 + 250 = 301 store calls without DataLoader, 3 with.
	for name, want := range map[string]float64{
		"graphql-nplus1-off": 301, "graphql-nplus1-on": 3,
		"graphql-nplus1-off-saturation": 301, "graphql-nplus1-on-saturation": 3,
		"graphql-nplus1-off-unbounded": 301,
	} {
		res, m := load(name)
		if m["store_calls_per_op"] != want {
			t.Errorf("%s: %v store calls per query, want %v", name, m["store_calls_per_op"], want)
		}
		if res.Protocol != "graphql" {
			t.Errorf("%s: protocol %q", name, res.Protocol)
		}
		closed := strings.HasSuffix(name, "-saturation")
		if closed != (res.Model.Kind == "closed") {
			t.Errorf("%s: model %+v", name, res.Model)
		}
		if s, _ := m["ops_per_elapsed_s"].(float64); s <= 0 {
			t.Errorf("%s: ops per elapsed second %v", name, m["ops_per_elapsed_s"])
		}
	}
	// Without a pool nothing waits for a connection.
	if _, m := load("graphql-nplus1-off-unbounded"); m["store_pool_wait_ms_total"] != 0.0 {
		t.Errorf("unbounded store: pool wait %v", m["store_pool_wait_ms_total"])
	}

	table := out.String()
	for _, want := range []string{
		"GraphQL: one product page", "requests/screen", "B sent/screen", "gz B recv/screen", "store calls/screen",
		"GraphQL N+1: query NPlusOne", "store calls/req", "pool wait/call", "saturation, 2 workers",
		"store without a pool", "WARNING: a store without a connection pool hides the N+1",
		"note: at 4/s, p99 with DataLoader is ",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	rows := 0
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "REST", "GraphQL":
			if len(f) == 12 {
				rows++
			}
		case "off", "on":
			if len(f) == 10 && !strings.Contains(l, " - ") {
				rows++
			}
		}
	}
	if rows != 4 {
		t.Errorf("%d full table rows, want 4 (2 screens, DataLoader off and on)", rows)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 7 {
		t.Errorf("%d result files, want 7", len(files))
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(page), "hides the N+1") || !strings.Contains(string(page), "graphql-nplus1-on-saturation") {
		t.Errorf("report.html: %v", err)
	}
}
