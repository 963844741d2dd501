package metrics

// ErrKind classifies a failed operation. The empty kind means success.
// Protocol-specific kinds are built with HTTPStatusKind / GRPCCodeKind.
type ErrKind string

// Error kinds shared by every protocol (MEASUREMENT.md "Errors are classified").
const (
	OK          ErrKind = ""
	ErrTimeout  ErrKind = "timeout"
	ErrRefused  ErrKind = "refused"
	ErrReset    ErrKind = "reset"
	ErrTLS      ErrKind = "tls"
	ErrDNS      ErrKind = "dns"
	ErrEOF      ErrKind = "eof" // connection closed mid-response
	ErrCheck    ErrKind = "check_failed"
	ErrProtocol ErrKind = "protocol_error"
	ErrCanceled ErrKind = "canceled" // run stopped while in flight
	ErrOther    ErrKind = "other"
)

// CacheStatus is the client's reading of a response's cache status.
type CacheStatus uint8

// Client-side cache statuses.
const (
	CacheUnknown CacheStatus = iota // no cache header: not counted
	CacheHit
	CacheMiss
	CacheRevalidated // 304, or REVALIDATED
	CacheOther       // STALE, BYPASS, EXPIRED, DYNAMIC, ...
)

// HTTPStatusKind is the kind of an HTTP response with an error status, e.g.
// "http_503". It is precomputed for every status so the hot path does not
// allocate.
func HTTPStatusKind(code int) ErrKind {
	if code >= 100 && code < 600 {
		return httpKinds[code]
	}
	return "http_other"
}

var httpKinds = func() (k [600]ErrKind) {
	for i := 100; i < 600; i++ {
		k[i] = ErrKind("http_" + itoa3(i))
	}
	return k
}()

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

// GRPCCodeKind is the kind of a failed gRPC call from its status code name in
// snake case, e.g. "grpc_unavailable". name must be the code's String().
func GRPCCodeKind(name string) ErrKind {
	b := make([]byte, 0, len(name)+8)
	b = append(b, "grpc_"...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return ErrKind(b)
}
