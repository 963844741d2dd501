package gqldrv

import (
	"time"

	"github.com/loadrig/loadrig/internal/load/httpdrv"
)

// Options configures the GraphQL driver. The zero value of every field is a
// usable default except URL and Query, which are required.
type Options struct {
	// URL is the GraphQL endpoint, http(s)://host[:port]/graphql (ws:// and
	// wss:// are accepted for subscriptions and mean the same endpoint).
	// Required.
	URL string
	// Query is the GraphQL document (the CLI resolves @file into text). It
	// may hold several named operations, chosen by OperationName or mixed
	// by Mix. Parsed before the run. Required.
	Query string
	// Variables is a JSON object template sent as every operation's
	// variables ({{.Seq}}, {{zipf ...}}, {{.Row.field}} ...). One rendering
	// is checked before the run: it must be a JSON object holding every
	// non-null variable without a default that the operations declare.
	// Default "": no variables.
	Variables string
	// OperationName picks one operation of a document that has several.
	// Default "": the document's only operation.
	OperationName string
	// Mix mixes named operations by weight, "A=70,B=30": each operation's
	// name is drawn from its sequence number, so runs are reproducible.
	// Default "": no mix.
	Mix string
	// GET sends queries as GET /graphql?query=...&variables=... (mutations
	// are still sent with GET: the server may refuse them). Default false:
	// POST with a JSON body.
	GET bool
	// APQ sends automatic persisted queries: the query's SHA-256 alone, and
	// the query as well only after the server answers
	// PERSISTED_QUERY_NOT_FOUND (a miss, not an error). Default false.
	APQ bool
	// HTTP configures the HTTP client the queries and mutations go through
	// (headers, connections, TLS, proxy, data rows, seed, expected statuses
	// ...). Its URL, Method, Body, NewExchange and Revalidate are set by the
	// driver. Default: httpdrv's defaults.
	HTTP httpdrv.Options

	// Subscriptions (the operation is a subscription).

	// Subscribers is how many subscriptions to open, one per operation.
	// Default 0: 1.
	Subscribers int
	// Ramp is how many subscribers connect per second. Default 0: all at
	// once.
	Ramp float64
	// WSProtocol is the GraphQL-over-WebSocket subprotocol:
	// "graphql-transport-ws" (default) or "graphql-ws" (the legacy
	// subscriptions-transport-ws protocol).
	WSProtocol string
	// ConnectionParams is the JSON object sent as the connection_init
	// payload (e.g. {"authorization": "Bearer ..."}). Default: none.
	ConnectionParams string
	// TimestampField is the dot path, inside the event's data, of the time
	// the server emitted it (RFC 3339); message latency is arrival minus
	// that time, which assumes client and server read one clock. Default
	// "": the first field named emittedAt, at any depth.
	TimestampField string
	// Publish is a mutation (a document with one mutation) the driver sends
	// over HTTP at PublishRate per second during the run so that the
	// subscriptions have events. Default "": events come from elsewhere.
	Publish string
	// PublishVariables is the publish mutation's variables template.
	// Default "": none.
	PublishVariables string
	// PublishRate is the publish mutations per second. Default 0: 10 when
	// Publish is set.
	PublishRate float64
	// ConnectTimeout bounds a subscriber's WebSocket handshake and
	// connection_ack. Default 10s.
	ConnectTimeout time.Duration
	// Hold is how long the subscription window lasts, from the first
	// subscriber's start: every subscriber unsubscribes and closes
	// normally at its end, and publishing stops Drain before it. Default 0:
	// subscribers stay until the operation's context ends.
	Hold time.Duration
	// Drain is how long before the window's end publishing stops, so that
	// the last events can arrive. Default 0: 500ms (at most a quarter of
	// Hold).
	Drain time.Duration
}
