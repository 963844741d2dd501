package wsdrv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Scenario is what each connection does once open.
type Scenario string

// Scenarios.
const (
	// ScenarioEcho sends Message (a JSON object) at the connection's share
	// of MessageRate with the Correlate field set to a message id and "ts"
	// to its intended send time (Unix µs), and matches each reply by that
	// field: the round trip from the intended send.
	ScenarioEcho Scenario = "echo"
	// ScenarioRaw sends Message exactly as rendered and matches replies
	// first in, first out (or by the Correlate field when set and both are
	// JSON).
	ScenarioRaw Scenario = "raw"
	// ScenarioChat joins a room (Rooms, round robin), a Senders fraction of
	// connections posts msg envelopes, receivers time arrival − ts, acks
	// are round trips, and per-room seq gives the fanout.
	ScenarioChat Scenario = "chat"
	// ScenarioSubscribe receives events and times arrival − sts; per-topic
	// seq gives the fanout.
	ScenarioSubscribe Scenario = "subscribe"
)

// Transport is how a subscribe session receives events.
type Transport string

// Transports.
const (
	TransportWS   Transport = "ws"
	TransportSSE  Transport = "sse"
	TransportPoll Transport = "poll"
)

// Defaults of Options.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultDrain       = time.Second
	DefaultReadLimit   = 1 << 20
	DefaultCorrelate   = "id"
	DefaultRoom        = "lobby"
	DefaultSenders     = 0.1
	DefaultChatRate    = 10
	// DefaultEchoMessage is the echo and raw scenarios' message.
	DefaultEchoMessage = `{"type":"msg","data":{"text":"hello {{.Seq}}"}}`
	// DefaultChatMessage is the text a chat sender posts.
	DefaultChatMessage = `hello {{.Seq}}`
)

// Options configures the driver. URLs and Connections are required.
type Options struct {
	// URLs are the endpoints; connection i uses URLs[i mod len] (several
	// nodes behind one test). ws:// or wss:// for TransportWS, http:// or
	// https:// for SSE and polling. Required.
	URLs []string
	// Transport is ws (default), sse or poll; SSE and polling run the
	// subscribe scenario only.
	Transport Transport
	// Scenario is what each connection does. Default echo (ws), subscribe
	// (sse, poll).
	Scenario Scenario
	// Connections is the number of connections the run opens; the total
	// MessageRate is split over them (over the senders in chat). Required.
	Connections int
	// Message is the message template (internal/load/tmpl): the whole
	// frame for echo and raw, data.text for chat. Default DefaultEchoMessage
	// or DefaultChatMessage.
	Message string
	// Seed seeds the templates' random generators and the reconnect jitter.
	// Default 0.
	Seed uint64
	// MessageRate is the total messages per second (echo, raw: over all
	// connections; chat: over the senders). Default: one per connection
	// per second for echo and raw, DefaultChatRate for chat.
	MessageRate float64
	// Correlate is the field that carries the message id (echo: set by the
	// driver; raw: read from both sides when set). Default "id" for echo,
	// none (first in, first out) for raw.
	Correlate string
	// Rooms are the chat rooms; connection i joins Rooms[i mod len].
	// Default ["lobby"].
	Rooms []string
	// Senders is the fraction of chat connections that post (at least one).
	// Default DefaultSenders (0.1).
	Senders float64
	// Reconnect reopens a lost connection with Backoff; chat and subscribe
	// then send resume with the last seq. Default false: a lost connection
	// ends its session as an error.
	Reconnect bool
	// Backoff is the reconnect policy. Default socket.io-client's.
	Backoff Backoff
	// SourceAddrs are local addresses connections dial from, round robin
	// (each address has its own ephemeral ports). Default none: the
	// system's choice.
	SourceAddrs []netip.Addr
	// Token is sent as Authorization: Bearer. Default none.
	Token string
	// Origin is sent as the Origin header. Default none.
	Origin string
	// TLS configures wss:// and https://. Default nil: system roots.
	TLS *tls.Config
	// DialTimeout bounds each connection attempt (dial, TLS, handshake).
	// Default DefaultDialTimeout (10 s).
	DialTimeout time.Duration
	// Drain is how long a closing session waits for replies and deliveries
	// still due after it stops sending; a subscriber (subscribe over any
	// transport but polling, which polls once more) stops sooner, as soon
	// as it has the newest event any receiver had seen when the run ended.
	// Default DefaultDrain (1 s).
	Drain time.Duration
	// ReadLimit is the largest message accepted. Default 1 MiB.
	ReadLimit int64
	// PollInterval is the polling period (TransportPoll). Default 1 s
	// unless LongPoll is set.
	PollInterval time.Duration
	// LongPoll, when set, polls with &wait=LongPoll: the server holds the
	// request until an event or the wait ends.
	LongPoll time.Duration
	// NoETag makes plain polling skip If-None-Match (every poll a full
	// 200). Default false: send the last ETag and accept 304.
	NoETag bool
	// UserAgent is sent with every handshake and request. Default "loadrig".
	UserAgent string
}

// ErrUsage marks an error caused by the options (bad input).
var ErrUsage = errors.New("usage")

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// ParseScenario checks a scenario name.
func ParseScenario(s string) (Scenario, error) {
	switch sc := Scenario(s); sc {
	case ScenarioEcho, ScenarioRaw, ScenarioChat, ScenarioSubscribe:
		return sc, nil
	}
	return "", usagef("unknown scenario %q: use echo, chat, subscribe or raw", s)
}
