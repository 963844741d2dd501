package tmpl

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// RowMode says how an operation picks its data row.
type RowMode uint8

const (
	// RowRoundRobin picks row Seq mod len(rows): every row in turn, the same
	// row for the same Seq in every run.
	RowRoundRobin RowMode = iota
	// RowRandom picks a uniformly random row from the worker's RNG.
	RowRandom
)

// String returns "round-robin" or "random".
func (m RowMode) String() string {
	if m == RowRandom {
		return "random"
	}
	return "round-robin"
}

// ParseRowMode parses "round-robin" (also "rr", "seq", "") or "random".
func ParseRowMode(s string) (RowMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "round-robin", "roundrobin", "rr", "seq", "sequential":
		return RowRoundRobin, nil
	case "random", "rand":
		return RowRandom, nil
	}
	return 0, fmt.Errorf("bad row mode %q: expected round-robin or random", s)
}

// Env is what templates are compiled against: the optional data rows, how
// rows are chosen, and the base seed of every worker's RNG. Compile all
// templates before the run; Evaluators made from the Env then share the
// compiled templates read-only.
type Env struct {
	data *Data
	mode RowMode
	seed uint64

	mu    sync.Mutex
	zipfs []zipfParams // distinct zipf parameter sets, indexed by segment
}

type zipfParams struct {
	s, v float64
	n    uint64
}

// NewEnv returns an Env. data may be nil (then templates may not use row
// fields). seed is the base seed: worker w's RNG is seeded from (seed, w),
// so a run with the same seed and worker count renders the same values.
func NewEnv(data *Data, mode RowMode, seed uint64) *Env {
	return &Env{data: data, mode: mode, seed: seed}
}

// Data returns the Env's data rows (nil if none).
func (e *Env) Data() *Data { return e.data }

type segKind uint8

const (
	segLit segKind = iota
	segSeq
	segRandInt
	segZipf
	segUUID
	segField
)

type segment struct {
	kind segKind
	lit  string
	a    int64  // randInt low
	span uint64 // randInt: b-a+1 (0 = the full 64-bit range)
	idx  int    // zipf parameter index or field column
}

// Template is a compiled template. A source without actions compiles to a
// constant: Append then only copies it.
type Template struct {
	src   string
	segs  []segment
	konst bool
	usesR bool // uses the RNG
	usesD bool // uses a data row
}

// Source returns the text the template was compiled from.
func (t *Template) Source() string { return t.src }

// Const reports whether the template renders the same bytes on every
// evaluation, and returns them.
func (t *Template) Const() (string, bool) {
	if !t.konst {
		return "", false
	}
	if len(t.segs) == 0 {
		return "", true
	}
	return t.segs[0].lit, true
}

// UsesRand reports whether the template draws from the worker's RNG.
func (t *Template) UsesRand() bool { return t.usesR }

// UsesRow reports whether the template reads fields of the data row.
func (t *Template) UsesRow() bool { return t.usesD }

// CompileError is a template syntax or reference error with its position.
type CompileError struct {
	Src    string // the template text
	Offset int    // byte offset of the action ("{{") in Src, 0-based
	Msg    string
}

func (e *CompileError) Error() string {
	src := e.Src
	if len(src) > 80 {
		src = src[:77] + "..."
	}
	return fmt.Sprintf("template %q: at byte %d: %s", src, e.Offset+1, e.Msg)
}

// Compile parses src. Actions are {{.Seq}}, {{randInt a b}}, {{zipf s v n}},
// {{uuid}}, {{.Row.name}} / {{.name}} (a data field) and {{"text"}} (a
// quoted Go string literal, the way to write a literal "{{").
func (e *Env) Compile(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	off := 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.addLit(rest)
			break
		}
		t.addLit(rest[:i])
		actStart := off + i
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, &CompileError{src, actStart, `unclosed action: "{{" without "}}" (write {{"{{"}} for a literal "{{")`}
		}
		inner := rest[i+2 : i+2+j]
		if err := e.action(t, strings.TrimSpace(inner)); err != "" {
			return nil, &CompileError{src, actStart, err}
		}
		adv := i + 2 + j + 2
		rest = rest[adv:]
		off += adv
	}
	t.konst = true
	for _, s := range t.segs {
		if s.kind != segLit {
			t.konst = false
		}
	}
	return t, nil
}

// MustCompile is Compile for tests and constant sources; it panics on error.
func (e *Env) MustCompile(src string) *Template {
	t, err := e.Compile(src)
	if err != nil {
		panic(err)
	}
	return t
}

func (t *Template) addLit(s string) {
	if s == "" {
		return
	}
	if n := len(t.segs); n > 0 && t.segs[n-1].kind == segLit {
		t.segs[n-1].lit += s
		return
	}
	t.segs = append(t.segs, segment{kind: segLit, lit: s})
}

const knownActions = "{{.Seq}}, {{randInt a b}}, {{zipf s v n}}, {{uuid}}, {{.Row.field}}"

func (e *Env) action(t *Template, inner string) string {
	if inner == "" {
		return "empty action {{}}; want " + knownActions
	}
	if inner[0] == '"' || inner[0] == '`' {
		s, err := strconv.Unquote(inner)
		if err != nil {
			return fmt.Sprintf("bad string literal %s", inner)
		}
		t.addLit(s)
		return ""
	}
	if inner[0] == '-' || inner[len(inner)-1] == '-' {
		return "trim markers {{- -}} are not supported"
	}
	if inner[0] == '.' {
		return e.field(t, inner)
	}
	args := strings.Fields(inner)
	switch args[0] {
	case "uuid":
		if len(args) != 1 {
			return "uuid takes no arguments"
		}
		t.segs = append(t.segs, segment{kind: segUUID})
		t.usesR = true
	case "randInt":
		if len(args) != 3 {
			return fmt.Sprintf("randInt takes 2 integer arguments (randInt min max), got %d", len(args)-1)
		}
		a, err1 := strconv.ParseInt(args[1], 10, 64)
		b, err2 := strconv.ParseInt(args[2], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Sprintf("randInt arguments must be integers, got %q %q", args[1], args[2])
		}
		if a > b {
			return fmt.Sprintf("randInt %d %d: min is greater than max", a, b)
		}
		t.segs = append(t.segs, segment{kind: segRandInt, a: a, span: uint64(b) - uint64(a) + 1})
		t.usesR = true
	case "zipf":
		if len(args) != 4 {
			return fmt.Sprintf("zipf takes 3 arguments (zipf s v n: exponent s > 1, offset v >= 1, keys 1..n), got %d", len(args)-1)
		}
		s, err1 := strconv.ParseFloat(args[1], 64)
		v, err2 := strconv.ParseFloat(args[2], 64)
		n, err3 := strconv.ParseUint(args[3], 10, 64)
		switch {
		case err1 != nil || err2 != nil || err3 != nil:
			return fmt.Sprintf("zipf arguments must be numbers (s v) and a positive integer (n), got %q %q %q", args[1], args[2], args[3])
		case !(s > 1) || math.IsInf(s, 0):
			return fmt.Sprintf("zipf s must be > 1 (e.g. 1.1), got %s", args[1])
		case !(v >= 1) || math.IsInf(v, 0):
			return fmt.Sprintf("zipf v must be >= 1 (e.g. 1), got %s", args[2])
		case n < 1:
			return "zipf n must be at least 1 (keys are 1..n)"
		}
		t.segs = append(t.segs, segment{kind: segZipf, idx: e.zipfIndex(zipfParams{s, v, n})})
		t.usesR = true
	default:
		if strings.ContainsAny(args[0], "()|$") {
			return fmt.Sprintf("unsupported template syntax %q; want %s", inner, knownActions)
		}
		return fmt.Sprintf("unknown function %q; want %s", args[0], knownActions)
	}
	return ""
}

func (e *Env) field(t *Template, inner string) string {
	if strings.ContainsAny(inner, " \t\r\n") {
		return fmt.Sprintf("unexpected arguments after %s", strings.Fields(inner)[0])
	}
	name := inner[1:]
	if name == "Seq" {
		t.segs = append(t.segs, segment{kind: segSeq})
		return ""
	}
	if r, ok := strings.CutPrefix(name, "Row."); ok {
		name = r
	}
	if name == "" || name == "Row" {
		return fmt.Sprintf("%s: want .Seq or .Row.field", inner)
	}
	if e.data == nil {
		return fmt.Sprintf("field %s needs a data file (--data file.csv|file.jsonl)", inner)
	}
	col, ok := e.data.Column(name)
	if !ok {
		return fmt.Sprintf("unknown data field %q; %s has fields %s", name, e.data.Name, strings.Join(e.data.Columns, ", "))
	}
	t.segs = append(t.segs, segment{kind: segField, idx: col})
	t.usesD = true
	return ""
}

func (e *Env) zipfIndex(p zipfParams) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, q := range e.zipfs {
		if q == p {
			return i
		}
	}
	e.zipfs = append(e.zipfs, p)
	return len(e.zipfs) - 1
}

// Evaluator renders templates for one worker. It owns the worker's RNG and
// zipf generators, so it must not be shared between goroutines.
type Evaluator struct {
	env   *Env
	src   rand.PCG
	rng   *rand.Rand
	zipfs []*rand.Zipf
	seq   uint64
	row   []string
}

// NewEvaluator returns worker's Evaluator. Its RNG is PCG seeded from the
// Env's seed and the worker id, so runs are reproducible.
func (e *Env) NewEvaluator(worker int) *Evaluator {
	ev := &Evaluator{env: e}
	ev.src.Seed(splitmix(e.seed), splitmix(e.seed^splitmix(uint64(worker)+0x9e3779b97f4a7c15)))
	ev.rng = rand.New(&ev.src)
	ev.syncZipfs()
	ev.Begin(0)
	return ev
}

func (ev *Evaluator) syncZipfs() {
	ev.env.mu.Lock()
	defer ev.env.mu.Unlock()
	for i := len(ev.zipfs); i < len(ev.env.zipfs); i++ {
		p := ev.env.zipfs[i]
		ev.zipfs = append(ev.zipfs, rand.NewZipf(ev.rng, p.s, p.v, p.n-1))
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Begin starts operation seq: it sets {{.Seq}} and picks the data row that
// every template of this operation (URL, headers, body) reads from.
func (ev *Evaluator) Begin(seq uint64) {
	ev.seq = seq
	if d := ev.env.data; d != nil {
		n := uint64(len(d.Rows))
		if ev.env.mode == RowRandom {
			ev.row = d.Rows[ev.rng.Uint64N(n)]
		} else {
			ev.row = d.Rows[seq%n]
		}
	}
}

// Seq returns the sequence number set by Begin.
func (ev *Evaluator) Seq() uint64 { return ev.seq }

// Rand returns the worker's RNG (for drivers that need more randomness from
// the same reproducible stream).
func (ev *Evaluator) Rand() *rand.Rand { return ev.rng }

// Append renders t for the current operation and appends it to dst. It does
// not allocate once dst has room.
func (ev *Evaluator) Append(dst []byte, t *Template) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		switch s.kind {
		case segLit:
			dst = append(dst, s.lit...)
		case segSeq:
			dst = strconv.AppendUint(dst, ev.seq, 10)
		case segRandInt:
			var u uint64
			if s.span == 0 {
				u = ev.rng.Uint64()
			} else {
				u = ev.rng.Uint64N(s.span)
			}
			dst = strconv.AppendInt(dst, s.a+int64(u), 10)
		case segZipf:
			if s.idx >= len(ev.zipfs) {
				ev.syncZipfs() // template compiled after the Evaluator was made
			}
			dst = strconv.AppendUint(dst, ev.zipfs[s.idx].Uint64()+1, 10)
		case segUUID:
			dst = ev.appendUUID(dst)
		case segField:
			if ev.row != nil {
				dst = append(dst, ev.row[s.idx]...)
			}
		}
	}
	return dst
}

// appendUUID appends a random (version 4, RFC 9562) UUID from the worker's
// RNG: no crypto/rand read per operation, and reproducible from the seed.
func (ev *Evaluator) appendUUID(dst []byte) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], ev.rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], ev.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	dst = hex.AppendEncode(dst, b[0:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, b[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, b[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, b[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, b[10:16])
}
