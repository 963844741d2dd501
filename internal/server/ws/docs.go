package ws

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// docs is the registry of /ws/docs/{id} documents. A document lives on the
// node that holds it (its revisions are ordered by one lock); it is not
// shared across nodes.
type docs struct {
	s  *Server
	mu sync.Mutex
	m  map[string]*docState
}

type docState struct {
	mu    sync.Mutex
	doc   *Doc
	conns map[*conn]struct{}
}

func newDocs(s *Server) *docs { return &docs{s: s, m: map[string]*docState{}} }

var errTooManyDocs = errors.New("too many documents")

func (d *docs) get(id string) (*docState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.m[id]
	if st == nil {
		if len(d.m) >= maxDocs {
			return nil, errTooManyDocs
		}
		st = &docState{doc: NewDoc(0, 0), conns: map[*conn]struct{}{}}
		d.m[id] = st
	}
	return st, nil
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
	st.conns[c] = struct{}{}
	c.send(AppendEnvelope(nil, &Envelope{Type: TypeSnapshot, Room: id, STS: Micros(time.Now()),
		Data: mustJSON(struct {
			Rev  int64  `json:"rev"`
			Text string `json:"text"`
		}{st.doc.Rev(), st.doc.Text()})}))
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
		applied, err := st.doc.Submit(od.Rev, Op{Pos: od.Pos, Ins: od.Insert, Del: od.Delete})
		if err != nil {
			code := CodeInvalid
			if errors.Is(err, errConflict) {
				code = CodeConflict
			}
			c.fail(e.ID, code, err.Error())
			return
		}
		rev := st.doc.Rev() - int64(len(applied))
		sts := Micros(time.Now())
		for _, o := range applied {
			rev++
			b := AppendEnvelope(nil, &Envelope{Type: TypeOp, Room: id, Seq: rev, TS: e.TS, STS: sts,
				Data: mustJSON(opData{Rev: rev, Pos: o.Pos, Insert: o.Ins, Delete: o.Del})})
			for o := range st.conns {
				if o != c {
					o.send(b)
				}
			}
		}
		c.ack(e.ID, id, st.doc.Rev(), e.TS, mustJSON(map[string]int64{"rev": st.doc.Rev()}))
	})
}
