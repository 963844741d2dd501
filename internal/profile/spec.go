package profile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spec is a profile of the general format that `loadrig run`, `compare` and
// `profiles` read: named servers, variants (listed or as a matrix) and
// concurrent workloads whose options are the long flags of `loadrig serve
// KIND` and `loadrig load PROTOCOL`. ParseSpec reads it; Spec.Plan resolves
// one variant.
type Spec struct {
	// File names the profile in errors (a path or "NAME.yaml" for a built-in).
	File string
	// Name and Description come from the profile (Name defaults to the
	// file's base name).
	Name, Description string
	// Vars are the profile's variables, ${vars.NAME}, in file order.
	Vars []Var
	// Servers are the servers every variant starts, in file order.
	Servers []ServerSpec
	// Variants are the listed variants, or the matrix's product in axis
	// order; one variant named "default" when the profile has neither.
	Variants []VariantSpec
	// Workloads run concurrently against the variant's servers.
	Workloads []WorkloadSpec
	// Warmup is each workload's --warmup unless it sets its own. Default 0.
	Warmup time.Duration
	// Repeat is how many times each variant runs. Default 1.
	Repeat int
	// Thresholds are the profile's threshold expressions, unparsed (the
	// report package owns their grammar).
	Thresholds []Threshold
	// Source is the profile's text.
	Source []byte
}

// Var is one variable.
type Var struct {
	Name, Value string
	Pos         Pos
}

// Threshold is one threshold expression and where it was written.
type Threshold struct {
	Expr string
	Pos  Pos
}

// Option is one flag of a server or workload: its long name and its values
// (one per repetition of the flag: a YAML sequence repeats it).
type Option struct {
	Name   string
	Values []string
	// Pos is where the option's key is, ValuePos where its value is.
	Pos, ValuePos Pos
}

// ServerSpec is one server.
type ServerSpec struct {
	Name string
	// Kind is the `loadrig serve` subcommand: rest, graphql, grpc, ws, all.
	Kind    string
	Options []Option
	Pos     Pos
}

// WorkloadSpec is one workload.
type WorkloadSpec struct {
	Name string
	// Protocol is the `loadrig load` subcommand: http, grpc, graphql, ws.
	Protocol string
	// Target is the command's argument, with ${...} unresolved.
	Target    string
	TargetPos Pos
	Options   []Option
	Pos       Pos
}

// VariantSpec is one variant: overrides of variables, server options and
// workload options.
type VariantSpec struct {
	Name, Description string
	Vars              []Var
	// Servers and Workloads map a server or workload name to the options
	// the variant sets on it.
	Servers   map[string][]Option
	Workloads map[string][]Option
	// Only, when set, names the workloads the variant runs (default all):
	// a protocol comparison runs one workload per variant.
	Only []string
	Pos  Pos
}

// Pos is a position in a profile file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is a problem in a profile, at a position.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Flags is the profile's view of the CLI's own flag definitions, so a
// profile and the command line cannot drift: section is "serve" or "load",
// kind a subcommand of it. internal/cli implements it over the real cobra
// commands.
type Flags interface {
	// Kinds lists the subcommands of section.
	Kinds(section string) []string
	// Lookup returns the type of section kind's long flag name ("bool",
	// "duration", "stringArray", ...); ok false when there is no such flag.
	Lookup(section, kind, name string) (typ string, ok bool)
	// Names lists section kind's long flag names.
	Names(section, kind string) []string
	// Check parses args (for "load", the target first) through the real
	// command and its validation, without running it. An *OptionError
	// names the flag at fault.
	Check(section, kind string, args []string) error
}

// OptionError is a Flags.Check failure that names the flag at fault
// (without dashes).
type OptionError struct {
	Flag string
	Err  error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// Reserved flags are set by `run` and `compare`, never by a profile.
var (
	reservedLoad  = []string{"output", "format", "quiet", "cpuprofile", "shard", "shard-by", "start-at", "name", "config", "threshold", "junit"}
	reservedServe = []string{"config"}
)

// serverAddrFlag reports whether a serve flag is a listen address, which
// run sets to 127.0.0.1:0.
func serverAddrFlag(name string) bool { return name == "addr" || strings.HasSuffix(name, "-addr") }

var nameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}$`) })

type specParser struct {
	file  string
	flags Flags
}

func (sp *specParser) pos(n *yaml.Node) Pos { return Pos{File: sp.file, Line: n.Line, Col: n.Column} }

func (sp *specParser) errf(n *yaml.Node, format string, args ...any) error {
	p := Pos{File: sp.file}
	if n != nil {
		p = sp.pos(n)
	}
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// ParseSpec parses and checks a profile; file names it in errors. With
// flags nil only the structure is checked (no option is checked against
// the commands). Every error is an *Error with the file, line and column.
func ParseSpec(file string, data []byte, flags Flags) (*Spec, error) {
	sp := &specParser{file: file, flags: flags}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErr(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{Pos: Pos{File: file}, Msg: "the profile is empty; it starts with version: 1"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, sp.errf(root, "a profile is a mapping of keys (version, name, servers, workloads, ...)")
	}
	s := &Spec{File: file, Repeat: 1, Source: data}
	keys := []string{"version", "name", "description", "vars", "servers", "variants", "matrix", "workloads", "warmup", "repeat", "thresholds"}
	var matrix, variants *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if err := sp.key(k, keys, "profile", seen); err != nil {
			return nil, err
		}
		var err error
		switch k.Value {
		case "version":
			if v.Kind != yaml.ScalarNode || v.Value != "1" {
				return nil, sp.errf(v, "version must be 1, got %q", v.Value)
			}
		case "name":
			s.Name, err = sp.name(v, "name")
		case "description":
			s.Description, err = sp.scalar(v, "description")
		case "vars":
			s.Vars, err = sp.vars(v)
		case "servers":
			s.Servers, err = sp.servers(v)
		case "variants":
			variants = v
		case "matrix":
			matrix = v
		case "workloads":
			s.Workloads, err = sp.workloads(v)
		case "warmup":
			s.Warmup, err = sp.duration(v, "warmup")
		case "repeat":
			s.Repeat, err = sp.posInt(v, "repeat", 1000)
		case "thresholds":
			s.Thresholds, err = sp.thresholds(v)
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["version"] {
		return nil, sp.errf(root, "missing version: 1 (the profile format's version)")
	}
	if len(s.Workloads) == 0 {
		return nil, sp.errf(root, "no workloads: add workloads: [{name, protocol, target, ...}]")
	}
	if s.Name == "" {
		base := file[strings.LastIndexAny(file, `/\`)+1:]
		s.Name = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	}
	var err error
	switch {
	case variants != nil && matrix != nil:
		return nil, sp.errf(matrix, "a profile has variants or a matrix, not both")
	case variants != nil:
		s.Variants, err = sp.variants(variants, s)
	case matrix != nil:
		s.Variants, err = sp.matrix(matrix, s)
	default:
		s.Variants = []VariantSpec{{Name: "default", Pos: sp.pos(root)}}
	}
	if err != nil {
		return nil, err
	}
	if err := s.check(sp); err != nil {
		return nil, err
	}
	return s, nil
}

func yamlErr(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRe().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: m[2]}
	}
	return &Error{Pos: Pos{File: file}, Msg: msg}
}

// key checks a mapping key: a known, unique scalar.
func (sp *specParser) key(k *yaml.Node, known []string, where string, seen map[string]bool) error {
	if k.Kind != yaml.ScalarNode {
		return sp.errf(k, "%s keys are names", where)
	}
	if !slices.Contains(known, k.Value) {
		return sp.errf(k, "unknown key %q in %s%s; expected one of %s", k.Value, where, didYouMean(k.Value, known), strings.Join(known, ", "))
	}
	if seen[k.Value] {
		return sp.errf(k, "duplicate key %q", k.Value)
	}
	seen[k.Value] = true
	return nil
}

func (sp *specParser) scalar(v *yaml.Node, what string) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", sp.errf(v, "%s must be a single value", what)
	}
	return v.Value, nil
}

func (sp *specParser) name(v *yaml.Node, what string) (string, error) {
	s, err := sp.scalar(v, what)
	if err == nil && !nameRe().MatchString(s) {
		err = sp.errf(v, "%s %q must be 1-40 letters, digits, '.', '-' or '_' (it names files)", what, s)
	}
	return s, err
}

func (sp *specParser) duration(v *yaml.Node, what string) (time.Duration, error) {
	s, err := sp.scalar(v, what)
	if err != nil {
		return 0, err
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, sp.errf(v, "%s %q is not a duration like 500ms, 10s or 2m", what, s)
	}
	return d, nil
}

func (sp *specParser) posInt(v *yaml.Node, what string, maxV int) (int, error) {
	s, err := sp.scalar(v, what)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxV {
		return 0, sp.errf(v, "%s must be a whole number from 1 to %d, got %q", what, maxV, s)
	}
	return n, nil
}

func (sp *specParser) mapping(v *yaml.Node, what string) error {
	if v.Kind != yaml.MappingNode {
		return sp.errf(v, "%s must be a mapping (key: value lines)", what)
	}
	return nil
}

func (sp *specParser) sequence(v *yaml.Node, what string) error {
	if v.Kind != yaml.SequenceNode {
		return sp.errf(v, "%s must be a list (- item lines)", what)
	}
	return nil
}

func (sp *specParser) vars(v *yaml.Node) ([]Var, error) {
	if err := sp.mapping(v, "vars"); err != nil {
		return nil, err
	}
	var out []Var
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		name, err := sp.name(k, "variable")
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, sp.errf(k, "duplicate variable %q", name)
		}
		seen[name] = true
		s, err := sp.scalar(val, "vars."+name)
		if err != nil {
			return nil, err
		}
		out = append(out, Var{Name: name, Value: s, Pos: sp.pos(val)})
	}
	return out, nil
}

// options reads a mapping of flag names to values, skipping the keys in
// skip (which the caller reads).
func (sp *specParser) options(v *yaml.Node, skip []string) ([]Option, error) {
	var out []Option
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, sp.errf(k, "option names are flag names like rate or store-latency")
		}
		if slices.Contains(skip, k.Value) {
			continue
		}
		if seen[k.Value] {
			return nil, sp.errf(k, "duplicate option %q", k.Value)
		}
		seen[k.Value] = true
		o := Option{Name: k.Value, Pos: sp.pos(k), ValuePos: sp.pos(val)}
		switch val.Kind {
		case yaml.ScalarNode:
			o.Values = []string{val.Value}
		case yaml.SequenceNode:
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, sp.errf(it, "option %s: list items must be single values", k.Value)
				}
				o.Values = append(o.Values, it.Value)
			}
			if len(o.Values) == 0 {
				return nil, sp.errf(val, "option %s: an empty list; drop the option instead", k.Value)
			}
		default:
			return nil, sp.errf(val, "option %s must be a value or a list of values (repeats the flag)", k.Value)
		}
		out = append(out, o)
	}
	return out, nil
}

func (sp *specParser) servers(v *yaml.Node) ([]ServerSpec, error) {
	if err := sp.mapping(v, "servers"); err != nil {
		return nil, err
	}
	var out []ServerSpec
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		name, err := sp.name(k, "server name")
		if err != nil {
			return nil, err
		}
		if strings.Contains(name, ".") {
			return nil, sp.errf(k, "server name %q: no '.' (${servers.%s.grpc} names one of its listeners)", name, strings.ReplaceAll(name, ".", "_"))
		}
		if slices.ContainsFunc(out, func(s ServerSpec) bool { return s.Name == name }) {
			return nil, sp.errf(k, "duplicate server %q", name)
		}
		if err := sp.mapping(val, "servers."+name); err != nil {
			return nil, err
		}
		srv := ServerSpec{Name: name, Pos: sp.pos(k)}
		var kindNode *yaml.Node
		for j := 0; j+1 < len(val.Content); j += 2 {
			if val.Content[j].Value == "kind" {
				kindNode = val.Content[j+1]
			}
		}
		if kindNode == nil {
			return nil, sp.errf(k, "server %s needs a kind: %s", name, strings.Join(sp.kinds("serve", []string{"rest", "graphql", "grpc", "ws", "all"}), ", "))
		}
		if srv.Kind, err = sp.kind(kindNode, "serve", []string{"rest", "graphql", "grpc", "ws", "all"}); err != nil {
			return nil, err
		}
		if srv.Options, err = sp.options(val, []string{"kind"}); err != nil {
			return nil, err
		}
		out = append(out, srv)
	}
	return out, nil
}

func (sp *specParser) kinds(section string, def []string) []string {
	if sp.flags != nil {
		return sp.flags.Kinds(section)
	}
	return def
}

func (sp *specParser) kind(v *yaml.Node, section string, def []string) (string, error) {
	s, err := sp.scalar(v, "kind")
	if err != nil {
		return "", err
	}
	known := sp.kinds(section, def)
	if !slices.Contains(known, s) {
		what := "server kind"
		if section == "load" {
			what = "protocol"
		}
		return "", sp.errf(v, "unknown %s %q%s; this build has %s", what, s, didYouMean(s, known), strings.Join(known, ", "))
	}
	return s, nil
}

func (sp *specParser) workloads(v *yaml.Node) ([]WorkloadSpec, error) {
	if err := sp.sequence(v, "workloads"); err != nil {
		return nil, err
	}
	var out []WorkloadSpec
	for _, w := range v.Content {
		if err := sp.mapping(w, "a workload"); err != nil {
			return nil, err
		}
		ws := WorkloadSpec{Pos: sp.pos(w)}
		var haveName, haveProto, haveTarget bool
		for j := 0; j+1 < len(w.Content); j += 2 {
			k, val := w.Content[j], w.Content[j+1]
			var err error
			switch k.Value {
			case "name":
				ws.Name, err = sp.name(val, "workload name")
				haveName = true
			case "protocol":
				ws.Protocol, err = sp.kind(val, "load", []string{"http", "grpc", "graphql", "ws"})
				haveProto = true
			case "target":
				ws.Target, err = sp.scalar(val, "target")
				ws.TargetPos = sp.pos(val)
				haveTarget = true
			}
			if err != nil {
				return nil, err
			}
		}
		switch {
		case !haveName:
			return nil, sp.errf(w, "a workload needs a name (it names its result files)")
		case !haveProto:
			return nil, sp.errf(w, "workload %s needs a protocol: %s", ws.Name, strings.Join(sp.kinds("load", []string{"http", "grpc"}), ", "))
		case !haveTarget:
			return nil, sp.errf(w, "workload %s needs a target, e.g. ${servers.api}/api/products/1", ws.Name)
		case slices.ContainsFunc(out, func(o WorkloadSpec) bool { return o.Name == ws.Name }):
			return nil, sp.errf(w, "duplicate workload name %q", ws.Name)
		}
		var err error
		if ws.Options, err = sp.options(w, []string{"name", "protocol", "target"}); err != nil {
			return nil, err
		}
		out = append(out, ws)
	}
	return out, nil
}

func (sp *specParser) thresholds(v *yaml.Node) ([]Threshold, error) {
	if err := sp.sequence(v, "thresholds"); err != nil {
		return nil, err
	}
	var out []Threshold
	for _, t := range v.Content {
		s, err := sp.scalar(t, "a threshold")
		if err != nil {
			return nil, err
		}
		out = append(out, Threshold{Expr: s, Pos: sp.pos(t)})
	}
	return out, nil
}

// overrides reads a variant's servers or workloads section: NAME: {options}.
func (sp *specParser) overrides(v *yaml.Node, what string, exists func(string) bool) (map[string][]Option, error) {
	if err := sp.mapping(v, what); err != nil {
		return nil, err
	}
	out := map[string][]Option{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !exists(k.Value) {
			return nil, sp.errf(k, "%s: no %s named %q in the profile", what, strings.TrimSuffix(what, "s"), k.Value)
		}
		if err := sp.mapping(val, what+"."+k.Value); err != nil {
			return nil, err
		}
		opts, err := sp.options(val, nil)
		if err != nil {
			return nil, err
		}
		out[k.Value] = opts
	}
	return out, nil
}

func (sp *specParser) variants(v *yaml.Node, s *Spec) ([]VariantSpec, error) {
	if err := sp.sequence(v, "variants"); err != nil {
		return nil, err
	}
	if len(v.Content) == 0 {
		return nil, sp.errf(v, "variants is empty; list at least one, or drop the key")
	}
	var out []VariantSpec
	for _, n := range v.Content {
		if err := sp.mapping(n, "a variant"); err != nil {
			return nil, err
		}
		vs := VariantSpec{Pos: sp.pos(n)}
		seen := map[string]bool{}
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, val := n.Content[j], n.Content[j+1]
			if err := sp.key(k, []string{"name", "description", "vars", "servers", "workloads", "only"}, "a variant", seen); err != nil {
				return nil, err
			}
			var err error
			switch k.Value {
			case "name":
				vs.Name, err = sp.name(val, "variant name")
			case "description":
				vs.Description, err = sp.scalar(val, "description")
			case "vars":
				vs.Vars, err = sp.vars(val)
			case "servers":
				vs.Servers, err = sp.overrides(val, "servers", func(name string) bool {
					return slices.ContainsFunc(s.Servers, func(x ServerSpec) bool { return x.Name == name })
				})
			case "only":
				if err = sp.sequence(val, "only"); err != nil {
					break
				}
				for _, it := range val.Content {
					if !slices.ContainsFunc(s.Workloads, func(x WorkloadSpec) bool { return x.Name == it.Value }) {
						return nil, sp.errf(it, "only: no workload named %q in the profile", it.Value)
					}
					vs.Only = append(vs.Only, it.Value)
				}
				if len(vs.Only) == 0 {
					return nil, sp.errf(val, "only is empty; list workload names or drop it")
				}
			case "workloads":
				vs.Workloads, err = sp.overrides(val, "workloads", func(name string) bool {
					return slices.ContainsFunc(s.Workloads, func(x WorkloadSpec) bool { return x.Name == name })
				})
			}
			if err != nil {
				return nil, err
			}
		}
		if vs.Name == "" {
			return nil, sp.errf(n, "a variant needs a name")
		}
		if slices.ContainsFunc(out, func(o VariantSpec) bool { return o.Name == vs.Name }) {
			return nil, sp.errf(n, "duplicate variant name %q", vs.Name)
		}
		out = append(out, vs)
	}
	return out, nil
}

// maxVariants bounds a matrix's product.
const maxVariants = 64

// matrix expands axes into variants named axis=value,axis=value (first axis
// slowest). Each axis sets ${vars.AXIS} and the server option of that name
// on every server whose kind has it; an axis must do one or the other.
func (sp *specParser) matrix(v *yaml.Node, s *Spec) ([]VariantSpec, error) {
	if err := sp.mapping(v, "matrix"); err != nil {
		return nil, err
	}
	type axis struct {
		name   string
		values []*yaml.Node
	}
	var axes []axis
	total := 1
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		name, err := sp.name(k, "matrix axis")
		if err != nil {
			return nil, err
		}
		if err := sp.sequence(val, "matrix."+name); err != nil {
			return nil, err
		}
		if len(val.Content) == 0 {
			return nil, sp.errf(val, "matrix axis %s has no values", name)
		}
		for _, it := range val.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, sp.errf(it, "matrix axis %s: values are single values", name)
			}
		}
		servesIt := slices.ContainsFunc(s.Servers, func(x ServerSpec) bool {
			if sp.flags == nil {
				return true
			}
			_, ok := sp.flags.Lookup("serve", x.Kind, name)
			return ok
		})
		if !servesIt && !strings.Contains(string(s.Source), "${vars."+name+"}") {
			return nil, sp.errf(k, "matrix axis %s is neither an option of a server here nor used as ${vars.%s}", name, name)
		}
		total *= len(val.Content)
		if total > maxVariants {
			return nil, sp.errf(k, "the matrix makes more than %d variants", maxVariants)
		}
		axes = append(axes, axis{name, val.Content})
	}
	if len(axes) == 0 {
		return nil, sp.errf(v, "matrix is empty")
	}
	out := []VariantSpec{{Pos: sp.pos(v)}}
	for _, a := range axes {
		var next []VariantSpec
		for _, base := range out {
			for _, val := range a.values {
				vs := VariantSpec{Pos: base.Pos, Vars: slices.Clone(base.Vars), Servers: map[string][]Option{}}
				for k, o := range base.Servers {
					vs.Servers[k] = slices.Clone(o)
				}
				if base.Name != "" {
					vs.Name = base.Name + ","
				}
				vs.Name += a.name + "=" + val.Value
				vs.Vars = append(vs.Vars, Var{Name: a.name, Value: val.Value, Pos: sp.pos(val)})
				for _, srv := range s.Servers {
					if sp.flags == nil {
						continue
					}
					if _, ok := sp.flags.Lookup("serve", srv.Kind, a.name); ok {
						vs.Servers[srv.Name] = append(vs.Servers[srv.Name], Option{Name: a.name, Values: []string{val.Value}, Pos: sp.pos(val), ValuePos: sp.pos(val)})
					}
				}
				next = append(next, vs)
			}
		}
		out = next
	}
	return out, nil
}

// check validates options against the commands' flags and every variant's
// plan.
func (s *Spec) check(sp *specParser) error {
	for _, t := range s.Thresholds {
		if strings.TrimSpace(t.Expr) == "" {
			return &Error{Pos: t.Pos, Msg: "an empty threshold; write METRIC OP VALUE, e.g. p99<50ms"}
		}
	}
	if sp.flags == nil {
		// Structure only: still resolve every variant's variables.
		for _, v := range s.Variants {
			if _, err := s.plan(v, nil, nil); err != nil {
				return err
			}
		}
		return nil
	}
	checkNames := func(section, kind string, opts []Option, reserved []string) error {
		for _, o := range opts {
			if slices.Contains(reserved, o.Name) || (section == "serve" && serverAddrFlag(o.Name)) {
				return &Error{Pos: o.Pos, Msg: fmt.Sprintf("option %s is set by loadrig run/compare, not by a profile", o.Name)}
			}
			if _, ok := sp.flags.Lookup(section, kind, o.Name); !ok {
				names := sp.flags.Names(section, kind)
				return &Error{Pos: o.Pos, Msg: fmt.Sprintf("unknown option %q for loadrig %s %s%s", o.Name, section, kind, didYouMean(o.Name, names))}
			}
		}
		return nil
	}
	for _, srv := range s.Servers {
		if err := checkNames("serve", srv.Kind, srv.Options, reservedServe); err != nil {
			return err
		}
	}
	for _, w := range s.Workloads {
		if err := checkNames("load", w.Protocol, w.Options, reservedLoad); err != nil {
			return err
		}
	}
	for _, v := range s.Variants {
		for name, opts := range v.Servers {
			if err := checkNames("serve", s.server(name).Kind, opts, reservedServe); err != nil {
				return err
			}
		}
		for name, opts := range v.Workloads {
			if err := checkNames("load", s.workload(name).Protocol, opts, reservedLoad); err != nil {
				return err
			}
		}
		p, err := s.plan(v, nil, sp.flags)
		if err != nil {
			return err
		}
		for _, srv := range p.Servers {
			args := slices.DeleteFunc(slices.Clone(srv.Args), func(a string) bool { return strings.Contains(a, "${env.") })
			if err := s.checkArgs(sp.flags, "serve", srv.Kind, args, srv.pos, v.Name); err != nil {
				return err
			}
		}
		for _, w := range p.Workloads {
			// An ${env.X} without a default is resolved when the plan runs;
			// its flag is checked then.
			args := []string{placeholders(w.Target, s)}
			for _, a := range w.Args {
				if !strings.Contains(a, "${env.") {
					args = append(args, placeholders(a, s))
				}
			}
			if err := s.checkArgs(sp.flags, "load", w.Protocol, args, w.pos, v.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Spec) checkArgs(flags Flags, section, kind string, args []string, pos map[string]Pos, variant string) error {
	err := flags.Check(section, kind, args)
	if err == nil {
		return nil
	}
	in := ""
	if len(s.Variants) > 1 {
		in = " (variant " + variant + ")"
	}
	var oe *OptionError
	if errors.As(err, &oe) {
		if p, ok := pos[oe.Flag]; ok {
			return &Error{Pos: p, Msg: oe.Err.Error() + in}
		}
	}
	return &Error{Pos: pos[""], Msg: err.Error() + in}
}

func (s *Spec) server(name string) ServerSpec {
	for _, x := range s.Servers {
		if x.Name == name {
			return x
		}
	}
	return ServerSpec{}
}

func (s *Spec) workload(name string) WorkloadSpec {
	for _, x := range s.Workloads {
		if x.Name == name {
			return x
		}
	}
	return WorkloadSpec{}
}

// VariantNames lists the variants in order.
func (s *Spec) VariantNames() []string {
	out := make([]string, len(s.Variants))
	for i, v := range s.Variants {
		out[i] = v.Name
	}
	return out
}

// didYouMean returns ` (did you mean "x"?)` for the closest known name
// within an edit distance of 2 (or a prefix), or "".
func didYouMean(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := editDistance(s, k)
		if strings.HasPrefix(k, s) && len(s) >= 3 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
