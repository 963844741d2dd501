package profile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loadrig/loadrig/internal/load"
)

// Protocol-comparison section of a profile. The cache comparison varies the
// server and keeps the protocol; this section keeps the server (one store,
// one cache, both servers over it) and varies the protocol, so its shape
// is a grid rather than a list of variants: every operation at every
// payload size, once per protocol, each cell its own short run.

// Protocol operations, each with a REST/JSON and a gRPC/protobuf form.
const (
	// OpGet reads one product: GET /api/products/{id} vs
	// ShopService/GetProduct.
	OpGet = "get"
	// OpList reads one page of products: GET /api/products?limit=N vs the
	// ListProducts server stream, the whole stream counted as one
	// operation.
	OpList = "list"
)

// ProtocolOps are the operations a protocols section may list.
var ProtocolOps = []string{OpGet, OpList}

// MaxPadBytes is the largest payload size a protocols section may ask for:
// the servers' pad cap (rest.DefaultMaxPadBytes and
// grpcsrv.DefaultMaxPadBytes, both 4 MiB; this package may not import the
// servers, so internal/cli/demo's tests check the three agree).
const MaxPadBytes = 4 << 20

// MaxListLimit is the largest page the servers return (domain.MaxPageSize).
const MaxListLimit = 1000

// Protocols is the protocols section: REST/JSON vs gRPC/protobuf over one
// store and one cache.
type Protocols struct {
	// Description says what the section shows.
	Description string `yaml:"description"`
	// Server overrides the profile's server section for this section (one
	// server stack shared by the REST and the gRPC server).
	Server Server `yaml:"server"`
	// Concurrency is the closed model's number of workers per cell.
	// Required: the section always uses the closed model, so every cell
	// measures what the protocol can do at that size with the same number
	// of requests in flight (a fixed open rate that suits 1 KB saturates
	// at 1 MB).
	Concurrency int `yaml:"concurrency"`
	// Duration is each cell's measured phase.
	Duration Duration `yaml:"duration"`
	// Warmup runs before each cell's measured phase, unrecorded.
	Warmup Duration `yaml:"warmup"`
	// Timeout bounds one operation (0: the engine's default).
	Timeout Duration `yaml:"timeout"`
	// GRPCConnections is the number of HTTP/2 connections the gRPC client
	// spreads its workers over. Default 1 (one channel, as gRPC clients
	// usually run); the HTTP client uses one connection per worker.
	GRPCConnections int `yaml:"grpc_connections"`
	// ListLimit is the page size of the list operation. Default 10.
	ListLimit int `yaml:"list_limit"`
	// Keys generates the product ids of the get operation.
	Keys Keys `yaml:"keys"`
	// Operations are the operations compared, in table order (get, list).
	Operations []Enum `yaml:"operations"`
	// Sizes are the payload sizes swept, in table order: filler bytes per
	// operation ("1KB", "10KiB", "1MB", or a plain number of bytes). A
	// list spreads its size over its ListLimit products.
	Sizes []ByteSize `yaml:"sizes"`
	// Quick overrides parts of the section for --quick.
	Quick *ProtocolsQuick `yaml:"quick"`
}

// ProtocolsQuick overrides the protocols section for --quick.
type ProtocolsQuick struct {
	Concurrency *int       `yaml:"concurrency"`
	Duration    *Duration  `yaml:"duration"`
	Warmup      *Duration  `yaml:"warmup"`
	Sizes       []ByteSize `yaml:"sizes"`
}

// ByteSize is a number of bytes written as 512, "512B", "1KB" (1000),
// "1KiB" (1024), "1MB" (1000000) or "1MiB" (1048576).
type ByteSize int

var byteUnits = []struct {
	suffix string
	mult   int
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1000}, {"MB", 1000 * 1000}, {"B", 1}}

// UnmarshalYAML parses a size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	bad := lineErr(n, "%q is not a size like 512B, 1KB, 10KiB or 1MB", n.Value)
	if n.Kind != yaml.ScalarNode {
		return bad
	}
	s, mult := strings.TrimSpace(n.Value), 1
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > math.MaxInt32/mult {
		return bad
	}
	*b = ByteSize(v * mult)
	return nil
}

// String writes the size in the largest unit that divides it exactly.
func (b ByteSize) String() string {
	n := int(b)
	switch {
	case n >= 1000*1000 && n%(1000*1000) == 0:
		return strconv.Itoa(n/(1000*1000)) + "MB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "KB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// ProtocolPlan is a protocols section resolved for one run.
type ProtocolPlan struct {
	// Description comes from the section.
	Description string
	// Server is the profile's server section overridden by the section's.
	Server Server
	// Load is every cell's engine configuration (closed model), with
	// --quick overrides applied.
	Load load.Config
	// GRPCConnections is the gRPC client's connection count (>= 1).
	GRPCConnections int
	// ListLimit is the list operation's page size (>= 1).
	ListLimit int
	// Keys is the get operation's id sequence, round-robin by operation
	// sequence number.
	Keys []int64
	// Operations are OpGet and/or OpList, in table order.
	Operations []string
	// Sizes are the payload sizes in bytes per operation, in table order.
	Sizes []ByteSize
}

// Pad is the pad a request of operation op asks for to carry size bytes of
// filler in all: size for get, size / ListLimit per product for list.
func (p ProtocolPlan) Pad(op string, size ByteSize) int {
	if op == OpList {
		return int(size) / p.ListLimit
	}
	return int(size)
}

// protocolPlan resolves the section; quick applies its quick overrides.
func (p *Profile) protocolPlan(quick bool) *ProtocolPlan {
	s := p.Protocols
	if s == nil {
		return nil
	}
	pp := &ProtocolPlan{
		Description: s.Description,
		Server:      Merge(p.Server, s.Server),
		Load: load.Config{
			Concurrency: s.Concurrency,
			Duration:    s.Duration.D(),
			Warmup:      s.Warmup.D(),
			Timeout:     s.Timeout.D(),
			CacheSource: "X-Cache",
		},
		GRPCConnections: max(s.GRPCConnections, 1),
		ListLimit:       s.ListLimit,
		Keys:            s.Keys.IDs(),
		Sizes:           append([]ByteSize(nil), s.Sizes...),
	}
	if pp.ListLimit == 0 {
		pp.ListLimit = 10
	}
	for _, op := range s.Operations {
		pp.Operations = append(pp.Operations, string(op))
	}
	if q := s.Quick; quick && q != nil {
		if q.Concurrency != nil {
			pp.Load.Concurrency = *q.Concurrency
		}
		if q.Duration != nil {
			pp.Load.Duration = q.Duration.D()
		}
		if q.Warmup != nil {
			pp.Load.Warmup = q.Warmup.D()
		}
		if len(q.Sizes) > 0 {
			pp.Sizes = append([]ByteSize(nil), q.Sizes...)
		}
	}
	return pp
}

// Cells is the number of runs the plan makes: operations × sizes × 2
// protocols.
func (p ProtocolPlan) Cells() int { return len(p.Operations) * len(p.Sizes) * 2 }

// Length is the plan's total load time (warm-up included), without
// start-up and shutdown.
func (p ProtocolPlan) Length() time.Duration {
	return time.Duration(p.Cells()) * (p.Load.Duration + p.Load.Warmup)
}

func (p *Profile) validateProtocols() error {
	s := p.Protocols
	if s == nil {
		return nil
	}
	at := func(keys ...string) []string { return append([]string{"protocols"}, keys...) }
	if err := p.validateServer(s.Server, at("server")...); err != nil {
		return err
	}
	switch {
	case s.Concurrency <= 0:
		return p.errf(at("concurrency"), "must be > 0 (the section uses the closed model), got %d", s.Concurrency)
	case s.Duration <= 0:
		return p.errf(at("duration"), "must be > 0, like 5s")
	case s.GRPCConnections < 0:
		return p.errf(at("grpc_connections"), "must be >= 1, got %d", s.GRPCConnections)
	case s.ListLimit < 0 || s.ListLimit > MaxListLimit:
		return p.errf(at("list_limit"), "must be 1..%d, got %d", MaxListLimit, s.ListLimit)
	case len(s.Operations) == 0:
		return p.errf(at(), "needs at least one entry under operations (%s)", strings.Join(ProtocolOps, ", "))
	case len(s.Sizes) == 0:
		return p.errf(at(), "needs at least one entry under sizes, like [1KB, 1MB]")
	}
	if err := p.validateKeys(s.Keys, at("keys")...); err != nil {
		return err
	}
	seen := map[Enum]bool{}
	for i, op := range s.Operations {
		switch {
		case !oneOf(string(op), ProtocolOps):
			return p.errf(at("operations", strconv.Itoa(i)), "%q is not one of %s", string(op), strings.Join(ProtocolOps, ", "))
		case seen[op]:
			return p.errf(at("operations", strconv.Itoa(i)), "duplicate operation %q", string(op))
		}
		seen[op] = true
	}
	limit := s.ListLimit
	if limit == 0 {
		limit = 10
	}
	checkSizes := func(sizes []ByteSize, path ...string) error {
		for i, b := range sizes {
			switch {
			case b <= 0 || b > MaxPadBytes:
				return p.errf(append(path, strconv.Itoa(i)), "%s must be 1B..4MiB (the servers' pad cap)", b)
			case seen[OpList] && int(b) < limit:
				return p.errf(append(path, strconv.Itoa(i)), "%s is less than one byte per product of a %d-product list", b, limit)
			}
		}
		return nil
	}
	if err := checkSizes(s.Sizes, at("sizes")...); err != nil {
		return err
	}
	if q := s.Quick; q != nil {
		switch {
		case q.Concurrency != nil && *q.Concurrency <= 0:
			return p.errf(at("quick", "concurrency"), "must be > 0")
		case q.Duration != nil && *q.Duration <= 0:
			return p.errf(at("quick", "duration"), "must be > 0")
		}
		if err := checkSizes(q.Sizes, at("quick", "sizes")...); err != nil {
			return err
		}
	}
	return nil
}

// String describes the plan in one line.
func (p ProtocolPlan) String() string {
	var sizes []string
	for _, s := range p.Sizes {
		sizes = append(sizes, s.String())
	}
	return fmt.Sprintf("%s × %s × REST, gRPC: %d cells, closed model with %d workers, %v each (+%v warm-up)",
		strings.Join(p.Operations, ", "), strings.Join(sizes, ", "), p.Cells(), p.Load.Concurrency, p.Load.Duration, p.Load.Warmup)
}
