package profile

import (
	"math/rand/v2"

	"github.com/loadrig/loadrig/internal/load"
)

// Plan is a profile resolved for one run: the load configuration, the
// operation mix, and each variant's merged server settings.
type Plan struct {
	// Name and Description come from the profile.
	Name, Description string
	// Load is the engine configuration (model, duration, warm-up), with
	// --quick overrides applied.
	Load load.Config
	// Operations is the mix, in profile order.
	Operations []Operation
	// Keys is the id sequence operations use ({{.id}}), round-robin by
	// operation sequence number.
	Keys []int64
	// Variants are in report order.
	Variants []VariantPlan
	// Protocols is the resolved protocols section; nil when the profile
	// has none.
	Protocols *ProtocolPlan
	// GraphQL is the resolved graphql section; nil when the profile has
	// none.
	GraphQL *GraphQLPlan
	// Realtime is the resolved realtime section; nil when the profile has
	// none.
	Realtime *RealtimePlan
}

// VariantPlan is one variant with its settings merged over the profile's.
type VariantPlan struct {
	Name, Description string
	// Server is the profile's server section overridden by the variant's.
	// Nil fields are left to the server's defaults.
	Server Server
	// Revalidate: clients remember ETags and send If-None-Match on
	// operations marked revalidate.
	Revalidate bool
}

// Plan resolves the profile; quick applies the quick section.
func (p *Profile) Plan(quick bool) Plan {
	w := p.Workload
	cfg := load.Config{
		Rate:        w.Rate,
		Concurrency: w.Concurrency,
		Duration:    w.Duration.D(),
		Warmup:      w.Warmup.D(),
		MaxInflight: w.MaxInflight,
		Timeout:     w.Timeout.D(),
		CacheSource: "X-Cache",
	}
	if q := p.Quick; quick && q != nil {
		if q.Rate != nil {
			cfg.Rate = *q.Rate
		}
		if q.Concurrency != nil {
			cfg.Concurrency = *q.Concurrency
		}
		if q.Duration != nil {
			cfg.Duration = q.Duration.D()
		}
		if q.Warmup != nil {
			cfg.Warmup = q.Warmup.D()
		}
	}
	pl := Plan{Name: p.Name, Description: p.Description, Load: cfg, Operations: append([]Operation(nil), w.Operations...),
		Keys: w.Keys.IDs(), Protocols: p.protocolPlan(quick),
		GraphQL: p.graphQLPlan(quick), Realtime: p.realtimePlan(quick)}
	for _, v := range p.Variants {
		pl.Variants = append(pl.Variants, VariantPlan{
			Name: v.Name, Description: v.Description, Revalidate: v.Revalidate,
			Server: Merge(p.Server, v.Server),
		})
	}
	return pl
}

// Merge returns base with every non-nil field of over applied.
func Merge(base, over Server) Server {
	out := base
	if over.Cache != nil {
		out.Cache = over.Cache
	}
	if over.Strategy != nil {
		out.Strategy = over.Strategy
	}
	if over.TTL != nil {
		out.TTL = over.TTL
	}
	if over.MaxAge != nil {
		out.MaxAge = over.MaxAge
	}
	if over.StoreLatency != nil {
		out.StoreLatency = over.StoreLatency
	}
	if over.StorePool != nil {
		out.StorePool = over.StorePool
	}
	if over.Dataset != nil {
		out.Dataset = over.Dataset
	}
	if over.Seed != nil {
		out.Seed = over.Seed
	}
	return out
}

// IDs draws the key sequence: deterministic for a given Keys.
func (k Keys) IDs() []int64 {
	rows := k.Rows
	if rows <= 0 {
		rows = 10000
	}
	r := rand.New(rand.NewPCG(uint64(k.Seed), 0x6c6f616472696721))
	out := make([]int64, rows)
	if k.Distribution == "uniform" {
		for i := range out {
			out[i] = 1 + r.Int64N(int64(k.N))
		}
		return out
	}
	s, v := k.S, k.V
	if s == 0 {
		s = 1.1
	}
	if v == 0 {
		v = 1
	}
	z := rand.NewZipf(r, s, v, uint64(k.N-1))
	for i := range out {
		out[i] = int64(z.Uint64()) + 1
	}
	return out
}
