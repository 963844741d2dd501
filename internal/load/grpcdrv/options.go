package grpcdrv

import (
	"crypto/tls"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/load/tmpl"
)

// Defaults of Options.
const (
	DefaultStreamMessages = 10
	DefaultMaxRecvMsgSize = 64 << 20
	DefaultDialTimeout    = 10 * time.Second
	// KeepaliveTime is how often an idle connection is pinged. It must stay
	// at or above the server's enforcement minimum (loadrig's server
	// accepts pings every 10 s; grpc-go's default minimum is 5 min, which
	// matters only for connections idle that long).
	KeepaliveTime = 30 * time.Second
)

// Options configures the gRPC driver. Target and Call are required; every
// other zero value is a usable default.
type Options struct {
	// Target is the server: host:port, or any gRPC target URI
	// (dns:///host:port, unix:///path). Required.
	Target string
	// Call is the method, pkg.Service/Method (also /pkg.Service/Method or
	// pkg.Service.Method). Required.
	Call string
	// ProtoFiles describe the method instead of server reflection; they
	// are compiled with protocompile. Default none: ask the server's
	// reflection service (v1, falling back to v1alpha).
	ProtoFiles []string
	// ImportPaths are where ProtoFiles and their imports are looked up
	// (google/protobuf/*.proto are built in). Default none: file names are
	// opened as given.
	ImportPaths []string
	// Data is the request message as protobuf JSON, a template
	// ({{.Seq}}, {{randInt a b}}, {{zipf s v n}}, {{uuid}},
	// {{.Row.field}}; see internal/load/tmpl). Constant data is encoded once;
	// templated data is rendered and encoded per message. On client and
	// bidi streams every message carries it, unless it is a JSON array:
	// then message i is element i mod len (and StreamMessages defaults to
	// the array's length). Default "{}" (an empty message).
	Data string
	// Rows holds the rows {{.Row.field}} reads. Default nil: no rows.
	Rows *tmpl.Data
	// RowMode picks each operation's row. Default round-robin by Seq.
	RowMode tmpl.RowMode
	// Seed is the base seed of every worker's template RNG. Default 0 (a
	// fixed seed, so runs are reproducible).
	Seed uint64
	// Metadata are request metadata pairs, "key: value" or "key=value".
	// Default none.
	Metadata []string
	// TLS enables TLS with this configuration. Default nil: plaintext
	// (h2c).
	TLS *tls.Config
	// Connections is the number of channels (one HTTP/2 connection each);
	// worker i uses channel i mod Connections. Default 1.
	Connections int
	// StreamMessages is the number of messages sent on each client or
	// bidi stream; on server streams, when set, the stream is cancelled
	// after that many messages arrived (unset: read until the server ends
	// it). Default DefaultStreamMessages (10) for sending streams.
	StreamMessages int
	// StreamInterval is the pause between two sent stream messages.
	// Default 0: back to back.
	StreamInterval time.Duration
	// MaxRecvMsgSize is the largest response message accepted. Default
	// DefaultMaxRecvMsgSize (64 MiB).
	MaxRecvMsgSize int
	// DialTimeout bounds the reflection lookup at start. Default
	// DefaultDialTimeout (10 s).
	DialTimeout time.Duration
	// UserAgent prefixes gRPC's own user agent. Default "loadrig".
	UserAgent string
}

// parseMetadata splits "key: value" / "key=value" pairs into keys and
// values (keys lower-cased, as HTTP/2 requires).
func parseMetadata(pairs []string) ([]string, error) {
	var kv []string
	for _, p := range pairs {
		i := strings.IndexAny(p, ":=")
		// A leading ':' is not a separator: it starts a pseudo-header,
		// which metadata may not set.
		if i <= 0 {
			return nil, usagef("metadata %q is not key=value or \"key: value\"", p)
		}
		k := strings.ToLower(strings.TrimSpace(p[:i]))
		v := strings.TrimSpace(p[i+1:])
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, usagef("metadata %q has an invalid key", p)
		}
		kv = append(kv, k, v)
	}
	return kv, nil
}
