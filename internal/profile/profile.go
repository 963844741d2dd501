package profile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Profile is a parsed profile file. Field comments give the YAML keys.
type Profile struct {
	// Version is the format version; must be 1.
	Version int `yaml:"version"`
	// Name labels the comparison in reports.
	Name string `yaml:"name"`
	// Description says what the comparison shows.
	Description string `yaml:"description"`
	// Server holds the server settings shared by every variant.
	Server Server `yaml:"server"`
	// Workload is the load every variant gets.
	Workload Workload `yaml:"workload"`
	// Quick overrides parts of the workload for a short run (--quick).
	Quick *Quick `yaml:"quick"`
	// Variants are the server configurations compared, in report order.
	Variants []Variant `yaml:"variants"`
	// Protocols, when present, compares REST/JSON and gRPC/protobuf over
	// one server stack (protocols.go). Optional.
	Protocols *Protocols `yaml:"protocols"`
	// GraphQL, when present, is the demo's REST-vs-GraphQL page and N+1
	// section (sections.go). Optional.
	GraphQL *GraphQL `yaml:"graphql"`
	// Realtime, when present, is the demo's ticker-over-every-transport and
	// chat section (sections.go). Optional.
	Realtime *Realtime `yaml:"realtime"`

	file string
	root *yaml.Node
}

// Server is a reference server's configuration. Nil fields inherit (from
// the profile's server section, then the server's own defaults).
type Server struct {
	// Cache is none, lru, tinylfu or redis.
	Cache *Enum `yaml:"cache"`
	// Strategy is aside, write-through or write-behind.
	Strategy *Enum `yaml:"strategy"`
	// TTL is the cache entry lifetime.
	TTL *Duration `yaml:"ttl"`
	// MaxAge is the HTTP Cache-Control max-age (0: no-cache).
	MaxAge *Duration `yaml:"max_age"`
	// StoreLatency is the slow store's per-call cost.
	StoreLatency *Duration `yaml:"store_latency"`
	// StorePool is the slow store's connection pool size.
	StorePool *int `yaml:"store_pool"`
	// Dataset is small, medium or large.
	Dataset *Enum `yaml:"dataset"`
	// Seed seeds the dataset.
	Seed *int64 `yaml:"seed"`
}

// Workload is the load driven at every variant.
type Workload struct {
	// Rate is the open model's total operations per second.
	Rate float64 `yaml:"rate"`
	// Concurrency is the closed model's number of workers.
	Concurrency int `yaml:"concurrency"`
	// Duration is the measured phase.
	Duration Duration `yaml:"duration"`
	// Warmup runs before the measured phase, unrecorded.
	Warmup Duration `yaml:"warmup"`
	// MaxInflight caps concurrent operations in the open model (0: the
	// engine's default).
	MaxInflight int `yaml:"max_inflight"`
	// Timeout bounds one operation (0: the engine's default).
	Timeout Duration `yaml:"timeout"`
	// Keys generates the entity ids the operations address ({{.id}} in
	// templates), one row per operation in sequence order.
	Keys Keys `yaml:"keys"`
	// Operations are the kinds of request, mixed by weight.
	Operations []Operation `yaml:"operations"`
}

// Keys describes the id sequence: Rows ids drawn once from the
// distribution with Seed, used round-robin by operation sequence number, so
// every variant sees exactly the same sequence of ids.
type Keys struct {
	// Distribution is zipf (default) or uniform.
	Distribution Enum `yaml:"distribution"`
	// S and V are the Zipf parameters: P(k) ∝ (V + k - 1)^-S, S > 1, V >= 1.
	// Defaults 1.1 and 1.
	S float64 `yaml:"s"`
	V float64 `yaml:"v"`
	// N is the largest id (ids are 1..N). Required.
	N int `yaml:"n"`
	// Rows is the length of the sequence before it repeats. Default 10000.
	Rows int `yaml:"rows"`
	// Seed seeds the draw. Default 0.
	Seed int64 `yaml:"seed"`
}

// Operation is one kind of request in the mix.
type Operation struct {
	// Name labels the operation ("read", "write").
	Name string `yaml:"name"`
	// Weight is the operation's share of the mix, relative to the others.
	Weight int `yaml:"weight"`
	// Method is the HTTP method (default GET).
	Method string `yaml:"method"`
	// Path is the request path template, e.g. /api/products/{{zipf 1.1 1 1000}}.
	Path string `yaml:"path"`
	// Body is the request body template.
	Body string `yaml:"body"`
	// Headers are "Name: value" lines (templates).
	Headers []string `yaml:"headers"`
	// Auth adds the bearer token from logging in once before the run.
	Auth bool `yaml:"auth"`
	// Revalidate makes the operation's clients remember each URL's ETag
	// and Last-Modified and send them back (If-None-Match,
	// If-Modified-Since) when the variant revalidates (the HTTP caching
	// variant). GET and HEAD only.
	Revalidate bool `yaml:"revalidate"`
}

// Quick overrides the workload for --quick.
type Quick struct {
	Rate        *float64  `yaml:"rate"`
	Concurrency *int      `yaml:"concurrency"`
	Duration    *Duration `yaml:"duration"`
	Warmup      *Duration `yaml:"warmup"`
}

// Variant is one server configuration in the comparison.
type Variant struct {
	// Name labels the variant in the table and names its result file.
	Name string `yaml:"name"`
	// Description is one line on what the variant is.
	Description string `yaml:"description"`
	// Server overrides the profile's server settings.
	Server Server `yaml:",inline"`
	// Revalidate makes clients send conditional requests (If-None-Match
	// with the ETag they last saw) for operations marked revalidate.
	Revalidate bool `yaml:"revalidate"`
}

// Duration is a time.Duration written as "2ms", "10s" (or 0).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return lineErr(n, "%q is not a duration like 500ms, 10s or 2m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Enum is a string restricted to the values its key allows; the allowed
// values are checked by Validate, which knows the key.
type Enum string

func lineErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// Allowed values of the enums.
var (
	Caches     = []string{"none", "lru", "tinylfu", "redis"}
	Strategies = []string{"aside", "write-through", "write-behind"}
	Datasets   = []string{"small", "medium", "large"}
)

// Load reads and validates a profile file.
func Load(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(filepath.Base(path), b)
}

// Parse parses and validates a profile; file names it in errors.
func Parse(file string, data []byte) (*Profile, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fileErr(file, err)
	}
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: the profile is empty", file)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p := &Profile{file: file, root: &root}
	if err := dec.Decode(p); err != nil {
		return nil, fileErr(file, err)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// fileErr rewrites yaml.v3 errors ("yaml: unmarshal errors: line 5: ...")
// as "file:5: ..." lines.
func fileErr(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var lines []string
		for _, e := range te.Errors {
			if m := lineRe.FindStringSubmatch(e); m != nil {
				msg := m[2]
				msg = strings.Replace(msg, "field ", "unknown key ", 1)
				msg = strings.Replace(msg, " not found in type profile.", " in ", 1)
				lines = append(lines, file+":"+m[1]+": "+msg)
			} else {
				lines = append(lines, file+": "+e)
			}
		}
		return errors.New(strings.Join(lines, "; "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s", file, m[1], m[2])
	}
	return fmt.Errorf("%s: %s", file, msg)
}

// at returns "file:line: " for the key at path (mapping keys and sequence
// indexes as decimal strings), or "file: " when the path does not exist.
func (p *Profile) at(path ...string) string {
	n := p.root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, k := range path {
		if n == nil {
			break
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(n.Content) {
				n = nil
				break
			}
			n = n.Content[i]
			line = n.Line
		default:
			n = nil
		}
	}
	if line == 0 {
		return p.file + ": "
	}
	return fmt.Sprintf("%s:%d: ", p.file, line)
}

func (p *Profile) errf(path []string, format string, args ...any) error {
	return errors.New(p.at(path...) + strings.Join(path, ".") + ": " + fmt.Sprintf(format, args...))
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (p *Profile) validateServer(s Server, path ...string) error {
	check := func(e *Enum, key string, allowed []string) error {
		if e != nil && !oneOf(string(*e), allowed) {
			return p.errf(append(path, key), "%q is not one of %s", string(*e), strings.Join(allowed, ", "))
		}
		return nil
	}
	if err := check(s.Cache, "cache", Caches); err != nil {
		return err
	}
	if err := check(s.Strategy, "strategy", Strategies); err != nil {
		return err
	}
	if err := check(s.Dataset, "dataset", Datasets); err != nil {
		return err
	}
	if s.StorePool != nil && (*s.StorePool < -1 || *s.StorePool == 0) { // 0 would silently be unbounded
		return p.errf(append(path, "store_pool"), "must be >= 1 (or -1 for unbounded), got %d", *s.StorePool)
	}
	return nil
}

// validateKeys checks a keys section found at path.
func (p *Profile) validateKeys(k Keys, path ...string) error {
	at := func(key string) []string { return append(append([]string(nil), path...), key) }
	switch {
	case k.Distribution != "" && k.Distribution != "zipf" && k.Distribution != "uniform":
		return p.errf(at("distribution"), "%q is not one of zipf, uniform", string(k.Distribution))
	case k.N <= 0:
		return p.errf(path, "n (the largest id) must be > 0, got %d", k.N)
	case k.Rows < 0:
		return p.errf(at("rows"), "must be > 0, got %d", k.Rows)
	case k.S != 0 && (k.S <= 1 || math.IsNaN(k.S) || math.IsInf(k.S, 0)):
		return p.errf(at("s"), "the Zipf exponent must be > 1, got %v", k.S)
	case k.V != 0 && (k.V < 1 || math.IsNaN(k.V) || math.IsInf(k.V, 0)):
		return p.errf(at("v"), "must be >= 1, got %v", k.V)
	}
	return nil
}

func (p *Profile) validate() error {
	if p.Version != 1 {
		return p.errf([]string{"version"}, "must be 1, got %d", p.Version)
	}
	if err := p.validateServer(p.Server, "server"); err != nil {
		return err
	}
	w := p.Workload
	switch {
	case math.IsNaN(w.Rate) || math.IsInf(w.Rate, 0) || w.Rate < 0:
		return p.errf([]string{"workload", "rate"}, "must be a number of operations per second > 0")
	case w.Concurrency < 0:
		return p.errf([]string{"workload", "concurrency"}, "must be > 0, got %d", w.Concurrency)
	case w.Rate > 0 && w.Concurrency > 0:
		return p.errf([]string{"workload", "concurrency"}, "both rate and concurrency are set: choose the open model (rate) or the closed model (concurrency)")
	case w.Rate == 0 && w.Concurrency == 0:
		return p.errf([]string{"workload"}, "set a rate (open model) or a concurrency (closed model)")
	case w.Duration <= 0:
		return p.errf([]string{"workload", "duration"}, "must be > 0, like 10s")
	case w.MaxInflight < 0:
		return p.errf([]string{"workload", "max_inflight"}, "must be > 0, got %d", w.MaxInflight)
	case len(w.Operations) == 0:
		return p.errf([]string{"workload"}, "needs at least one entry under operations")
	}
	if err := p.validateKeys(w.Keys, "workload", "keys"); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, op := range w.Operations {
		path := []string{"workload", "operations", strconv.Itoa(i)}
		switch {
		case op.Name == "":
			return p.errf(path, "needs a name")
		case names[op.Name]:
			return p.errf(append(path, "name"), "duplicate operation name %q", op.Name)
		case op.Weight <= 0:
			return p.errf(append(path, "weight"), "must be > 0, got %d", op.Weight)
		case !strings.HasPrefix(op.Path, "/"):
			return p.errf(append(path, "path"), "must start with /, got %q", op.Path)
		}
		switch op.Method {
		case "", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
		default:
			return p.errf(append(path, "method"), "%q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", op.Method)
		}
		if op.Revalidate && op.Method != "" && op.Method != "GET" && op.Method != "HEAD" {
			return p.errf(append(path, "revalidate"), "applies to GET and HEAD, not %s", op.Method)
		}
		for j, h := range op.Headers {
			if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
				return p.errf(append(path, "headers", strconv.Itoa(j)), "%q is not a \"Name: value\" header", h)
			}
		}
		names[op.Name] = true
	}
	if q := p.Quick; q != nil {
		switch {
		case q.Rate != nil && (*q.Rate <= 0 || math.IsNaN(*q.Rate) || math.IsInf(*q.Rate, 0)):
			return p.errf([]string{"quick", "rate"}, "must be > 0")
		case q.Rate != nil && w.Concurrency > 0:
			return p.errf([]string{"quick", "rate"}, "the workload uses concurrency (closed model); override concurrency instead")
		case q.Concurrency != nil && (*q.Concurrency <= 0 || w.Rate > 0):
			return p.errf([]string{"quick", "concurrency"}, "must be > 0 and only overrides a closed-model workload")
		case q.Duration != nil && *q.Duration <= 0:
			return p.errf([]string{"quick", "duration"}, "must be > 0")
		}
	}
	if len(p.Variants) == 0 {
		return p.errf([]string{"variants"}, "needs at least one variant")
	}
	vnames := map[string]bool{}
	for i, v := range p.Variants {
		path := []string{"variants", strconv.Itoa(i)}
		switch {
		case !variantName.MatchString(v.Name):
			return p.errf(append(path, "name"), "%q must be 1-40 letters, digits, '-' or '_' (it names a result file)", v.Name)
		case vnames[v.Name]:
			return p.errf(append(path, "name"), "duplicate variant name %q", v.Name)
		}
		vnames[v.Name] = true
		if err := p.validateServer(v.Server, path...); err != nil {
			return err
		}
	}
	if err := p.validateProtocols(); err != nil {
		return err
	}
	if err := p.validateGraphQL(); err != nil {
		return err
	}
	return p.validateRealtime()
}

var variantName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
