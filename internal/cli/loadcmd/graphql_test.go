package loadcmd

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
)

func parseGraphQL(t *testing.T, args ...string) (*GraphQLOptions, error) {
	t.Helper()
	var got *GraphQLOptions
	cmd := NewCmdGraphQL(testFactory(), func(o *GraphQLOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return got, cmd.Execute()
}

// gqlTarget answers operation Bad with a 200 carrying an errors entry, any
// other with data.
func gqlTarget(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var q struct {
			OperationName string `json:"operationName"`
		}
		json.NewDecoder(r.Body).Decode(&q)
		if q.OperationName == "Bad" {
			w.Write([]byte(`{"errors":[{"message":"m","extensions":{"code":"BAD_USER_INPUT"}}],"data":null}`))
			return
		}
		w.Write([]byte(`{"data":{"product":{"name":"Widget"}}}`))
	}))
	t.Cleanup(s.Close)
	return s.URL + "/graphql", &n
}

func TestGraphQLFlags(t *testing.T) {
	o, err := parseGraphQL(t, "--query", "@q.graphql", "--variables", `{"id":1}`, "--mix", "A=70,B=30", "--get", "--apq",
		"--subscribers", "5", "--ramp", "2", "--ws-protocol", "graphql-ws", "--connection-params", `{"a":1}`,
		"--publish", "mutation { x }", "--publish-rate", "3", "--timestamp-field", "a.b", "-H", "X: y", "--rate", "10",
		"http://127.0.0.1:1/graphql")
	if err != nil {
		t.Fatal(err)
	}
	if o.Query != "@q.graphql" || o.Mix != "A=70,B=30" || !o.GET || !o.APQ || o.Subscribers != 5 || o.Ramp != 2 ||
		o.WSProtocol != "graphql-ws" || o.ConnectionParams != `{"a":1}` || o.Publish != "mutation { x }" || o.PublishRate != 3 ||
		o.TimestampField != "a.b" || len(o.Headers) != 1 || o.Load.Rate != 10 {
		t.Fatalf("flags: %+v", o)
	}
}

// Bad input: one line saying what is wrong, a usage error (exit 2), before
// any request.
func TestGraphQLBadInput(t *testing.T) {
	u, hits := gqlTarget(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "ops.graphql")
	os.WriteFile(doc, []byte("query A { a }\nquery B { b }\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{u}, "--query is required"},
		{[]string{"--query", "{ a", u}, "does not parse"},
		{[]string{"--query", "@" + doc, "--operation-name", "C", u}, "no such operation"},
		{[]string{"--query", "@" + doc, "--mix", "A=1,C=2", u}, "weight to C, which the document does not define"},
		{[]string{"--query", "@" + doc, u}, "choose one with --operation-name"},
		{[]string{"--query", "{ a }", "--variables", "{oops", u}, "--variables does not render to a JSON object"},
		{[]string{"--query", "query Q($id: ID!) { a(id: $id) }", u}, "needs variable $id"},
		{[]string{"--query", "@" + doc + ".missing", u}, "--query @"},
		{[]string{"--query", "{ a }", "ftp://x/graphql"}, "scheme"},
		{[]string{"--query", "subscription { s }", "--rate", "5", u}, "--rate does not apply to a subscription"},
		{[]string{"--query", "subscription { s }", "--subscribers", "100", "--ramp", "1", "-d", "5s", u}, "take 100.0s to connect"},
		{[]string{"--query", "subscription { s }", "--ws-protocol", "nope", u}, "--ws-protocol"},
	} {
		o, err := parseGraphQL(t, append([]string{"-q", "-d", "1s"}, c.args...)...)
		if err == nil {
			o.IO, _, _, _ = iostreams.Test()
			err = graphqlRun(t.Context(), o)
		}
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want a one-line usage error containing %q", c.args, err, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("bad input sent %d requests, want none", n)
	}
}

// End to end: a mix from a file, the result's graphql sections and the
// summary's per-operation table.
func TestGraphQLRunEndToEnd(t *testing.T) {
	u, _ := gqlTarget(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "ops.graphql")
	os.WriteFile(doc, []byte("query Good($id: ID!) { product(id: $id) { name } }\nquery Bad { product(id: 0) { name } }\n"), 0o600)
	out := filepath.Join(dir, "r.json")
	o, err := parseGraphQL(t, "-c", "2", "-n", "100", "-q", "-o", out, "--query", "@"+doc, "--mix", "Good=4,Bad=1",
		"--variables", `{"id":"{{randInt 1 50}}"}`, u)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO, o.ToolVersion = ios, "loadrig e2e"
	if err := graphqlRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	g, b := r.Operations["Good"], r.Operations["Bad"]
	if r.Protocol != "graphql" || g == nil || b == nil || g.Requests.Total+b.Requests.Total != 100 || b.Requests.Errors != b.Requests.Total {
		t.Fatalf("result: %s %+v %+v", r.Protocol, g, b)
	}
	if r.Requests.ErrorsByKind["graphql_error"] != b.Requests.Total || r.GraphQL.ErrorsByCode["BAD_USER_INPUT"] != b.Requests.Total {
		t.Fatalf("errors %v codes %v", r.Requests.ErrorsByKind, r.GraphQL.ErrorsByCode)
	}
	if r.Bytes == nil || r.Bytes.Sent == 0 || r.Bytes.Received == 0 {
		t.Fatalf("bytes %+v", r.Bytes)
	}
	if r.Workload != "POST "+u+" Good,Bad" && r.Workload != "POST "+u+" Bad,Good" {
		t.Fatalf("workload %q, want POST, the URL and the operations", r.Workload)
	}
	for _, want := range []string{"graphql load on", "operations", "Good", "Bad", "BAD_USER_INPUT"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, stdout)
		}
	}
}
