package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// etag returns the strong ETag of an entity: kind letter, id, version,
// e.g. "p42-v7". Versions change on every write, so equal tags mean equal
// bodies.
func etag(kind byte, id, version int64) string {
	b := make([]byte, 0, 32)
	b = append(b, '"', kind)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, "-v"...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, '"')
	return string(b)
}

// conditional reports whether the request carries a validator.
func conditional(r *http.Request) bool {
	// Direct map reads (net/http canonicalized the keys): Header.Get would
	// canonicalize the key again on every request.
	return first(r.Header, "If-None-Match") != "" || first(r.Header, "If-Modified-Since") != ""
}

// first is hd.Get(key) for a key already in canonical form.
func first(hd http.Header, key string) string {
	if v := hd[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// notModified evaluates If-None-Match (weak comparison, RFC 9110 13.1.2)
// or, when absent, If-Modified-Since against the entity's validators.
func notModified(r *http.Request, tag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == tag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !modified.Truncate(time.Second).After(t)
	}
	return false
}

// setValidators sets the caching headers of an entity response.
func (h *Handler) setValidators(w http.ResponseWriter, tag string, modified time.Time) {
	hd := w.Header()
	hd["Etag"] = []string{tag}
	if !modified.IsZero() {
		hd["Last-Modified"] = []string{modified.UTC().Format(http.TimeFormat)}
	}
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
}

// writeEntity answers an entity GET: 304 when the client's validator
// matches, else the JSON body, with validators either way.
func (h *Handler) writeEntity(w http.ResponseWriter, r *http.Request, tag string, modified time.Time, v any) {
	h.setValidators(w, tag, modified)
	if notModified(r, tag, modified) {
		h.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
