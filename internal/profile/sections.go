package profile

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The demo's graphql and realtime sections. Like the protocols section,
// each keeps its own shape (the queries and transports it compares are
// fixed by the demo); the profile sets what a run costs and how long it
// takes: the store, the rates, the durations and the number of clients.

// GraphQL is the graphql section: one product page as REST calls vs one
// GraphQL query, then the N+1 query with DataLoader off and on.
type GraphQL struct {
	// Description says what the section shows.
	Description string `yaml:"description"`
	// Server overrides the profile's server section for the section's one
	// stack (dataset, seed, store_latency, store_pool). The cache is
	// always none: every read is a store call, so the counts show what
	// each way costs.
	Server Server `yaml:"server"`
	// StorePerRow is the store's cost per row read, on top of its per-call
	// latency. Default 0.
	StorePerRow Duration `yaml:"store_per_row"`
	// LoaderWait is the server's DataLoader batching window. Default 0:
	// the server's own default.
	LoaderWait Duration `yaml:"loader_wait"`
	// Warmup runs before every measured run, unrecorded.
	Warmup Duration `yaml:"warmup"`
	// Timeout bounds one operation (0: the engine's default).
	Timeout Duration `yaml:"timeout"`
	// Page is the product page both ways (open model).
	Page GraphQLPage `yaml:"page"`
	// NPlusOne is the N+1 query, DataLoader off and on.
	NPlusOne GraphQLNPlusOne `yaml:"n_plus_one"`
	// Quick overrides parts of the section for --quick.
	Quick *GraphQLQuick `yaml:"quick"`
}

// GraphQLPage is the product page part of the graphql section.
type GraphQLPage struct {
	// Rate is pages per second, the same both ways.
	Rate float64 `yaml:"rate"`
	// Duration is each way's measured phase.
	Duration Duration `yaml:"duration"`
	// GzipSamples is how many pages' bodies are fetched before the runs and
	// gzipped for the compressed-bytes column. Default 20.
	GzipSamples int `yaml:"gzip_samples"`
}

// GraphQLNPlusOne is the N+1 part of the graphql section.
type GraphQLNPlusOne struct {
	// Rate is queries per second (open model), off and on alike.
	Rate float64 `yaml:"rate"`
	// Duration is each open-model run's measured phase.
	Duration Duration `yaml:"duration"`
	// SaturationWorkers is the closed model of the saturation runs.
	SaturationWorkers int `yaml:"saturation_workers"`
	// SaturationDuration is each saturation run's measured phase.
	SaturationDuration Duration `yaml:"saturation_duration"`
	// UnboundedDuration is the run without DataLoader against a store
	// with no connection pool (what hides the N+1).
	UnboundedDuration Duration `yaml:"unbounded_duration"`
}

// GraphQLQuick overrides the graphql section for --quick.
type GraphQLQuick struct {
	Warmup *Duration `yaml:"warmup"`
	Page   *struct {
		Duration *Duration `yaml:"duration"`
	} `yaml:"page"`
	NPlusOne *struct {
		Duration           *Duration `yaml:"duration"`
		SaturationDuration *Duration `yaml:"saturation_duration"`
		UnboundedDuration  *Duration `yaml:"unbounded_duration"`
	} `yaml:"n_plus_one"`
}

// GraphQLPlan is the graphql section resolved for one run.
type GraphQLPlan struct {
	Description string
	// Server is the profile's server section overridden by the section's.
	Server                                   Server
	StorePerRow, LoaderWait, Warmup, Timeout time.Duration
	PageRate                                 float64
	PageDuration                             time.Duration
	GzipSamples                              int
	NPlusOneRate                             float64
	NPlusOneDuration                         time.Duration
	SaturationWorkers                        int
	SaturationDuration, UnboundedDuration    time.Duration
}

func (p *Profile) graphQLPlan(quick bool) *GraphQLPlan {
	s := p.GraphQL
	if s == nil {
		return nil
	}
	g := &GraphQLPlan{
		Description: s.Description, Server: Merge(p.Server, s.Server),
		StorePerRow: s.StorePerRow.D(), LoaderWait: s.LoaderWait.D(), Warmup: s.Warmup.D(), Timeout: s.Timeout.D(),
		PageRate: s.Page.Rate, PageDuration: s.Page.Duration.D(), GzipSamples: s.Page.GzipSamples,
		NPlusOneRate: s.NPlusOne.Rate, NPlusOneDuration: s.NPlusOne.Duration.D(),
		SaturationWorkers: s.NPlusOne.SaturationWorkers, SaturationDuration: s.NPlusOne.SaturationDuration.D(),
		UnboundedDuration: s.NPlusOne.UnboundedDuration.D(),
	}
	if g.GzipSamples == 0 {
		g.GzipSamples = 20
	}
	if q := s.Quick; quick && q != nil {
		setD(&g.Warmup, q.Warmup)
		if q.Page != nil {
			setD(&g.PageDuration, q.Page.Duration)
		}
		if n := q.NPlusOne; n != nil {
			setD(&g.NPlusOneDuration, n.Duration)
			setD(&g.SaturationDuration, n.SaturationDuration)
			setD(&g.UnboundedDuration, n.UnboundedDuration)
		}
	}
	return g
}

func setD(dst *time.Duration, d *Duration) {
	if d != nil {
		*dst = d.D()
	}
}

// Bounds of the demo sections: a profile is input, and a section's runs
// hold connections and memory in this process.
const (
	maxSectionRate    = 100_000
	maxSectionWorkers = 1_000
	maxGzipSamples    = 1_000
	// MaxRealtimeClients bounds the realtime section's clients per cell
	// (each holds about six descriptors in this process).
	MaxRealtimeClients = 50_000
	maxTickRate        = 1_000
)

func badRate(r float64) bool {
	return math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 || r > maxSectionRate
}

func (p *Profile) validateGraphQL() error {
	s := p.GraphQL
	if s == nil {
		return nil
	}
	at := func(keys ...string) []string { return append([]string{"graphql"}, keys...) }
	if err := p.validateServer(s.Server, at("server")...); err != nil {
		return err
	}
	if s.Server.Cache != nil && *s.Server.Cache != "none" {
		return p.errf(at("server", "cache"), "the graphql section runs without a cache (every read a store call); remove the key or set none")
	}
	switch {
	case badRate(s.Page.Rate):
		return p.errf(at("page", "rate"), "must be pages per second, > 0 and <= %d", maxSectionRate)
	case s.Page.Duration <= 0:
		return p.errf(at("page", "duration"), "must be > 0, like 4s")
	case s.Page.GzipSamples < 0 || s.Page.GzipSamples > maxGzipSamples:
		return p.errf(at("page", "gzip_samples"), "must be 1..%d, got %d", maxGzipSamples, s.Page.GzipSamples)
	case badRate(s.NPlusOne.Rate):
		return p.errf(at("n_plus_one", "rate"), "must be queries per second, > 0 and <= %d", maxSectionRate)
	case s.NPlusOne.Duration <= 0:
		return p.errf(at("n_plus_one", "duration"), "must be > 0, like 6s")
	case s.NPlusOne.SaturationWorkers <= 0 || s.NPlusOne.SaturationWorkers > maxSectionWorkers:
		return p.errf(at("n_plus_one", "saturation_workers"), "must be 1..%d, got %d", maxSectionWorkers, s.NPlusOne.SaturationWorkers)
	case s.NPlusOne.SaturationDuration <= 0:
		return p.errf(at("n_plus_one", "saturation_duration"), "must be > 0, like 3s")
	case s.NPlusOne.UnboundedDuration <= 0:
		return p.errf(at("n_plus_one", "unbounded_duration"), "must be > 0, like 3s")
	}
	if q := s.Quick; q != nil {
		pos := func(d *Duration, keys ...string) error {
			if d != nil && *d <= 0 {
				return p.errf(at(append([]string{"quick"}, keys...)...), "must be > 0")
			}
			return nil
		}
		errs := []error{pos(q.Warmup, "warmup")}
		if q.Page != nil {
			errs = append(errs, pos(q.Page.Duration, "page", "duration"))
		}
		if n := q.NPlusOne; n != nil {
			errs = append(errs, pos(n.Duration, "n_plus_one", "duration"), pos(n.SaturationDuration, "n_plus_one", "saturation_duration"),
				pos(n.UnboundedDuration, "n_plus_one", "unbounded_duration"))
		}
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// String describes the plan in one line.
func (g GraphQLPlan) String() string {
	pool := "no pool"
	if g.Server.StorePool != nil && *g.Server.StorePool > 0 {
		pool = strconv.Itoa(*g.Server.StorePool) + " connections"
	}
	lat := "0s"
	if g.Server.StoreLatency != nil {
		lat = g.Server.StoreLatency.D().String()
	}
	return fmt.Sprintf("store %s per call with %s, cache none; pages at %g/s for %v each way; the N+1 at %g/s for %v, then %d workers for %v, DataLoader off and on",
		lat, pool, g.PageRate, g.PageDuration, g.NPlusOneRate, g.NPlusOneDuration, g.SaturationWorkers, g.SaturationDuration)
}

// Realtime is the realtime section: the WebSocket server's price ticker at
// each rate to the same number of clients over polling (with and without
// 304s), long-polling, SSE and WebSocket, then a chat room.
type Realtime struct {
	// Description says what the section shows.
	Description string `yaml:"description"`
	// Clients is the number of subscribers of each ticker cell.
	Clients int `yaml:"clients"`
	// Connect is how long a cell's clients get to connect (they arrive
	// spread over it) before the cell is held.
	Connect Duration `yaml:"connect"`
	// Duration holds each push cell (long-polling, SSE, WebSocket; at
	// least two ticks at low rates).
	Duration Duration `yaml:"duration"`
	// PollDuration holds the polling cells (at least one poll past the
	// first, which only learns where the topic is).
	PollDuration Duration `yaml:"poll_duration"`
	// Drain caps a subscriber's wait for the events due at the end.
	Drain Duration `yaml:"drain"`
	// Rates are the ticker rates compared, events per second, in table
	// order.
	Rates []float64 `yaml:"rates"`
	// Chat is the chat room row.
	Chat RealtimeChat `yaml:"chat"`
	// Quick overrides parts of the section for --quick.
	Quick *RealtimeQuick `yaml:"quick"`
}

// RealtimeChat is the realtime section's chat room.
type RealtimeChat struct {
	// Members of the one room.
	Members int `yaml:"members"`
	// Rate is posts per second in the room, in total.
	Rate float64 `yaml:"rate"`
	// Drain is the row's whole wait after the run (a receiver cannot tell
	// when a room's last message is in).
	Drain Duration `yaml:"drain"`
}

// RealtimeQuick overrides the realtime section for --quick.
type RealtimeQuick struct {
	Clients      *int      `yaml:"clients"`
	Connect      *Duration `yaml:"connect"`
	Duration     *Duration `yaml:"duration"`
	PollDuration *Duration `yaml:"poll_duration"`
	Drain        *Duration `yaml:"drain"`
	Rates        []float64 `yaml:"rates"`
	Chat         *struct {
		Members *int      `yaml:"members"`
		Rate    *float64  `yaml:"rate"`
		Drain   *Duration `yaml:"drain"`
	} `yaml:"chat"`
}

// RealtimePlan is the realtime section resolved for one run.
type RealtimePlan struct {
	Description                            string
	Clients                                int
	Connect, Duration, PollDuration, Drain time.Duration
	Rates                                  []float64
	ChatMembers                            int
	ChatRate                               float64
	ChatDrain                              time.Duration
}

func (p *Profile) realtimePlan(quick bool) *RealtimePlan {
	s := p.Realtime
	if s == nil {
		return nil
	}
	r := &RealtimePlan{
		Description: s.Description, Clients: s.Clients, Connect: s.Connect.D(), Duration: s.Duration.D(),
		PollDuration: s.PollDuration.D(), Drain: s.Drain.D(), Rates: append([]float64(nil), s.Rates...),
		ChatMembers: s.Chat.Members, ChatRate: s.Chat.Rate, ChatDrain: s.Chat.Drain.D(),
	}
	if q := s.Quick; quick && q != nil {
		if q.Clients != nil {
			r.Clients = *q.Clients
		}
		setD(&r.Connect, q.Connect)
		setD(&r.Duration, q.Duration)
		setD(&r.PollDuration, q.PollDuration)
		setD(&r.Drain, q.Drain)
		if len(q.Rates) > 0 {
			r.Rates = append([]float64(nil), q.Rates...)
		}
		if c := q.Chat; c != nil {
			if c.Members != nil {
				r.ChatMembers = *c.Members
			}
			if c.Rate != nil {
				r.ChatRate = *c.Rate
			}
			setD(&r.ChatDrain, c.Drain)
		}
	}
	return r
}

func (p *Profile) validateRealtime() error {
	s := p.Realtime
	if s == nil {
		return nil
	}
	at := func(keys ...string) []string { return append([]string{"realtime"}, keys...) }
	clients := func(n int, keys ...string) error {
		if n <= 0 || n > MaxRealtimeClients {
			return p.errf(at(keys...), "must be 1..%d, got %d", MaxRealtimeClients, n)
		}
		return nil
	}
	pos := func(d Duration, example string, keys ...string) error {
		if d <= 0 {
			return p.errf(at(keys...), "must be > 0, like %s", example)
		}
		return nil
	}
	rates := func(rs []float64, keys ...string) error {
		for i, r := range rs {
			if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 || r > maxTickRate {
				return p.errf(at(append(keys, strconv.Itoa(i))...), "a ticker rate must be events per second, > 0 and <= %d, got %v", maxTickRate, r)
			}
		}
		return nil
	}
	if len(s.Rates) == 0 {
		return p.errf(at(), "needs at least one ticker rate under rates, like [1, 4, 50]")
	}
	for _, err := range []error{
		clients(s.Clients, "clients"), pos(s.Connect, "500ms", "connect"), pos(s.Duration, "2500ms", "duration"),
		pos(s.PollDuration, "3s", "poll_duration"), pos(s.Drain, "3s", "drain"), rates(s.Rates, "rates"),
		clients(s.Chat.Members, "chat", "members"), pos(s.Chat.Drain, "1s", "chat", "drain"),
	} {
		if err != nil {
			return err
		}
	}
	if badRate(s.Chat.Rate) {
		return p.errf(at("chat", "rate"), "must be posts per second, > 0 and <= %d", maxSectionRate)
	}
	if q := s.Quick; q != nil {
		opt := func(d *Duration, keys ...string) error {
			if d != nil && *d <= 0 {
				return p.errf(at(append([]string{"quick"}, keys...)...), "must be > 0")
			}
			return nil
		}
		errs := []error{opt(q.Connect, "connect"), opt(q.Duration, "duration"), opt(q.PollDuration, "poll_duration"),
			opt(q.Drain, "drain"), rates(q.Rates, "quick", "rates")}
		if q.Clients != nil {
			errs = append(errs, clients(*q.Clients, "quick", "clients"))
		}
		if c := q.Chat; c != nil {
			if c.Members != nil {
				errs = append(errs, clients(*c.Members, "quick", "chat", "members"))
			}
			if c.Rate != nil && badRate(*c.Rate) {
				errs = append(errs, p.errf(at("quick", "chat", "rate"), "must be posts per second, > 0 and <= %d", maxSectionRate))
			}
			errs = append(errs, opt(c.Drain, "chat", "drain"))
		}
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}
