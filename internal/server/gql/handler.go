package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// Deps are the GraphQL handler's dependencies and limits.
type Deps struct {
	// Catalog is the data layer: the store, usually behind a cache strategy.
	// Required. Relation reads use its batch reads when it implements
	// domain.BatchReader.
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
	// Publish makes mutations publish their events to Feed. Leave it false
	// when the Catalog publishes writes itself (the stack's cache layer
	// does), or subscribers see every write twice. Default false.
	Publish bool
	// DataLoader switches relation resolvers to per-operation DataLoaders
	// (one batch store call per level) instead of one store call per
	// parent. Default false (the CLI's default is on).
	DataLoader bool
	// LoaderWait is how long a DataLoader collects keys before it fetches.
	// Default DefaultLoaderWait (1ms).
	LoaderWait time.Duration
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
	// Limiter limits /graphql requests per client IP (429, RATE_LIMITED).
	// Default: none.
	Limiter server.Limiter
	// Logger receives errors. Default: discard.
	Logger *slog.Logger
	// Stats returns the sections of /stats the handler does not own
	// (cache, store, ...). Default: none.
	Stats func() map[string]any
	// Conns is the server's connection accounting ("connections" in
	// /stats). Default: zeros.
	Conns *server.ConnStats
	// Registry is the Prometheus registry /metrics serves. Default: a new
	// private registry.
	Registry *prometheus.Registry
}

// Handler is the GraphQL server's http.Handler: POST, GET and WebSocket on
// /graphql, GraphiQL on /graphiql (Dev), /healthz, /stats, /metrics.
type Handler struct {
	d     Deps
	mux   *http.ServeMux
	gql   *handler.Server
	ids   *server.RequestIDs
	start time.Time

	requests, storeCalls, storeMax, subsActive, subsDropped atomic.Int64
	errMu                                                   sync.Mutex
	errorsByCode                                            map[string]int64
}

// NewHandler returns the GraphQL handler over d.
func NewHandler(d Deps) *Handler {
	if d.Catalog == nil {
		panic("gql: Deps.Catalog is nil")
	}
	if d.Login == nil {
		d.Login, _ = d.Catalog.(domain.Authenticator)
	}
	if d.Auth == nil {
		d.Auth = server.NewJWT(server.JWTOptions{})
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Conns == nil {
		d.Conns = &server.ConnStats{}
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	d.MaxDepth = orDefault(d.MaxDepth, DefaultMaxDepth)
	d.MaxComplexity = orDefault(d.MaxComplexity, DefaultMaxComplexity)
	d.MaxTokens = orDefault(d.MaxTokens, DefaultMaxTokens)
	d.QueryCacheSize = orDefault(d.QueryCacheSize, DefaultQueryCache)
	if d.BodyLimit <= 0 {
		d.BodyLimit = DefaultBodyLimit
	}
	if d.LoaderWait <= 0 {
		d.LoaderWait = DefaultLoaderWait
	}
	if d.InitTimeout <= 0 {
		d.InitTimeout = DefaultInitTimeout
	}
	if d.PingInterval <= 0 {
		d.PingInterval = DefaultPingInterval
	}
	if d.WSReadLimit <= 0 {
		d.WSReadLimit = DefaultWSReadLimit
	}
	h := &Handler{d: d, mux: http.NewServeMux(), ids: server.NewRequestIDs(), start: time.Now(), errorsByCode: map[string]int64{}}
	h.gql = h.newServer()
	h.routes()
	return h
}

func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0 // no limit
	}
	return v
}

// newServer assembles gqlgen: handler.New (not NewDefaultServer, whose
// defaults are unbounded and introspective) with exactly the transports,
// caches and extensions loadrig wants.
func (h *Handler) newServer() *handler.Server {
	cfg := Config{Resolvers: &resolver{h: h}, Complexity: complexityRoot()}
	cfg.Directives.RequireAuth = h.requireAuth
	srv := handler.New(NewExecutableSchema(cfg))

	readLimit := h.d.WSReadLimit
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
			OriginPatterns: h.d.Origins,
		}},
		InitFunc:              h.wsInit,
		InitTimeout:           h.d.InitTimeout,
		KeepAlivePingInterval: h.d.PingInterval,
		PayloadReadLimit:      &readLimit,
	})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](h.d.QueryCacheSize))
	if h.d.MaxTokens > 0 {
		srv.SetParserTokenLimit(h.d.MaxTokens)
	}
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		h.d.Logger.ErrorContext(ctx, "panic in resolver", "panic", v)
		return errors.New("internal error")
	})
	if h.d.Dev {
		srv.Use(extension.Introspection{})
	}
	if h.d.APQ != nil {
		srv.Use(extension.AutomaticPersistedQuery{Cache: h.d.APQ})
	}
	maxC := h.d.MaxComplexity
	if maxC <= 0 {
		maxC = maxCost
	}
	srv.Use(&limits{maxDepth: h.d.MaxDepth, complexity: extension.FixedComplexityLimit(maxC)})
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
	st := &opState{}
	opCtx := graphql.GetOperationContext(ctx)
	if h.d.DataLoader && opCtx.Operation != nil && opCtx.Operation.Operation != ast.Subscription {
		st.newLoaders = func() *loaders { return newLoaders(h.d.Catalog, h.d.LoaderWait) }
	}
	ctx = context.WithValue(ctx, opKey, st)
	ctx = domain.WithStoreTally(ctx, &st.tally)
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
	b := make([]byte, 0, 128)
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
	return append(b, '}'), nil
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
	ext := loadrigExt{DataLoader: h.d.DataLoader}
	if st := opFrom(ctx); st != nil {
		ext.StoreCalls, ext.StoreRows = st.tally.Calls(), st.tally.Rows()
		ext.StoreWaitUS = st.tally.Wait().Microseconds()
		// A subscription event reports the calls since the last one.
		st.tally = domain.StoreTally{}
	}
	if graphql.HasOperationContext(ctx) {
		ext.Depth, ext.Complexity = limitStatsOf(graphql.GetOperationContext(ctx))
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["loadrig"] = ext
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

// ---- HTTP surface ----

func (h *Handler) routes() {
	h.mux.Handle("/graphql", http.HandlerFunc(h.serveGraphQL))
	if h.d.Dev {
		h.mux.Handle("GET /graphiql", graphiqlHandler())
		h.mux.Handle("GET /graphiql/assets/", graphiqlAssets())
	}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, h.Stats())
	})
	h.d.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		server.StatsCollector("loadrig", h.Stats),
	)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(h.d.Registry, promhttp.HandlerOpts{Registry: h.d.Registry}))
}

// ServeHTTP stamps X-Request-Id and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-ID")
	if !server.ValidRequestID(id) {
		id = h.ids.Next()
	}
	w.Header()["X-Request-Id"] = []string{id}
	r = r.WithContext(server.WithRequestID(r.Context(), id))
	h.mux.ServeHTTP(w, r)
}

// serveGraphQL bounds the body (413), carries the bearer credential, the
// cache trace and a Cache-Control: no-cache bypass into the context, then
// hands the request to gqlgen.
func (h *Handler) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodOptions:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeGQLError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on /graphql; use POST, GET or a WebSocket")
		return
	}
	if h.d.Limiter != nil && !h.allow(w, r) {
		return
	}
	if r.Method == http.MethodPost {
		if r.ContentLength > h.d.BodyLimit {
			writeGQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body is over the "+strconv.FormatInt(h.d.BodyLimit, 10)+"-byte limit")
			return
		}
		// A declared length within the cap bounds the body already (net/http
		// reads no further); an undeclared one is read here, up to the cap.
		if r.ContentLength < 0 && h.readChunked(w, r) != nil {
			return
		}
	}
	trace := &domain.CacheTrace{}
	ctx := domain.WithCacheTrace(r.Context(), trace)
	ctx = withToken(ctx, r.Header.Get("Authorization"))
	if noCache(r.Header) {
		ctx = domain.WithBypass(ctx)
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	h.gql.ServeHTTP(&xcacheWriter{ResponseWriter: w, trace: trace}, r.WithContext(ctx))
}

// readChunked reads a body of undeclared length up to the cap, so one
// over it is a 413 (gqlgen would call it a decoding failure).
func (h *Handler) readChunked(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.d.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeGQLError(w, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request body is over the "+strconv.FormatInt(h.d.BodyLimit, 10)+"-byte limit")
		} else {
			writeGQLError(w, http.StatusBadRequest, CodeBadUserInput, "reading the request body failed")
		}
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// allow applies the rate limit, answering 429 itself; a failing limiter
// lets the request through.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request) bool {
	key := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		key = host
	}
	d, err := h.d.Limiter.Allow(r.Context(), key)
	if err != nil {
		h.d.Logger.WarnContext(r.Context(), "rate limiter failed; letting the request through", "err", err)
		return true
	}
	if d.Allowed {
		return true
	}
	secs := int((d.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	h.errMu.Lock()
	h.errorsByCode[CodeRateLimited]++
	h.errMu.Unlock()
	writeGQLError(w, http.StatusTooManyRequests, CodeRateLimited, "rate limit exceeded; retry in "+d.RetryAfter.Round(time.Millisecond).String())
	return false
}

// xcacheWriter stamps X-Cache from the request's cache trace when the
// response starts.
type xcacheWriter struct {
	http.ResponseWriter
	trace *domain.CacheTrace
	wrote bool
}

// A second WriteHeader is dropped (gqlgen writes its own error after a
// refused WebSocket upgrade has answered).
func (x *xcacheWriter) WriteHeader(code int) {
	if x.wrote {
		return
	}
	x.wrote = true
	x.Header()["X-Cache"] = []string{x.trace.Status().String()}
	x.ResponseWriter.WriteHeader(code)
}

func (x *xcacheWriter) Write(b []byte) (int, error) {
	if !x.wrote {
		x.WriteHeader(http.StatusOK)
	}
	return x.ResponseWriter.Write(b)
}

// Unwrap lets coder/websocket hijack the connection and
// http.ResponseController reach it.
func (x *xcacheWriter) Unwrap() http.ResponseWriter { return x.ResponseWriter }

func noCache(hd http.Header) bool {
	for _, s := range hd.Values("Cache-Control") {
		if bytes.Contains(bytes.ToLower([]byte(s)), []byte("no-cache")) {
			return true
		}
	}
	return false
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

// Stats returns the /stats document: Deps.Stats sections plus
// connections, uptime and the graphql object.
func (h *Handler) Stats() map[string]any {
	out := map[string]any{}
	if h.d.Stats != nil {
		for k, v := range h.d.Stats() {
			out[k] = v
		}
	}
	out["connections"] = map[string]any{"active": h.d.Conns.Active(), "total": h.d.Conns.Total()}
	out["auth"] = h.d.Auth.Kind()
	out["uptime_s"] = time.Since(h.start).Seconds()
	out["graphql"] = h.GraphQLStats()
	return out
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
	apq := map[string]any{"enabled": h.d.APQ != nil, "hits": int64(0), "misses": int64(0), "registered": int64(0)}
	if h.d.APQ != nil {
		apq["hits"], apq["misses"], apq["registered"] = h.d.APQ.hits.Load(), h.d.APQ.misses.Load(), h.d.APQ.adds.Load()
		apq["backend"] = h.d.APQ.kind
	}
	return map[string]any{
		"requests":                n,
		"errors_by_code":          byCode,
		"store_calls":             h.storeCalls.Load(),
		"store_calls_per_request": perReq,
		"store_calls_max":         h.storeMax.Load(),
		"dataloader":              h.d.DataLoader,
		"apq":                     apq,
		"subscriptions":           map[string]any{"active": h.subsActive.Load(), "dropped": h.subsDropped.Load()},
	}
}
