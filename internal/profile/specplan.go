package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// RunPlan is one variant of a Spec resolved for running: each server and
// workload as the arguments of its `loadrig serve KIND` or `loadrig load
// PROTOCOL` command. ${vars.X} and ${env.X} are resolved; ${servers.NAME}
// stays until Resolve is given the servers' addresses; {{...}} templates
// stay for the load commands to evaluate per operation.
type RunPlan struct {
	Profile string `json:"profile"`
	Variant string `json:"variant"`
	// Servers are started first, in order.
	Servers []ServerPlan `json:"servers"`
	// Workloads run concurrently.
	Workloads []WorkloadPlan `json:"workloads"`
	// Repeat is the profile's repeat.
	Repeat int `json:"repeat"`
	// Thresholds are the profile's threshold expressions.
	Thresholds []string `json:"thresholds,omitempty"`
}

// ServerPlan is one server: `loadrig serve Kind Args...` (the listen
// addresses are added by the runner).
type ServerPlan struct {
	Name string   `json:"name"`
	Kind string   `json:"kind"`
	Args []string `json:"args"`

	pos map[string]Pos // flag -> where its value is; "" -> the server
}

// WorkloadPlan is one workload: `loadrig load Protocol Target Args...`.
type WorkloadPlan struct {
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"`
	Target   string   `json:"target"`
	Args     []string `json:"args"`

	pos map[string]Pos
}

// Plan resolves variant (its name; "" the first) with getenv for
// ${env.X} (nil: every ${env.X} needs a default, ${env.X:-default}).
// flags (may be nil) lets on/off be written for boolean flags.
func (s *Spec) Plan(variant string, getenv func(string) string, flags Flags) (*RunPlan, error) {
	if variant == "" {
		return s.plan(s.Variants[0], getenv, flags)
	}
	for _, v := range s.Variants {
		if v.Name == variant {
			return s.plan(v, getenv, flags)
		}
	}
	return nil, fmt.Errorf("variant %q is not in profile %s; choose from %s", variant, s.Name, strings.Join(s.VariantNames(), ", "))
}

var refRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([a-z]+)\.([A-Za-z0-9_.-]*)(:-[^}]*)?\}`) })

// expand resolves ${vars.X} and ${env.X[:-default]} in val, and checks
// ${servers.NAME[.listener]} names a server.
func (s *Spec) expand(val string, at Pos, vars map[string]string, getenv func(string) string) (string, error) {
	var err error
	out := refRe().ReplaceAllStringFunc(val, func(m string) string {
		if err != nil {
			return m
		}
		sub := refRe().FindStringSubmatch(m)
		kind, name, def := sub[1], sub[2], sub[3]
		switch kind {
		case "vars":
			v, ok := vars[name]
			if !ok {
				names := make([]string, 0, len(vars))
				for k := range vars {
					names = append(names, k)
				}
				slices.Sort(names)
				err = &Error{Pos: at, Msg: fmt.Sprintf("${vars.%s}: no such variable%s; define it under vars:", name, didYouMean(name, names))}
				return m
			}
			return v
		case "env":
			v := ""
			if getenv != nil {
				v = getenv(name)
			}
			if v == "" && def != "" {
				v = def[2:]
			} else if v == "" {
				if getenv == nil {
					return m // checked when the plan runs
				}
				err = &Error{Pos: at, Msg: fmt.Sprintf("${env.%s}: the environment variable is not set; set it or write ${env.%s:-default}", name, name)}
				return m
			}
			return v
		case "servers":
			srv, _, _ := strings.Cut(name, ".")
			if !slices.ContainsFunc(s.Servers, func(x ServerSpec) bool { return x.Name == srv }) {
				names := make([]string, len(s.Servers))
				for i, x := range s.Servers {
					names[i] = x.Name
				}
				err = &Error{Pos: at, Msg: fmt.Sprintf("${servers.%s}: no server %q in the profile%s", name, srv, didYouMean(srv, names))}
			}
			return m
		}
		err = &Error{Pos: at, Msg: fmt.Sprintf("%s: unknown reference; use ${vars.X}, ${env.X} or ${servers.NAME}", m)}
		return m
	})
	return out, err
}

// merge returns base with every option of over replacing the one of the
// same name (or appended).
func mergeOptions(base, over []Option) []Option {
	out := slices.Clone(base)
	for _, o := range over {
		if i := slices.IndexFunc(out, func(b Option) bool { return b.Name == o.Name }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

func (s *Spec) args(section, kind string, opts []Option, vars map[string]string, getenv func(string) string, flags Flags) ([]string, map[string]Pos, error) {
	var args []string
	pos := map[string]Pos{}
	for _, o := range opts {
		pos[o.Name] = o.ValuePos
		typ := ""
		if flags != nil {
			typ, _ = flags.Lookup(section, kind, o.Name)
		}
		for _, v := range o.Values {
			v, err := s.expand(v, o.ValuePos, vars, getenv)
			if err != nil {
				return nil, nil, err
			}
			if typ == "bool" {
				switch strings.ToLower(v) {
				case "on", "yes":
					v = "true"
				case "off", "no":
					v = "false"
				}
			}
			args = append(args, "--"+o.Name+"="+v)
		}
	}
	return args, pos, nil
}

func (s *Spec) plan(v VariantSpec, getenv func(string) string, flags Flags) (*RunPlan, error) {
	vars := map[string]string{}
	for _, x := range s.Vars {
		val, err := s.expand(x.Value, x.Pos, vars, getenv)
		if err != nil {
			return nil, err
		}
		vars[x.Name] = val
	}
	for _, x := range v.Vars {
		val, err := s.expand(x.Value, x.Pos, vars, getenv)
		if err != nil {
			return nil, err
		}
		vars[x.Name] = val
	}
	p := &RunPlan{Profile: s.Name, Variant: v.Name, Repeat: s.Repeat}
	for _, t := range s.Thresholds {
		e, err := s.expand(t.Expr, t.Pos, vars, getenv)
		if err != nil {
			return nil, err
		}
		p.Thresholds = append(p.Thresholds, e)
	}
	for _, srv := range s.Servers {
		args, pos, err := s.args("serve", srv.Kind, mergeOptions(srv.Options, v.Servers[srv.Name]), vars, getenv, flags)
		if err != nil {
			return nil, err
		}
		pos[""] = srv.Pos
		p.Servers = append(p.Servers, ServerPlan{Name: srv.Name, Kind: srv.Kind, Args: args, pos: pos})
	}
	for _, w := range s.Workloads {
		if len(v.Only) > 0 && !slices.Contains(v.Only, w.Name) {
			continue
		}
		opts := mergeOptions(w.Options, v.Workloads[w.Name])
		if s.Warmup > 0 && !slices.ContainsFunc(opts, func(o Option) bool { return o.Name == "warmup" }) {
			opts = append(opts, Option{Name: "warmup", Values: []string{s.Warmup.String()}, Pos: w.Pos, ValuePos: w.Pos})
		}
		args, pos, err := s.args("load", w.Protocol, opts, vars, getenv, flags)
		if err != nil {
			return nil, err
		}
		target, err := s.expand(w.Target, w.TargetPos, vars, getenv)
		if err != nil {
			return nil, err
		}
		pos[""] = w.Pos
		p.Workloads = append(p.Workloads, WorkloadPlan{Name: w.Name, Protocol: w.Protocol, Target: target, Args: args, pos: pos})
	}
	return p, nil
}

// Hash identifies the plan: the same profile, variant, servers and
// workloads (before addresses are known) give the same hash, so results of
// shards and repetitions of one plan can be told from those of another.
func (p *RunPlan) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Resolve returns a copy of p with every ${servers.NAME} and
// ${servers.NAME.LISTENER} replaced from addrs (server name -> listener ->
// address; listener "" is the server's first).
func (p *RunPlan) Resolve(addrs map[string]map[string]string) (*RunPlan, error) {
	out := *p
	out.Workloads = nil
	var err error
	sub := func(s string) string {
		return refRe().ReplaceAllStringFunc(s, func(m string) string {
			sm := refRe().FindStringSubmatch(m)
			if sm[1] != "servers" {
				return m
			}
			srv, l, host := serverRef(sm[2])
			a, ok := addrs[srv][l]
			if !ok && err == nil {
				err = fmt.Errorf("%s: server %s has no listener %q", m, srv, l)
			}
			if host {
				a = hostPort(a)
			}
			return a
		})
	}
	for _, w := range p.Workloads {
		w.Target = sub(w.Target)
		w.Args = slices.Clone(w.Args)
		for i := range w.Args {
			w.Args[i] = sub(w.Args[i])
		}
		out.Workloads = append(out.Workloads, w)
	}
	return &out, err
}

// placeholders stands for ${servers.NAME...} while checking a profile
// before any server runs: an address of the form the server prints (gRPC
// listeners are host:port, the others URLs), on the discard port.
func placeholders(s string, spec *Spec) string {
	return refRe().ReplaceAllStringFunc(s, func(m string) string {
		sm := refRe().FindStringSubmatch(m)
		if sm[1] != "servers" {
			return m
		}
		srv, l, host := serverRef(sm[2])
		if host || l == "grpc" || (l == "" && spec.server(srv).Kind == "grpc") {
			return "127.0.0.1:9"
		}
		return "http://127.0.0.1:9"
	})
}

// serverRef splits NAME[.LISTENER][.host] of a ${servers...} reference.
// The .host suffix asks for the address's host:port alone (scheme and path
// dropped), e.g. ws://${servers.hub.host}/ws/chat.
func serverRef(ref string) (srv, listener string, host bool) {
	srv, listener, _ = strings.Cut(ref, ".")
	if listener == "host" {
		return srv, "", true
	}
	if l, ok := strings.CutSuffix(listener, ".host"); ok {
		return srv, l, true
	}
	return srv, listener, false
}

// hostPort strips a URL's scheme and path: http://127.0.0.1:5/x -> 127.0.0.1:5.
func hostPort(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	if i := strings.IndexAny(addr, "/?#"); i >= 0 {
		addr = addr[:i]
	}
	return addr
}
