package metrics

import "time"

// Schema is the result file schema id. Renaming or removing a key needs a
// schema bump (MEASUREMENT.md).
const Schema = "loadrig.result/v1"

// Result is one run's result file, loadrig.result/v1. Durations are
// microseconds unless the key says otherwise. Optional sections are pointers
// or omitempty so an HTTP result does not carry empty stream sections.
type Result struct {
	Schema      string    `json:"schema"`
	ToolVersion string    `json:"tool_version"`
	StartedAt   time.Time `json:"started_at"`
	DurationS   float64   `json:"duration_s"`
	Protocol    string    `json:"protocol"`
	Target      string    `json:"target"`
	Name        string    `json:"name,omitempty"` // label for side-by-side reports (e.g. a demo variant)
	// Workload names what a run without a Name loaded, as the command
	// derives it (load http: the method and URL template, e.g. "GET
	// http://127.0.0.1:8080/api/products/{{.Seq}}"): reports, thresholds
	// and diff group runs by Name, else by it, else by Target.
	Workload string `json:"workload,omitempty"`
	// Client names the client implementation the driver used, when it has
	// more than one (HTTP: "fast" for the HTTP/1.1 fast path, "net/http").
	Client     string `json:"client,omitempty"`
	Model      Model  `json:"model"`
	StopReason string `json:"stop_reason"`

	Requests      Requests `json:"requests"`
	ThroughputRPS float64  `json:"throughput_rps"`

	Latency      Summary           `json:"latency_us"`
	ServiceTime  Summary           `json:"service_time_us"`
	ScheduleLag  *Summary          `json:"schedule_lag_us,omitempty"`
	ErrorLatency *Summary          `json:"error_latency_us,omitempty"`
	LateSends    LateSends         `json:"late_sends"`
	Histograms   map[string]string `json:"histograms"` // name -> HDR V2 compressed base64

	// Phases holds per-phase timing summaries (dns, connect, tls, ttfb) when
	// the driver reports them.
	Phases map[string]Summary `json:"phases_us,omitempty"`

	Connections Connections `json:"connections"`
	Cache       *Cache      `json:"cache,omitempty"`
	Timeline    []Point     `json:"timeline"`

	Messages       *Messages `json:"messages,omitempty"`
	MessageLatency *Summary  `json:"message_latency_us,omitempty"`

	// ConnectTime is the time to open a session's connection (dial, TLS
	// and the protocol's handshake, e.g. the WebSocket upgrade), for
	// drivers that hold connections (histograms.connect_time too).
	ConnectTime *Summary `json:"connect_time_us,omitempty"`
	// AckLatency is the round trip from a message's intended send to the
	// server's acknowledgement of it (chat), apart from the delivery
	// latency in MessageLatency (histograms.ack_latency too).
	AckLatency *Summary `json:"ack_latency_us,omitempty"`
	// Fanout is how completely broadcast events reached their receivers
	// (chat rooms, subscriptions), when the driver can tell.
	Fanout *Fanout `json:"fanout,omitempty"`

	Bytes *Bytes `json:"bytes,omitempty"`

	// Operations breaks the run down per named operation (a GraphQL mix),
	// when the driver names its operations.
	Operations map[string]*Operation `json:"operations,omitempty"`
	// GraphQL holds GraphQL errors by code and APQ counts (protocol graphql).
	GraphQL *GraphQL `json:"graphql,omitempty"`
	// Subscriptions is a subscription run's delivery (protocol graphql).
	Subscriptions *Subscriptions `json:"subscriptions,omitempty"`

	Server    map[string]any `json:"server,omitempty"`
	Generator Generator      `json:"generator"`

	// Inputs lists the files a merged result was made from.
	Inputs []string `json:"inputs,omitempty"`

	// Variant is the profile variant the run measured (loadrig run and
	// compare); Name is then the profile's workload name.
	Variant string `json:"variant,omitempty"`
	// Repetition is the 1-based repetition of the variant (run --repeat).
	Repetition int `json:"repetition,omitempty"`
	// Shard says which part of a sharded run this is (--shard i/N).
	Shard *ShardInfo `json:"shard,omitempty"`
	// PlanHash identifies the plan the run belongs to: results of one
	// plan's shards and repetitions share it; merge refuses mixed plans.
	PlanHash string `json:"plan_hash,omitempty"`
	// Partial marks a merge of an incomplete set of shards
	// (merge --allow-partial).
	Partial bool `json:"partial,omitempty"`
}

// ShardInfo is a sharded run's place: Index in [0, Count).
type ShardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// By is how the open model dealt operations to the shards: "tick"
	// (those in the scheduler ticks dealt to Index, by a hash of the tick's
	// number), or empty for by sequence number (Index, Index+Count, ...).
	By string `json:"by,omitempty"`
}

// Model describes the load model. Kind is "open" or "closed".
type Model struct {
	Kind        string  `json:"kind"`
	Rate        float64 `json:"rate,omitempty"`   // open: constant rate, or the peak stage rate
	Stages      string  `json:"stages,omitempty"` // open: the --stages text when staged
	MaxInflight int     `json:"max_inflight,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	ThinkTimeUS int64   `json:"think_time_us,omitempty"`
}

// Requests counts operations of the measured phase.
type Requests struct {
	Total        int64            `json:"total"`
	OK           int64            `json:"ok"`
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
}

// Summary is a latency distribution in microseconds.
type Summary struct {
	Min  int64   `json:"min"`
	Mean float64 `json:"mean"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
	N    int64   `json:"n"`
}

// LateSends counts sends more than 1 ms behind their intended start.
type LateSends struct {
	Count    int64   `json:"count"`
	Fraction float64 `json:"fraction"`
}

// Connections is the client-side connection accounting.
type Connections struct {
	Opened   int64 `json:"opened"`
	Reused   int64 `json:"reused"`
	PeakOpen int64 `json:"peak_open"`
	// Failed counts connection attempts that did not open (refused, a
	// handshake rejected, timed out); Reconnects the attempts to open a
	// session's connection again after one was lost or failed;
	// ClosedByCode how held connections ended,
	// by close code ("1000", "1001", "1008", ... or "abnormal" when the
	// connection dropped without one). Drivers that hold connections set
	// them. ClosedByCode is a pointer so Connections stays comparable.
	Failed       int64       `json:"failed,omitempty"`
	Reconnects   int64       `json:"reconnects,omitempty"`
	ClosedByCode *CodeCounts `json:"closed_by_code,omitempty"`
}

// CodeCounts counts events by a code.
type CodeCounts map[string]int64

// Fanout says how completely broadcast events reached their receivers.
// Expected counts the deliveries each receiver should have had (by the
// per-room or per-topic sequence numbers from its first live event to the
// last one sent), Delivered the distinct ones it had, Dropped the
// difference, Duplicates the events seen again, OutOfOrder the events that
// arrived after a later one.
type Fanout struct {
	Expected      int64   `json:"expected"`
	Delivered     int64   `json:"delivered"`
	DeliveryRatio float64 `json:"delivery_ratio"`
	Dropped       int64   `json:"dropped"`
	Duplicates    int64   `json:"duplicates"`
	OutOfOrder    int64   `json:"out_of_order"`
}

// SetRatio recomputes DeliveryRatio and Dropped from the counts.
func (f *Fanout) SetRatio() {
	f.Dropped = max(f.Expected-f.Delivered, 0)
	f.DeliveryRatio = 0
	if f.Expected > 0 {
		f.DeliveryRatio = float64(f.Delivered) / float64(f.Expected)
	}
}

// Cache is the client's view of cache status from response headers.
type Cache struct {
	Hits        int64   `json:"hits"`
	Misses      int64   `json:"misses"`
	Revalidated int64   `json:"revalidated"`
	Other       int64   `json:"other"`     // STALE, BYPASS, unknown values
	HitRatio    float64 `json:"hit_ratio"` // (hits+revalidated) / (hits+misses+revalidated+other)
	Source      string  `json:"source"`    // header the status came from, e.g. "X-Cache"
}

// Point is one second of the timeline.
type Point struct {
	TS           float64 `json:"t_s"`
	OfferedRPS   float64 `json:"offered_rps"`
	CompletedRPS float64 `json:"completed_rps"`
	Errors       int64   `json:"errors"`
	P50US        int64   `json:"p50_us"`
	P99US        int64   `json:"p99_us"`
	// Hist is the second's latency histogram (HDR V2 compressed base64),
	// kept by sharded runs so that merged timelines are exact.
	Hist string `json:"hist,omitempty"`
	// Stream and socket messages in the interval (absent when none):
	// sent and received per second, message errors, and the message latency
	// percentiles.
	MsgSentRPS     float64 `json:"msg_sent_rps,omitempty"`
	MsgReceivedRPS float64 `json:"msg_received_rps,omitempty"`
	MsgErrors      int64   `json:"msg_errors,omitempty"`
	MsgP50US       int64   `json:"msg_p50_us,omitempty"`
	MsgP99US       int64   `json:"msg_p99_us,omitempty"`
}

// Messages counts stream or socket messages.
type Messages struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	// Errors counts messages that failed on their own (an error reply, no
	// reply by the end of the session, a malformed frame), by kind in
	// ErrorsByKind; the session they belonged to may still have succeeded.
	Errors       int64            `json:"errors,omitempty"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
}

// Bytes counts payload bytes on the wire as the driver saw them.
type Bytes struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

// Generator says whether the load generator itself kept up.
type Generator struct {
	Saturated bool   `json:"saturated"`
	Note      string `json:"note,omitempty"`
}

// NumPhases is the number of phases a driver can time.
const NumPhases = 5

// phaseNames are the result-file keys of the phases drivers time (the keys
// of Result.Phases and, prefixed, of Result.Histograms), in the order an
// operation goes through them. This is their one definition: load.Phase
// numbers index it and package report orders phases by it. It lives here,
// not in load, because the report may depend only on metrics
// (ARCHITECTURE.md rule 3) and the keys are part of the result contract.
var phaseNames = [NumPhases]string{"dns", "connect", "tls", "ttfb", "handshake"}

// PhaseName is the result-file key of phase i (0 <= i < NumPhases), "" out
// of range.
func PhaseName(i int) string {
	if i < 0 || i >= NumPhases {
		return ""
	}
	return phaseNames[i]
}

// PhaseNames returns every phase key in order (a fresh slice).
func PhaseNames() []string { return append([]string(nil), phaseNames[:]...) }

// Histogram names used in Result.Histograms.
const (
	HistLatency        = "latency"
	HistServiceTime    = "service_time"
	HistScheduleLag    = "schedule_lag"
	HistError          = "error"
	HistMessageLatency = "message_latency"
	HistConnectTime    = "connect_time"
	HistAckLatency     = "ack_latency"
)

// Stop reasons.
const (
	StopDuration    = "duration"
	StopCount       = "count"
	StopInterrupted = "interrupted"
	StopErrorBudget = "error_budget"
	StopCompleted   = "completed"
)
