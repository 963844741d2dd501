package gqldrv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeGraphQL is an httptest handler that behaves like a GraphQL server
// for the driver: POST JSON or GET parameters, automatic persisted
// queries (an LRU-less map), and answers chosen by operation name:
// Good → data; Bad → data and an errors entry with code NOT_FOUND; Boom →
// HTTP 500; Text → a 200 that is not JSON. It records what it received.
type fakeGraphQL struct {
	mu       sync.Mutex
	apq      map[string]string
	byOp     map[string]int
	hashOnly int
	gets     int
	vars     []string
	queries  []string
	sizes    []int // each request's body (POST) or target (GET) length
}

type gqlReq struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    struct {
		PersistedQuery *struct {
			Version int    `json:"version"`
			Hash    string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
}

func (f *fakeGraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var q gqlReq
	if r.Method == http.MethodGet {
		f.mu.Lock()
		f.sizes = append(f.sizes, len(r.URL.RequestURI()))
		f.mu.Unlock()
	} else {
		f.mu.Lock()
		f.sizes = append(f.sizes, int(r.ContentLength))
		f.mu.Unlock()
	}
	switch r.Method {
	case http.MethodPost:
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "content type", 415)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
	case http.MethodGet:
		v := r.URL.Query()
		q.Query, q.OperationName = v.Get("query"), v.Get("operationName")
		if s := v.Get("variables"); s != "" {
			q.Variables = json.RawMessage(s)
		}
		if s := v.Get("extensions"); s != "" {
			if err := json.Unmarshal([]byte(s), &q.Extensions); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
		}
		f.mu.Lock()
		f.gets++
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.apq == nil {
		f.apq, f.byOp = map[string]string{}, map[string]int{}
	}
	if pq := q.Extensions.PersistedQuery; pq != nil {
		if q.Query == "" {
			f.hashOnly++
			if q.Query = f.apq[pq.Hash]; q.Query == "" {
				w.Write([]byte(`{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}],"data":null}`))
				return
			}
		} else {
			sum := sha256.Sum256([]byte(q.Query))
			if hex.EncodeToString(sum[:]) != pq.Hash {
				w.Write([]byte(`{"errors":[{"message":"provided APQ hash does not match query"}],"data":null}`))
				return
			}
			f.apq[pq.Hash] = q.Query
		}
	}
	if q.Query == "" {
		http.Error(w, `{"errors":[{"message":"no query"}]}`, 422)
		return
	}
	f.byOp[q.OperationName]++
	f.vars = append(f.vars, string(q.Variables))
	f.queries = append(f.queries, q.Query)
	w.Header().Set("Content-Type", "application/json")
	switch q.OperationName {
	case "Bad":
		w.Write([]byte(`{"errors":[{"message":"no product 7","path":["product"],"extensions":{"code":"NOT_FOUND"}}],"data":{"product":null}}`))
	case "Boom":
		http.Error(w, "boom", 500)
	case "Text":
		w.Write([]byte("<html>hello</html>"))
	default:
		w.Write([]byte(`{"data":{"product":{"id":"1","name":"Widget"}}}`))
	}
}

func (f *fakeGraphQL) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byOp[op]
}

func newFake(t *testing.T) (*fakeGraphQL, string) {
	t.Helper()
	f := &fakeGraphQL{}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return f, s.URL + "/graphql"
}

const testDoc = `
query Good($id: ID!) { product(id: $id) { ...P } }
query Bad { product(id: 7) { name } }
query Boom { boom }
query Text { text }
fragment P on Product { id name }
`

func newDriver(t *testing.T, o Options) *Driver {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
