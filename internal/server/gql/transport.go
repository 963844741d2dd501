package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postJSON is the POST application/json transport: gqlgen's transport.POST
// (same content negotiation, status codes, error texts and response keys)
// with a cheaper request and response path, the one product(id) runs on:
// the body is read into a pooled buffer whose length is known (serveGraphQL
// bounds it) and the usual body decoded by hand (decodeParams), and the response is written once with its Content-Length from
// a pooled buffer, data copied as gqlgen marshaled it instead of re-scanned
// by encoding/json (which compacts and escapes a json.RawMessage), and
// extensions.loadrig appended without reflection. Output is byte-for-byte
// what transport.POST writes (TestPostJSONMatchesGqlgen).
type postJSON struct{}

var _ graphql.Transport = postJSON{}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// Supports is transport.POST's test without parsing the common
// Content-Type.
func (postJSON) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == mediaJSON {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == mediaJSON
}

// responseType is transport.POST's content negotiation (with
// UseGrapQLResponseJsonByDefault off).
func responseType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	switch accept {
	case "", "*/*", mediaJSON:
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// Header values shared by every response, as REST's are: net/http and
// this package only ever replace or append to a header's slice, never
// write into it, so one slice serves all (an allocation each saved).
var (
	hdrNoStore         = []string{"no-store"}
	hdrJSON            = []string{mediaJSON}
	hdrGraphQLResponse = []string{mediaGraphQLResponse}
)

// bufPool holds request and response buffers; ones grown past 64 KiB are
// dropped, so a large request does not pin its memory.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

func (postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// The operation state, made here so the limits and aroundResponse leave
	// their figures in it rather than in maps (opState.post).
	st := &opState{post: true}
	ctx := context.WithValue(r.Context(), opKey, st)
	contentType := responseType(r)
	if contentType == mediaJSON {
		w.Header()["Content-Type"] = hdrJSON
	} else {
		w.Header()["Content-Type"] = hdrGraphQLResponse
	}
	start := graphql.Now()

	body := getBuf()
	defer putBuf(body)
	if r.ContentLength > 0 {
		body.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := body.ReadFrom(r.Body); err != nil {
		gqlErr := gqlerror.Errorf("could not read request body: %+v", err)
		writeResponse(w, 0, exec.DispatchError(ctx, gqlerror.List{gqlErr}), st)
		return
	}

	params := &graphql.RawParams{}
	if err := decodeParams(body.Bytes(), params); err != nil {
		gqlErr := gqlerror.Errorf("json request body could not be decoded: %+v body:%s", err, body.String())
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{gqlErr}), st)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == mediaGraphQLResponse {
				status = http.StatusBadRequest
			}
		}
		writeResponse(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs), st)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, 0, responses(ctx), st)
}

// writeResponse writes resp as encoding/json would marshal a
// graphql.Response, in one Write with its Content-Length; status 0 leaves
// it to net/http (200). st's extensions.loadrig, when aroundResponse left
// it there, is written as one of resp.Extensions.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response, st *opState) {
	buf := getBuf()
	defer putBuf(buf)
	if err := appendResponse(buf, resp, st); err != nil {
		// As transport.POST: a response that cannot be marshaled is a bug;
		// the panic reaches gqlgen's and the spine's recovery.
		panic("gql: unable to marshal response: " + err.Error())
	}
	w.Header()["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = w.Write(buf.Bytes())
}

// appendResponse writes resp to buf exactly as json.Marshal(resp) would,
// with st's extensions.loadrig (if any) as resp.Extensions["loadrig"].
// The common shape (data, errors, extensions) is written directly; anything
// else (an incremental @defer part) goes through encoding/json.
func appendResponse(buf *bytes.Buffer, resp *graphql.Response, st *opState) error {
	if resp == nil {
		buf.WriteString("null")
		return nil
	}
	var lx *loadrigExt // extensions.loadrig kept outside resp.Extensions
	if st != nil && st.hasExt {
		lx = &st.ext
	}
	if resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		if lx != nil {
			r := *resp
			r.Extensions = make(map[string]any, len(resp.Extensions)+1)
			maps.Copy(r.Extensions, resp.Extensions)
			r.Extensions["loadrig"] = *lx
			resp = &r
		}
		b, err := json.Marshal(resp)
		buf.Write(b)
		return err
	}
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			return err
		}
		buf.WriteString(`"errors":`)
		buf.Write(b)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		appendRaw(buf, resp.Data)
	}
	if len(resp.Extensions) == 0 && lx != nil { // the usual: loadrig alone
		buf.WriteString(`,"extensions":{"loadrig":`)
		buf.Write(lx.appendJSON(buf.AvailableBuffer()))
		buf.WriteByte('}')
	} else if len(resp.Extensions) > 0 {
		buf.WriteString(`,"extensions":{`)
		keys := make([]string, 0, len(resp.Extensions)+1)
		for k := range resp.Extensions {
			keys = append(keys, k)
		}
		if _, ok := resp.Extensions["loadrig"]; lx != nil && !ok {
			keys = append(keys, "loadrig")
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if k == "loadrig" && lx != nil {
				buf.WriteString(`"loadrig":`)
				buf.Write(lx.appendJSON(buf.AvailableBuffer()))
				continue
			}
			if e, ok := resp.Extensions[k].(loadrigExt); ok && k == "loadrig" {
				buf.WriteString(`"loadrig":`)
				buf.Write(e.appendJSON(buf.AvailableBuffer()))
				continue
			}
			kb, err := json.Marshal(k)
			if err != nil {
				return err
			}
			buf.Write(kb)
			buf.WriteByte(':')
			vb, err := json.Marshal(resp.Extensions[k])
			if err != nil {
				return err
			}
			buf.Write(vb)
		}
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return nil
}

// appendRaw writes gqlgen's marshaled data as encoding/json writes a
// json.RawMessage: compacted, with <, >, &, U+2028 and U+2029 escaped
// inside strings. gqlgen's marshalers write compact JSON, so without those
// bytes the data is copied as it is; with them json.HTMLEscape (the same
// escaping) writes it. Unlike encoding/json the data is not re-validated:
// it comes from gqlgen's generated marshalers, not from a client.
func appendRaw(buf *bytes.Buffer, data []byte) {
	for _, c := range data {
		if c == '<' || c == '>' || c == '&' || c == 0xE2 {
			json.HTMLEscape(buf, data)
			return
		}
	}
	buf.Write(data)
}
