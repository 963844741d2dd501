package demo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/stack"
)

func TestGraphQLSectionFlag(t *testing.T) {
	t.Parallel()
	o, err := parse(t, "--section", "graphql", "--quick")
	if err != nil || o.Section != SectionGraphQL {
		t.Fatalf("--section graphql: %v, %+v", err, o)
	}
	var fe *cmdutil.FlagError
	if _, err := parse(t, "--section", "graphql", "--variant", "lru"); !errors.As(err, &fe) {
		t.Errorf("--variant with --section graphql: %v", err)
	}
	if !(&Options{Section: SectionAll}).runs(SectionGraphQL) || (&Options{Section: SectionCache}).runs(SectionGraphQL) {
		t.Fatal("graphql is part of all, and only of all")
	}
	qp, err := loadPlan(&Options{Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := loadPlan(&Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, full := newGQLPlan(qp), newGQLPlan(fp)
	// The embedded profile's graphql section: the values the README's
	// figures were measured with.
	want := gqlPlan{dataset: "small", seed: 1, storeLatency: 2 * time.Millisecond, storePerRow: 20 * time.Microsecond, storePool: 8,
		keys: fp.Keys, screenRate: 100, screenDur: 4 * time.Second, warmup: 500 * time.Millisecond,
		n1Rate: 5, n1Dur: 6 * time.Second, satWorkers: 8, satDur: 3 * time.Second, unbounded: 3 * time.Second,
		samples: 20, timeout: 10 * time.Second}
	if !reflect.DeepEqual(full, want) {
		t.Fatalf("full plan\n got %+v\nwant %+v", full, want)
	}
	if q.screenDur >= full.screenDur || q.n1Dur >= full.n1Dur || q.satDur >= full.satDur || q.warmup >= full.warmup ||
		q.storePool != 8 || q.n1Rate != full.n1Rate || len(q.keys) == 0 {
		t.Fatalf("plans: quick %+v, full %+v", q, full)
	}
	noGQL := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(noGQL, []byte("version: 1\nname: x\nworkload: {rate: 1, duration: 1s, keys: {n: 1}, operations: [{name: r, weight: 1, path: /}]}\nvariants: [{name: a}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{SectionGraphQL, SectionRealtime} {
		if _, err := loadPlan(&Options{Profile: noGQL, Section: sec}); !errors.As(err, &fe) || err.Error() != "--section "+sec+": the profile has no "+sec+" section" {
			t.Errorf("%s section missing: %v", sec, err)
		}
	}
}

// byMethod is the store's calls by method from a result's /stats.
func byMethod(res *metrics.Result) map[string]int64 {
	out := map[string]int64{}
	st, _ := res.Server["store"].(map[string]any)
	bm, _ := st["by_method"].(map[string]any)
	for k, v := range bm {
		n, _ := v.(float64)
		out[k] = int64(n)
	}
	return out
}

// shrinkGraphQL makes the graphql section a few operations per run, for
// the tests that run every section.
func shrinkGraphQL(p *gqlPlan) {
	p.storeLatency, p.storePerRow = 100*time.Microsecond, 0
	p.screenRate, p.screenDur, p.warmup, p.samples = 20, 200*time.Millisecond, 0, 1
	p.n1Rate, p.n1Dur, p.satWorkers, p.satDur, p.unbounded = 10, 200*time.Millisecond, 2, 200*time.Millisecond, 200*time.Millisecond
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
			// Generous, so that DataLoader almost always makes one call per
			// level; the assertions below hold even when a stalled machine
			// splits a level.
			p.loaderWait = time.Second
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
	// One product read, one batch of its reviews, the authors in batches:
	// 3 calls unless the machine stalled the author resolvers more than a
	// second apart (then at most one batch per author).
	if c, _ := gm["store_calls_per_op"].(float64); gm["requests_per_screen"] != 1.0 || c < 3 || c > float64(2+authors) {
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

	// The N+1: 1 + 50 + 250 = 301 store calls without DataLoader; with it
	// one per level (3), all batch reads (a machine stalled past the
	// loader's wait can split a level, so a few more are allowed).
	for name, off := range map[string]bool{
		"graphql-nplus1-off": true, "graphql-nplus1-on": false,
		"graphql-nplus1-off-saturation": true, "graphql-nplus1-on-saturation": false,
		"graphql-nplus1-off-unbounded": true,
	} {
		res, m := load(name)
		calls, _ := m["store_calls_per_op"].(float64)
		bm := byMethod(res)
		if off && calls != 301 {
			t.Errorf("%s: %v store calls per query, want 301", name, calls)
		}
		// The demo's top-up read each product's reviews once before the run.
		if !off && (calls < 3 || calls > 10 || bm["GetUser"] != 0 || bm["ProductReviews"] != nPlusOneProducts) {
			t.Errorf("%s: %v store calls per query (want 3), calls by method %v", name, calls, bm)
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
