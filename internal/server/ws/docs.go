package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/loadrig/loadrig/internal/domain"
)

// docs is the registry of /ws/docs/{id} documents. On its own a node
// orders a document's revisions by one lock. With a Cluster the order is
// the Cluster's (one sequencer per document across nodes): a node keeps a
// copy, transforms an op against it, and appends the result only if no
// other node appended first (compare and set on the revision); otherwise
// it catches up from the stored ops and transforms again. Applied ops
// reach the other nodes through the Feed (topic "doc/ID"), and any gap is
// filled from the store, so every node's copy follows one order.
type docs struct {
	s  *Server
	mu sync.Mutex
	m  map[string]*docState
}

type docState struct {
	id    string
	mu    sync.Mutex
	doc   *Doc
	conns map[*conn]struct{}
	// synced: the copy was loaded from the Cluster (Cluster only).
	synced bool
}

func newDocs(s *Server) *docs { return &docs{s: s, m: map[string]*docState{}} }

var errTooManyDocs = errors.New("too many documents")

// docTopicPrefix prefixes the Feed topic of a shared document's ops.
const docTopicPrefix = "doc/"

// docAppendTries bounds how often one op is transformed again after other
// nodes appended first.
const docAppendTries = 16

// docSnapshotEvery is how often (in revisions) a shared document's text is
// stored with its ops, so a node new to it loads a snapshot and at most
// this many ops.
const docSnapshotEvery = 64

func (d *docs) get(id string) (*docState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.m[id]
	if st == nil {
		if len(d.m) >= maxDocs {
			return nil, errTooManyDocs
		}
		st = &docState{id: id, doc: NewDoc(0, 0), conns: map[*conn]struct{}{}}
		d.m[id] = st
		if d.s.d.Cluster != nil {
			// Under connsMu, like a connection: Shutdown either waits for
			// this goroutine or it is never started.
			d.s.connsMu.Lock()
			if !d.s.closing.Load() {
				sub := d.s.subscribe(docTopicPrefix+id, hubBuffer)
				d.s.bgWG.Add(1)
				go func() { defer d.s.bgWG.Done(); d.follow(st, sub) }()
			}
			d.s.connsMu.Unlock()
		}
	}
	return st, nil
}

// follow applies the ops other nodes ordered, in revision order, until the
// server stops. A subscription the Feed dropped as slow is replaced; the
// gap is filled from the store on the next op.
func (d *docs) follow(st *docState, sub *domain.Subscription) {
	ctx := d.s.bgCtx
	for {
		select {
		case <-ctx.Done():
			sub.Close()
			return
		case <-sub.Done():
			sub = d.s.subscribe(docTopicPrefix+st.id, hubBuffer)
		case e := <-sub.C():
			if e.Origin == d.s.d.Node {
				continue // applied here already
			}
			st.mu.Lock()
			if st.synced {
				d.applyRemote(ctx, st, Entry{Seq: envelopeSeq(e.Data), Data: e.Data})
			}
			st.mu.Unlock()
		}
	}
}

// applyRemote applies one op envelope another node ordered (st.mu held):
// the next revision is applied and sent to this node's editors; an old one
// is skipped; a gap is filled from the store first.
func (d *docs) applyRemote(ctx context.Context, st *docState, e Entry) {
	switch {
	case e.Seq <= st.doc.Rev():
	case e.Seq > st.doc.Rev()+1:
		_ = d.catchUp(ctx, st)
	default:
		_ = d.applyNext(st, e)
	}
}

// applyNext applies the op envelope of the copy's next revision and sends
// it to this node's editors (st.mu held).
func (d *docs) applyNext(st *docState, e Entry) error {
	env, err := DecodeEnvelope(e.Data)
	var od opData
	if err == nil {
		err = json.Unmarshal(env.Data, &od)
	}
	if err == nil {
		err = st.doc.applyNext(Op{Pos: od.Pos, Ins: od.Insert, Del: od.Delete})
	}
	if err != nil {
		d.s.stats.clusterErrors.Add(1)
		return err
	}
	for c := range st.conns {
		c.send(e.Data)
	}
	return nil
}

var errDocDiverged = errors.New("a stored op does not apply to this node's copy")

// sync makes the copy current with the Cluster (st.mu held). The first
// time, a copy ahead of the store (Redis restarted empty) is put back into
// it. Errors are counted; the copy stays as it is.
func (d *docs) sync(ctx context.Context, st *docState) error {
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	if !st.synced {
		rev, _, _, err := d.s.d.Cluster.DocHead(ctx, st.id)
		if err != nil {
			d.s.stats.clusterErrors.Add(1)
			return err
		}
		if rev < st.doc.Rev() {
			if _, err := d.s.d.Cluster.DocSeed(ctx, st.id, st.doc.Rev(), d.snapshot(st)); err != nil {
				d.s.stats.clusterErrors.Add(1)
				return err
			}
		}
		st.synced = true
	}
	return d.catchUp(ctx, st)
}

// catchUp applies the stored ops after the copy's revision and sends them
// to this node's editors (st.mu held). When the store no longer has the
// next revision (trimmed), the copy restarts from the stored snapshot and
// the editors get it.
func (d *docs) catchUp(ctx context.Context, st *docState) error {
	for {
		es, err := d.s.d.Cluster.DocSince(ctx, st.id, st.doc.Rev(), maxBatch)
		if err != nil {
			d.s.stats.clusterErrors.Add(1)
			return err
		}
		if len(es) == 0 {
			return nil
		}
		if es[0].Seq != st.doc.Rev()+1 {
			if err := d.reload(ctx, st, es[0].Seq); err != nil {
				return err
			}
			continue
		}
		for _, e := range es {
			if e.Seq != st.doc.Rev()+1 {
				continue
			}
			if err := d.applyNext(st, e); err != nil {
				return errDocDiverged
			}
		}
	}
}

// reload restarts the copy from the stored snapshot (st.mu held), which
// must be newer than the copy and reach the stored ops (first: the oldest
// stored op; 0: none stored). The editors get the new snapshot.
func (d *docs) reload(ctx context.Context, st *docState, first int64) error {
	_, snapRev, snap, err := d.s.d.Cluster.DocHead(ctx, st.id)
	if err != nil {
		d.s.stats.clusterErrors.Add(1)
		return err
	}
	var sd snapshotData
	if json.Unmarshal(snap, &sd) != nil || sd.Rev != snapRev || snapRev <= st.doc.Rev() || (first > 0 && snapRev+1 < first) {
		d.s.stats.clusterErrors.Add(1)
		return errDocDiverged
	}
	st.doc.reset(sd.Rev, sd.Text)
	d.resnapshot(st)
	return nil
}

// appended reports whether envs are stored as the revisions after base
// (an append whose reply was lost).
func (d *docs) appended(ctx context.Context, st *docState, base int64, envs [][]byte) bool {
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	es, err := d.s.d.Cluster.DocSince(ctx, st.id, base, len(envs))
	if err != nil || len(es) != len(envs) {
		return false
	}
	for i, e := range es {
		if e.Seq != base+int64(i)+1 || !bytes.Equal(e.Data, envs[i]) {
			return false
		}
	}
	return true
}

type snapshotData struct {
	Rev  int64  `json:"rev"`
	Text string `json:"text"`
}

func (d *docs) snapshot(st *docState) []byte {
	return mustJSON(snapshotData{st.doc.Rev(), st.doc.Text()})
}

// resnapshot sends this node's editors a new snapshot (their copy was
// replaced).
func (d *docs) resnapshot(st *docState) {
	b := AppendEnvelope(nil, &Envelope{Type: TypeSnapshot, Room: st.id, STS: Micros(time.Now()), Data: d.snapshot(st)})
	for c := range st.conns {
		c.send(b)
	}
}

// opData is an op's data: {"rev","pos","insert"} or {"rev","pos","delete"}.
type opData struct {
	Rev    int64  `json:"rev"`
	Pos    int    `json:"pos"`
	Insert string `json:"insert,omitempty"`
	Delete int    `json:"delete,omitempty"`
}

// serveDoc is /ws/docs/{id}: a snapshot on join, then ops.
func (s *Server) serveDoc(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidRoom(id) {
		httpError(w, http.StatusBadRequest, "document id: 1-64 characters of A-Z a-z 0-9 _ . : -")
		return
	}
	st, err := s.docs.get(id)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "too many documents on this server")
		return
	}
	c := s.handshake(w, r, true, true)
	if c == nil {
		return
	}
	st.mu.Lock()
	if s.d.Cluster != nil {
		// The Cluster away: the joiner gets this node's copy, and edits
		// are refused until it is back.
		_ = s.docs.sync(c.ctx, st)
	}
	st.conns[c] = struct{}{}
	c.send(AppendEnvelope(nil, &Envelope{Type: TypeSnapshot, Room: id, STS: Micros(time.Now()), Data: s.docs.snapshot(st)}))
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.conns, c)
		st.mu.Unlock()
		c.finish()
	}()
	c.readLoop(func(e *Envelope) {
		if e.Type != TypeOp {
			c.fail(e.ID, CodeInvalid, "only op is sent on /ws/docs/{id}")
			return
		}
		var od opData
		if err := json.Unmarshal(e.Data, &od); err != nil || (od.Insert == "") == (od.Delete == 0) || !utf8.ValidString(od.Insert) {
			c.fail(e.ID, CodeInvalid, `op data is {"rev","pos","insert":"text"} or {"rev","pos","delete":N}`)
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		op := Op{Pos: od.Pos, Ins: od.Insert, Del: od.Delete}
		if s.d.Cluster != nil {
			s.docs.submitShared(c, st, e, od.Rev, op)
			return
		}
		applied, err := st.doc.Submit(od.Rev, op)
		if err != nil {
			c.fail(e.ID, opErrCode(err), err.Error())
			return
		}
		s.docs.broadcast(c, st, e.TS, s.docs.encode(st, st.doc.Rev()-int64(len(applied)), applied, e.TS))
		c.ack(e.ID, id, st.doc.Rev(), e.TS, mustJSON(map[string]int64{"rev": st.doc.Rev()}))
	})
}

func opErrCode(err error) string {
	if errors.Is(err, errConflict) {
		return CodeConflict
	}
	return CodeInvalid
}

// encode returns the op envelopes of ops applied after revision base.
func (d *docs) encode(st *docState, base int64, ops []Op, ts int64) [][]byte {
	sts := Micros(time.Now())
	out := make([][]byte, len(ops))
	for i, o := range ops {
		rev := base + int64(i) + 1
		out[i] = AppendEnvelope(nil, &Envelope{Type: TypeOp, Room: st.id, Seq: rev, TS: ts, STS: sts,
			Data: mustJSON(opData{Rev: rev, Pos: o.Pos, Insert: o.Ins, Delete: o.Del})})
	}
	return out
}

// broadcast sends op envelopes to this node's editors but the sender.
func (d *docs) broadcast(from *conn, st *docState, _ int64, envs [][]byte) {
	for _, b := range envs {
		for o := range st.conns {
			if o != from {
				o.send(b)
			}
		}
	}
}

// submitShared orders one op through the Cluster (st.mu held): transform
// against the copy, append on the copy's revision; when another node
// appended first, catch up and transform again.
func (d *docs) submitShared(c *conn, st *docState, e *Envelope, rev int64, op Op) {
	ctx := c.ctx
	if err := d.sync(ctx, st); err != nil {
		c.fail(e.ID, CodeConflict, "the document store is unavailable; send the op again later")
		return
	}
	for range docAppendTries {
		ops, text, err := st.doc.prepare(rev, op)
		if err != nil {
			c.fail(e.ID, opErrCode(err), err.Error())
			return
		}
		base := st.doc.Rev()
		envs := d.encode(st, base, ops, e.TS)
		var snapRev int64
		var snap []byte
		if head := base + int64(len(ops)); head/docSnapshotEvery > base/docSnapshotEvery {
			snapRev, snap = head, mustJSON(snapshotData{head, string(text)})
		}
		actx, cancel := context.WithTimeout(ctx, logTimeout)
		cur, ok, err := d.s.d.Cluster.DocAppend(actx, st.id, base, envs, snapRev, snap)
		cancel()
		if err != nil {
			// A timeout leaves the outcome unknown: the script may have run.
			// The store says which.
			d.s.stats.clusterErrors.Add(1)
			if !d.appended(ctx, st, base, envs) {
				st.synced = false // a later sync sees whatever did land
				c.fail(e.ID, CodeConflict, "the document store is unavailable; send the op again later")
				return
			}
			ok, cur = true, base+int64(len(envs))
		}
		if ok {
			st.doc.commit(ops, text)
			d.broadcast(c, st, e.TS, envs)
			for _, b := range envs {
				d.s.d.Feed.Publish(domain.Event{Topic: docTopicPrefix + st.id, Kind: TypeOp, Key: c.id, Data: b})
			}
			c.ack(e.ID, st.id, st.doc.Rev(), e.TS, mustJSON(map[string]int64{"rev": st.doc.Rev()}))
			return
		}
		if cur < base { // the store lost the document (Redis restarted empty)
			st.synced = false
		}
		err = d.sync(ctx, st)
		if err == nil && st.doc.Rev() < cur { // re-seeded by a node ahead of this copy
			rctx, cancel := context.WithTimeout(ctx, logTimeout)
			err = d.reload(rctx, st, 0)
			cancel()
		}
		if err != nil {
			c.fail(e.ID, CodeConflict, "the document store is unavailable; send the op again later")
			return
		}
	}
	c.fail(e.ID, CodeConflict, "the document is busy (other nodes kept appending first); send the op again")
}
