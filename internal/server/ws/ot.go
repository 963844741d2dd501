package ws

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Op is one primitive edit of a plain-text document, positions in
// characters (runes): insert Ins at Pos, or delete Del characters from Pos.
// Exactly one of Ins and Del is set.
type Op struct {
	Pos int
	Ins string
	Del int
}

func (o Op) insLen() int { return utf8.RuneCountInString(o.Ins) }

// Transform rewrites a (made on the same document as b) so it applies after
// b. aFirst says which of the two the server ordered first: when both insert
// at one position, the one ordered first stays left. The result is a
// sequence: a delete whose range b inserted into splits in two, and a delete
// of text b already deleted vanishes.
//
// Transform satisfies TP1: applying b then Transform(a, b, f) gives the
// same text as applying a then Transform(b, a, !f) — the property that makes
// the server and every client converge.
func Transform(a, b Op, aFirst bool) []Op {
	switch {
	case a.Ins != "" && b.Ins != "":
		if a.Pos < b.Pos || (a.Pos == b.Pos && aFirst) {
			return []Op{a}
		}
		a.Pos += b.insLen()
		return []Op{a}
	case a.Ins != "": // b deletes
		switch {
		case a.Pos <= b.Pos:
		case a.Pos >= b.Pos+b.Del:
			a.Pos -= b.Del
		default:
			a.Pos = b.Pos
		}
		return []Op{a}
	case b.Ins != "": // a deletes, b inserts
		l := b.insLen()
		switch {
		case b.Pos <= a.Pos:
			a.Pos += l
			return []Op{a}
		case b.Pos >= a.Pos+a.Del:
			return []Op{a}
		default: // b inserted inside a's range: keep b's text, delete around it
			first := b.Pos - a.Pos
			return []Op{{Pos: a.Pos, Del: first}, {Pos: a.Pos + l, Del: a.Del - first}}
		}
	default: // both delete: a loses what b already deleted
		as, ae, bs, be := a.Pos, a.Pos+a.Del, b.Pos, b.Pos+b.Del
		keep := max(0, min(ae, bs)-as) + max(0, ae-max(as, be))
		if keep == 0 {
			return nil
		}
		start := as
		if as >= bs {
			start = bs
			if as >= be {
				start = as - b.Del
			}
		}
		return []Op{{Pos: start, Del: keep}}
	}
}

// TransformSeq transforms the sequences a and b, both made on one document,
// past each other: a2 applies after b, b2 after a. aFirst is as in
// Transform.
func TransformSeq(a, b []Op, aFirst bool) (a2, b2 []Op) {
	if len(a) == 0 || len(b) == 0 {
		return a, b
	}
	if len(a) == 1 && len(b) == 1 {
		return Transform(a[0], b[0], aFirst), Transform(b[0], a[0], !aFirst)
	}
	if len(a) > 1 {
		x, bb := TransformSeq(a[:1], b, aFirst)
		y, bbb := TransformSeq(a[1:], bb, aFirst)
		return append(x, y...), bbb
	}
	aa, x := TransformSeq(a, b[:1], aFirst)
	aaa, y := TransformSeq(aa, b[1:], aFirst)
	return aaa, append(x, y...)
}

// Apply applies op to text; out-of-range positions are an error.
func Apply(text []rune, op Op) ([]rune, error) {
	if op.Pos < 0 || op.Pos > len(text) {
		return text, fmt.Errorf("position %d is outside the text (0..%d)", op.Pos, len(text))
	}
	if op.Ins != "" {
		ins := []rune(op.Ins)
		out := make([]rune, 0, len(text)+len(ins))
		out = append(out, text[:op.Pos]...)
		out = append(out, ins...)
		return append(out, text[op.Pos:]...), nil
	}
	if op.Del <= 0 || op.Pos+op.Del > len(text) {
		return text, fmt.Errorf("delete %d at %d runs past the text (%d characters)", op.Del, op.Pos, len(text))
	}
	return append(text[:op.Pos:op.Pos], text[op.Pos+op.Del:]...), nil
}

// Document limits.
const (
	// DefaultMaxDocChars caps a document's length in characters.
	DefaultMaxDocChars = 64 << 10
	// DefaultDocHistory is how many past revisions a document keeps to
	// transform stale ops over; an op older than that is a conflict.
	DefaultDocHistory = 1024
)

// errConflict is an op whose base revision is too old (or in the future).
var errConflict = errors.New("conflict")

// Doc is a server-ordered plain-text document: every applied op gets the
// next revision; an op made on an older revision is transformed over the
// ops applied since. Not safe for concurrent use (the docs registry holds a
// lock per document).
type Doc struct {
	text    []rune
	rev     int64
	hist    []Op // hist[i] produced revision base+i+1
	base    int64
	maxLen  int
	maxHist int
}

// NewDoc returns an empty document at revision 0.
func NewDoc(maxChars, history int) *Doc {
	if maxChars <= 0 {
		maxChars = DefaultMaxDocChars
	}
	if history <= 0 {
		history = DefaultDocHistory
	}
	return &Doc{maxLen: maxChars, maxHist: history}
}

// Rev is the current revision; Text the current text.
func (d *Doc) Rev() int64   { return d.rev }
func (d *Doc) Text() string { return string(d.text) }

// Submit transforms op (made on revision rev) over the ops applied since,
// applies the result and returns the applied primitive ops; the last of
// them has revision d.Rev(), the first d.Rev()-len(applied)+1. An op whose
// base revision is no longer kept, or newer than the document, returns an
// error wrapping errConflict; an op that does not fit the document returns
// another error and changes nothing.
func (d *Doc) Submit(rev int64, op Op) ([]Op, error) {
	ops, text, err := d.prepare(rev, op)
	if err != nil {
		return nil, err
	}
	d.commit(ops, text)
	return ops, nil
}

// prepare is Submit without the change: the transformed ops and the text
// after them. commit makes them the next revisions.
func (d *Doc) prepare(rev int64, op Op) ([]Op, []rune, error) {
	if rev > d.rev || rev < d.base {
		return nil, nil, fmt.Errorf("%w: revision %d is not between %d and %d; rejoin for a snapshot", errConflict, rev, d.base, d.rev)
	}
	if (op.Ins == "") == (op.Del == 0) || op.Del < 0 || op.Pos < 0 {
		return nil, nil, errors.New(`an op is {"rev","pos","insert":"..."} or {"rev","pos","delete":N}`)
	}
	ops := []Op{op}
	for _, h := range d.hist[rev-d.base:] {
		ops, _ = TransformSeq(ops, []Op{h}, false)
	}
	text := d.text
	grow := 0
	for _, o := range ops {
		grow += o.insLen() - o.Del
	}
	if len(text)+grow > d.maxLen {
		return nil, nil, fmt.Errorf("the document would exceed %d characters", d.maxLen)
	}
	var err error
	for _, o := range ops {
		if text, err = Apply(text, o); err != nil {
			return nil, nil, err
		}
	}
	return ops, text, nil
}

func (d *Doc) commit(ops []Op, text []rune) {
	d.text = text
	for _, o := range ops {
		d.hist = append(d.hist, o)
		d.rev++
	}
	if over := len(d.hist) - d.maxHist; over > 0 {
		d.hist = append(d.hist[:0:0], d.hist[over:]...)
		d.base += int64(over)
	}
}

// applyNext applies op, already ordered elsewhere (another node), as the
// next revision.
func (d *Doc) applyNext(op Op) error {
	text, err := Apply(d.text, op)
	if err != nil {
		return err
	}
	d.commit([]Op{op}, text)
	return nil
}

// reset makes the document text at revision rev with no history (loaded
// from a snapshot).
func (d *Doc) reset(rev int64, text string) {
	d.text, d.rev, d.base, d.hist = []rune(text), rev, rev, nil
}
