package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
)

// Defaults of Deps.
const (
	DefaultMaxDepth      = 10
	DefaultMaxComplexity = 1000
	DefaultMaxTokens     = 10000
	DefaultBodyLimit     = 1 << 20
	DefaultQueryCache    = 1000
	DefaultAPQSize       = 10000
	DefaultAPQTTL        = 24 * time.Hour
	DefaultLoaderWait    = time.Millisecond
	DefaultInitTimeout   = 10 * time.Second
	DefaultPingInterval  = 15 * time.Second
	DefaultWSReadLimit   = 64 << 10
)

// Options are the GraphQL transport's own settings, beside the shared
// server.Deps.
type Options struct {
	// DataLoader switches relation resolvers to per-operation DataLoaders
	// (one batch store call per level) instead of one store call per
	// parent. Default false (the CLI's default is on).
	DataLoader bool
	// LoaderWait is how long a DataLoader collects keys before it fetches.
	// Default DefaultLoaderWait (1ms).
	LoaderWait time.Duration
	// Publish makes mutations publish their events to Deps.Feed. Leave it
	// false when the Catalog publishes writes itself (the stack's cache
	// layer does), or subscribers see every write twice. Default false.
	Publish bool
	// MaxDepth limits the selection depth (DEPTH_LIMIT_EXCEEDED). Zero
	// means DefaultMaxDepth (10); negative means no limit.
	MaxDepth int
	// MaxComplexity limits the complexity, list fields weighted by their
	// first argument (COMPLEXITY_LIMIT_EXCEEDED). Zero means
	// DefaultMaxComplexity (1000); negative means no limit.
	MaxComplexity int
	// MaxTokens limits the parser's tokens (GRAPHQL_PARSE_FAILED). Zero
	// means DefaultMaxTokens (10000); negative means no limit.
	MaxTokens int
	// BodyLimit caps request bodies in bytes (413). Default
	// DefaultBodyLimit (1 MiB).
	BodyLimit int64
	// QueryCacheSize is the parsed-query LRU's size. Default
	// DefaultQueryCache (1000).
	QueryCacheSize int
	// APQ stores automatic persisted queries: NewAPQLRU or NewAPQStore.
	// Default nil: APQ off (a hash-only request is refused).
	APQ *APQCache
	// Origins are the host patterns (coder/websocket OriginPatterns) whose
	// pages may open a WebSocket; the server's own host always may.
	// Default none.
	Origins []string
	// AnyOrigin accepts WebSocket handshakes from any Origin
	// (coder/websocket InsecureSkipVerify): development only; the CLI sets
	// it with --dev. Default false.
	AnyOrigin bool
	// InitTimeout bounds the wait for a WebSocket's connection_init.
	// Default DefaultInitTimeout (10s).
	InitTimeout time.Duration
	// PingInterval is the WebSocket keep-alive ping interval. Default
	// DefaultPingInterval (15s).
	PingInterval time.Duration
	// WSReadLimit caps one WebSocket message in bytes. Default
	// DefaultWSReadLimit (64 KiB).
	WSReadLimit int64
	// Dev turns on introspection and GraphiQL at /graphiql. Default false.
	Dev bool
}

// Deps configures NewHandler, the stand-alone GraphQL server (its own
// spine): the shared dependencies and the Options in one struct.
type Deps struct {
	// Catalog is the data layer. Required. Relation reads use its batch
	// reads when it implements domain.BatchReader.
	Catalog domain.Catalog
	// Login checks email and password for the login mutation. Default:
	// Catalog, when it implements domain.Authenticator.
	Login domain.Authenticator
	// Auth issues and verifies bearer credentials. Default: server.NewJWT
	// with a random per-process key.
	Auth server.Authenticator
	// Feed is the event broker subscriptions read. Default: none
	// (subscriptions answer UNAVAILABLE).
	Feed *domain.Feed
	// Limiter limits /graphql requests per client IP (429). Default: none.
	Limiter server.Limiter
	// Logger receives the access log and errors. Default: discard.
	Logger *slog.Logger
	// Stats returns the sections of /stats the handler does not own
	// (cache, store, ...). Default: none.
	Stats func() map[string]any
	// Conns is the listener's connection accounting. Default: zeros.
	Conns *server.ConnStats
	// Options are the transport's own settings.
	Options
}

// Handler is the GraphQL transport: POST, GET and WebSocket on /graphql,
// GraphiQL on /graphiql (Dev), mounted on a server.Spine (which serves
// /healthz, /stats with the graphql object, /metrics).
type Handler struct {
	d   server.Deps
	o   Options
	sp  *server.Spine
	gql *handler.Server

	requests, storeCalls, storeMax, subsActive, subsDropped atomic.Int64
	errMu                                                   sync.Mutex
	errorsByCode                                            map[string]int64

	generatedOnly bool   // tests: newServer without fastSchema's shortcut
	onShortcut    func() // tests: called when the shortcut takes an operation
}

// NewHandler returns a stand-alone GraphQL server: a spine of its own with
// the GraphQL routes mounted (tests, benchmarks, embedding).
func NewHandler(d Deps) *Handler {
	sp := server.NewSpine(server.SpineOptions{
		Logger: d.Logger, Limiter: d.Limiter, LimitPrefixes: []string{"/graphql"}, Stats: d.Stats, Conns: d.Conns,
	})
	return New(sp, server.Deps{
		Catalog: d.Catalog, Login: d.Login, Auth: d.Auth, Limiter: d.Limiter, Feed: d.Feed,
		Logger: d.Logger, Stats: d.Stats,
	}, d.Options)
}

// New mounts the GraphQL routes on sp and adds the graphql object to its
// /stats. Rate limiting (give the spine the "/graphql" prefix), request
// ids, X-Cache, the cache bypass, the access log, /healthz and /metrics are
// the spine's.
func New(sp *server.Spine, d server.Deps, o Options) *Handler {
	if d.Catalog == nil {
		panic("gql: Deps.Catalog is nil")
	}
	d = d.WithDefaults()
	o.MaxDepth = orDefault(o.MaxDepth, DefaultMaxDepth)
	o.MaxComplexity = orDefault(o.MaxComplexity, DefaultMaxComplexity)
	o.MaxTokens = orDefault(o.MaxTokens, DefaultMaxTokens)
	o.QueryCacheSize = orDefault(o.QueryCacheSize, DefaultQueryCache)
	if o.BodyLimit <= 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.LoaderWait <= 0 {
		o.LoaderWait = DefaultLoaderWait
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = DefaultInitTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.WSReadLimit <= 0 {
		o.WSReadLimit = DefaultWSReadLimit
	}
	h := &Handler{d: d, o: o, sp: sp, errorsByCode: map[string]int64{}}
	h.gql = h.newServer(postJSON{})
	sp.Handle("/graphql", http.HandlerFunc(h.serveGraphQL))
	if o.Dev {
		sp.Handle("GET /graphiql", graphiqlHandler())
		sp.Handle("GET /graphiql/assets/", graphiqlAssets())
	}
	sp.AddStats(func(out map[string]any) { out["graphql"] = h.GraphQLStats() })
	return h
}

// ServeHTTP serves the spine the handler is mounted on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.sp.ServeHTTP(w, r) }

// Stats is the spine's /stats document.
func (h *Handler) Stats() map[string]any { return h.sp.Stats() }

// newServer assembles gqlgen: handler.New (not NewDefaultServer, whose
// defaults are unbounded and introspective) with exactly the transports,
// caches and extensions loadrig wants; post is the POST transport (postJSON;
// tests compare it with gqlgen's transport.POST).
func (h *Handler) newServer(post graphql.Transport) *handler.Server {
	cfg := Config{Resolvers: &resolver{h: h}, Complexity: complexityRoot()}
	cfg.Directives.RequireAuth = h.requireAuth
	es := NewExecutableSchema(cfg)
	if !h.generatedOnly {
		// product(id) without the generic field walk (fastpath.go); it
		// skips field middleware, so this server registers none.
		es = fastSchema{es.(*executableSchema), h.onShortcut}
	}
	srv := handler.New(es)

	readLimit := h.o.WSReadLimit
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: h.o.Origins, InsecureSkipVerify: h.o.AnyOrigin,
		}},
		InitFunc:              h.wsInit,
		InitTimeout:           h.o.InitTimeout,
		KeepAlivePingInterval: h.o.PingInterval,
		PayloadReadLimit:      &readLimit,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(post)

	srv.SetQueryCache(newTextBounded[*ast.QueryDocument](h.o.QueryCacheSize))
	if h.o.MaxTokens > 0 {
		srv.SetParserTokenLimit(h.o.MaxTokens)
	}
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		h.d.Logger.ErrorContext(ctx, "panic in resolver", "panic", v)
		return errors.New("internal error")
	})
	if h.o.Dev {
		srv.Use(extension.Introspection{})
	}
	maxC := h.o.MaxComplexity
	if maxC <= 0 {
		maxC = maxCost
	}
	srv.Use(newLimits(h.o.MaxDepth, maxC, h.o.QueryCacheSize))
	if h.o.APQ != nil {
		srv.Use(apqExt{cache: h.o.APQ}) // after the limits: registers what passed
	}
	srv.AroundOperations(h.aroundOperation)
	srv.AroundResponses(h.aroundResponse)
	return srv
}

// wsInit reads the credential from connection_init's payload
// ({"authorization": "Bearer …"}); @requireAuth verifies it per operation.
func (h *Handler) wsInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	return withToken(ctx, p.Authorization()), nil, nil
}

// aroundOperation gives each operation its own store tally and, for queries
// and mutations with DataLoader on, its own loaders.
func (h *Handler) aroundOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	st := opFrom(ctx)
	if st == nil || !st.post || st.inUse {
		st = &opState{}
		ctx = context.WithValue(ctx, opKey, st)
	}
	st.inUse = true
	opCtx := graphql.GetOperationContext(ctx)
	if h.o.DataLoader && opCtx.Operation != nil && opCtx.Operation.Operation != ast.Subscription {
		st.loaderOf = h // loaders made on first use, no closure per operation
	}
	ctx = domain.WithStoreTrace(ctx, &st.tally)
	return next(ctx)
}

// loadrigExt is extensions.loadrig of every response.
type loadrigExt struct {
	StoreCalls  int64 `json:"store_calls"`
	StoreRows   int64 `json:"store_rows"`
	StoreWaitUS int64 `json:"store_wait_us"`
	DataLoader  bool  `json:"dataloader"`
	Depth       int   `json:"depth"`
	Complexity  int   `json:"complexity"`
}

// MarshalJSON writes the extension without reflection: it is on every
// response.
func (e loadrigExt) MarshalJSON() ([]byte, error) {
	return e.appendJSON(make([]byte, 0, 128)), nil
}

func (e loadrigExt) appendJSON(b []byte) []byte {
	b = append(b, `{"store_calls":`...)
	b = strconv.AppendInt(b, e.StoreCalls, 10)
	b = append(b, `,"store_rows":`...)
	b = strconv.AppendInt(b, e.StoreRows, 10)
	b = append(b, `,"store_wait_us":`...)
	b = strconv.AppendInt(b, e.StoreWaitUS, 10)
	b = append(b, `,"dataloader":`...)
	b = strconv.AppendBool(b, e.DataLoader)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(e.Depth), 10)
	b = append(b, `,"complexity":`...)
	b = strconv.AppendInt(b, int64(e.Complexity), 10)
	return append(b, '}')
}

// aroundResponse runs the operation (for queries and mutations the
// resolvers run inside next), then stamps extensions.loadrig and counts
// the response for /stats. It also runs for requests refused before
// execution (parse, validation, limits), with no store calls.
func (h *Handler) aroundResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	ext := loadrigExt{DataLoader: h.o.DataLoader}
	st := opFrom(ctx)
	if st != nil {
		ext.StoreCalls, ext.StoreRows = st.tally.Calls(), st.tally.Rows()
		ext.StoreWaitUS = st.tally.Wait().Microseconds()
		// A subscription event reports the calls since the last one.
		st.tally = domain.StoreTrace{}
	}
	if graphql.HasOperationContext(ctx) {
		ext.Depth, ext.Complexity = limitStatsOf(ctx, graphql.GetOperationContext(ctx))
	}
	if st != nil && st.post {
		st.ext, st.hasExt = ext, true // postJSON writes it
	} else {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["loadrig"] = ext
	}
	h.count(resp, ext.StoreCalls)
	return resp
}

func (h *Handler) count(resp *graphql.Response, calls int64) {
	h.requests.Add(1)
	h.storeCalls.Add(calls)
	for {
		old := h.storeMax.Load()
		if calls <= old || h.storeMax.CompareAndSwap(old, calls) {
			break
		}
	}
	if len(resp.Errors) == 0 {
		return
	}
	h.errMu.Lock()
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = CodeInternal
		}
		h.errorsByCode[code]++
	}
	h.errMu.Unlock()
}

// serveGraphQL bounds the body (413) and carries the bearer credential
// into the context (the spine's Exchange already carries the request id,
// the cache trace and the bypass flag), then hands the request to gqlgen.
func (h *Handler) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodOptions:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeGQLError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on /graphql; use POST, GET or a WebSocket")
		return
	}
	if r.Method == http.MethodPost {
		if r.ContentLength > h.o.BodyLimit {
			writeGQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body is over the "+strconv.FormatInt(h.o.BodyLimit, 10)+"-byte limit")
			return
		}
		// A declared length within the cap bounds the body already (net/http
		// reads no further); an undeclared one is read here, up to the cap.
		if r.ContentLength < 0 && h.readChunked(w, r) != nil {
			return
		}
	}
	if a := r.Header.Get("Authorization"); a != "" {
		r = r.WithContext(withToken(r.Context(), a))
	}
	w.Header()["Cache-Control"] = hdrNoStore
	h.gql.ServeHTTP(w, r)
}

// readChunked reads a body of undeclared length up to the cap, so one
// over it is a 413 (gqlgen would call it a decoding failure).
func (h *Handler) readChunked(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeGQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body is over the "+strconv.FormatInt(h.o.BodyLimit, 10)+"-byte limit")
		} else {
			writeGQLError(w, http.StatusBadRequest, CodeBadUserInput, "reading the request body failed")
		}
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header()["Content-Type"] = []string{"application/json"}
	w.Header()["Cache-Control"] = []string{"no-store"}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeGQLError answers a request refused before GraphQL saw it, in the
// GraphQL response shape.
func writeGQLError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"message": msg, "extensions": map[string]string{"code": code},
	}}})
}

// GraphQLStats is /stats' graphql object.
func (h *Handler) GraphQLStats() map[string]any {
	n := h.requests.Load()
	perReq := 0.0
	if n > 0 {
		perReq = float64(h.storeCalls.Load()) / float64(n)
	}
	h.errMu.Lock()
	byCode := make(map[string]int64, len(h.errorsByCode))
	for k, v := range h.errorsByCode {
		byCode[k] = v
	}
	h.errMu.Unlock()
	apq := map[string]any{"enabled": h.o.APQ != nil, "hits": int64(0), "misses": int64(0), "registered": int64(0)}
	if h.o.APQ != nil {
		apq["hits"], apq["misses"], apq["registered"] = h.o.APQ.hits.Load(), h.o.APQ.misses.Load(), h.o.APQ.adds.Load()
		apq["backend"] = h.o.APQ.kind
	}
	return map[string]any{
		"requests":                n,
		"errors_by_code":          byCode,
		"store_calls":             h.storeCalls.Load(),
		"store_calls_per_request": perReq,
		"store_calls_max":         h.storeMax.Load(),
		"dataloader":              h.o.DataLoader,
		"apq":                     apq,
		"subscriptions":           map[string]any{"active": h.subsActive.Load(), "dropped": h.subsDropped.Load()},
	}
}

// orDefault maps an Options limit: 0 is def, negative is no limit (0).
func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
