package ws

import (
	"math/rand/v2"
	"testing"
)

func mustApply(t testing.TB, text []rune, ops ...Op) []rune {
	t.Helper()
	for _, o := range ops {
		var err error
		if text, err = Apply(text, o); err != nil {
			t.Fatalf("apply %+v to %q: %v", o, string(text), err)
		}
	}
	return text
}

func randOp(r *rand.Rand, n int) Op {
	if n == 0 || r.IntN(2) == 0 {
		letters := []string{"a", "bc", "é", "日本", "xyz"}
		return Op{Pos: r.IntN(n + 1), Ins: letters[r.IntN(len(letters))]}
	}
	p := r.IntN(n)
	return Op{Pos: p, Del: 1 + r.IntN(n-p)}
}

// checkTP1 asserts Transform's convergence property for a and b on text.
func checkTP1(t testing.TB, text []rune, a, b Op) {
	t.Helper()
	a2, b2 := TransformSeq([]Op{a}, []Op{b}, true)
	x := mustApply(t, append([]rune(nil), text...), append([]Op{b}, a2...)...)
	y := mustApply(t, append([]rune(nil), text...), append([]Op{a}, b2...)...)
	if string(x) != string(y) {
		t.Fatalf("TP1 broken on %q: a=%+v b=%+v: b,a'=%q a,b'=%q (a'=%+v b'=%+v)", string(text), a, b, string(x), string(y), a2, b2)
	}
}

func TestTransformTP1(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		text := []rune("hello wörld"[:r.IntN(8)])
		checkTP1(t, text, randOp(r, len(text)), randOp(r, len(text)))
	}
}

func TestTransformCases(t *testing.T) {
	t.Parallel()
	// Two inserts at one position: the one applied first stays left.
	d := NewDoc(0, 0)
	if _, err := d.Submit(0, Op{Pos: 0, Ins: "ab"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(1, Op{Pos: 1, Ins: "X"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(1, Op{Pos: 1, Ins: "Y"}); err != nil { // stale: made on rev 1
		t.Fatal(err)
	}
	if d.Text() != "aXYb" || d.Rev() != 3 {
		t.Fatalf("text %q rev %d, want aXYb at 3", d.Text(), d.Rev())
	}
	// A delete around a concurrent insert keeps the insert (two ops).
	ops, err := d.Submit(1, Op{Pos: 0, Del: 2}) // deletes "ab" as of rev 1
	if err != nil {
		t.Fatal(err)
	}
	if d.Text() != "XY" || len(ops) != 2 || d.Rev() != 5 {
		t.Fatalf("text %q ops %+v rev %d, want XY from two deletes at rev 5", d.Text(), ops, d.Rev())
	}
	// Deleting what is already gone is a no-op, not an error.
	if ops, err := d.Submit(1, Op{Pos: 0, Del: 1}); err != nil || len(ops) != 0 || d.Text() != "XY" {
		t.Fatalf("stale delete: %+v %v %q", ops, err, d.Text())
	}
	if _, err := d.Submit(9, Op{Pos: 0, Ins: "z"}); err == nil {
		t.Fatal("future revision accepted")
	}
	if _, err := d.Submit(5, Op{Pos: 7, Ins: "z"}); err == nil {
		t.Fatal("out of range insert accepted")
	}
	if _, err := d.Submit(5, Op{Pos: 0}); err == nil {
		t.Fatal("empty op accepted")
	}
}

func TestDocHistoryBound(t *testing.T) {
	t.Parallel()
	d := NewDoc(10, 4)
	for i := range 6 {
		if _, err := d.Submit(int64(i), Op{Pos: 0, Ins: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Submit(1, Op{Pos: 0, Ins: "a"}); err == nil {
		t.Fatal("op older than the kept history accepted")
	}
	if _, err := d.Submit(6, Op{Pos: 0, Ins: "abcde"}); err == nil {
		t.Fatal("op past the length cap accepted")
	}
}

// simClient is an editor following the server protocol: one op in flight,
// later local edits buffered, server ops transformed over both.
type simClient struct {
	text        []rune
	rev         int64
	inflight    []Op // sent (as its first op), transformed since
	sentBase    int64
	buffer      []Op
	outstanding bool
}

func (c *simClient) edit(r *rand.Rand) {
	op := randOp(r, len(c.text))
	c.text = mustApplyNoT(c.text, op)
	c.buffer = append(c.buffer, op)
}

func mustApplyNoT(text []rune, op Op) []rune {
	out, err := Apply(text, op)
	if err != nil {
		panic(err)
	}
	return out
}

// next returns the op to send, if none is in flight.
func (c *simClient) next() (Op, int64, bool) {
	if c.outstanding || len(c.buffer) == 0 {
		return Op{}, 0, false
	}
	op := c.buffer[0]
	c.inflight, c.buffer = []Op{op}, c.buffer[1:]
	c.outstanding = true
	return op, c.rev, true
}

// serverOp applies an op another client made (server revision rev).
func (c *simClient) serverOp(op Op, rev int64) {
	s := []Op{op}
	c.inflight, s = TransformSeq(c.inflight, s, false)
	c.buffer, s = TransformSeq(c.buffer, s, false)
	for _, o := range s {
		c.text = mustApplyNoT(c.text, o)
	}
	c.rev = rev
}

func (c *simClient) ack(rev int64) {
	c.rev, c.inflight, c.outstanding = rev, nil, false
}

func TestSeededEditorsConverge(t *testing.T) {
	t.Parallel()
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		d := NewDoc(0, 0)
		const n = 4
		clients := make([]*simClient, n)
		inbox := make([][]simMsg, n) // server → client, FIFO
		type sub struct {
			from int
			op   Op
			rev  int64
		}
		var toServer []sub // client → server, FIFO per client (one queue keeps it)
		for i := range clients {
			clients[i] = &simClient{}
		}
		for step := 0; step < 400 || len(toServer) > 0 || anyPending(inbox) || anyLocal(clients); step++ {
			if step > 100000 {
				t.Fatal("no quiescence")
			}
			i := r.IntN(n)
			switch k := r.IntN(4); {
			case k == 0 && step < 400:
				clients[i].edit(r)
			case k == 1 && len(toServer) > 0:
				s := toServer[0]
				toServer = toServer[1:]
				applied, err := d.Submit(s.rev, s.op)
				if err != nil {
					t.Fatalf("seed %d: submit %+v@%d: %v", seed, s.op, s.rev, err)
				}
				first := d.Rev() - int64(len(applied)) + 1
				for j := range inbox {
					if j == s.from {
						continue
					}
					for k, o := range applied {
						inbox[j] = append(inbox[j], simMsg{op: o, rev: first + int64(k)})
					}
				}
				inbox[s.from] = append(inbox[s.from], simMsg{ack: true, rev: d.Rev()})
			case k == 2 && len(inbox[i]) > 0:
				m := inbox[i][0]
				inbox[i] = inbox[i][1:]
				if m.ack {
					clients[i].ack(m.rev)
				} else {
					clients[i].serverOp(m.op, m.rev)
				}
			default:
				if op, rev, ok := clients[i].next(); ok {
					toServer = append(toServer, sub{i, op, rev})
				}
			}
		}
		for i, c := range clients {
			if string(c.text) != d.Text() {
				t.Fatalf("seed %d: client %d has %q, server %q", seed, i, string(c.text), d.Text())
			}
		}
	}
}

type simMsg struct {
	ack bool
	op  Op
	rev int64
}

func anyPending(in [][]simMsg) bool {
	for _, q := range in {
		if len(q) > 0 {
			return true
		}
	}
	return false
}

func anyLocal(cs []*simClient) bool {
	for _, c := range cs {
		if c.outstanding || len(c.buffer) > 0 {
			return true
		}
	}
	return false
}

func FuzzTransform(f *testing.F) {
	f.Add("hello", 1, "ab", 0, 2, "", 3, true)
	f.Add("abc", 0, "", 3, 1, "x", 0, false)
	f.Fuzz(func(t *testing.T, s string, ap int, ai string, ad int, bp int, bi string, bd int, first bool) {
		text := []rune(s)
		if len(text) > 64 || len(ai) > 16 || len(bi) > 16 {
			return
		}
		mk := func(p int, ins string, del int) (Op, bool) {
			o := Op{Pos: p, Ins: ins}
			if ins == "" {
				o.Del = del
			}
			_, err := Apply(text, o)
			return o, err == nil && (o.Ins != "") != (o.Del != 0)
		}
		a, ok1 := mk(ap, ai, ad)
		b, ok2 := mk(bp, bi, bd)
		if !ok1 || !ok2 {
			return
		}
		a2, b2 := TransformSeq([]Op{a}, []Op{b}, first)
		x, err := applyAll(text, append([]Op{b}, a2...))
		if err != nil {
			t.Fatalf("b then a' fails: %v", err)
		}
		y, err := applyAll(text, append([]Op{a}, b2...))
		if err != nil {
			t.Fatalf("a then b' fails: %v", err)
		}
		if string(x) != string(y) {
			t.Fatalf("diverged: %q vs %q", string(x), string(y))
		}
	})
}

func applyAll(text []rune, ops []Op) ([]rune, error) {
	text = append([]rune(nil), text...)
	for _, o := range ops {
		var err error
		if text, err = Apply(text, o); err != nil {
			return nil, err
		}
	}
	return text, nil
}
