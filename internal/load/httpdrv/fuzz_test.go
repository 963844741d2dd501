package httpdrv

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/load"
)

// FuzzReadResponse feeds arbitrary bytes to the fast path's response
// parser: it never panics, and what it accepts it consumed from the input.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
		"HTTP/1.0 304 Not Modified\r\nX-Cache: HIT\r\nAge: 3\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nbody until close",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\nCF-Cache-Status: DYNAMIC\n folded\n\n",
		"HTTP/1.1 abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("c", 40) + "\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\nok",
	} {
		f.Add([]byte(s), false)
	}
	d, err := New(Options{URL: "http://127.0.0.1:1/", ExpectBodyContains: "ell"})
	if err != nil {
		f.Fatal(err)
	}
	dh, err := New(Options{URL: "http://127.0.0.1:1/", Method: "HEAD"})
	if err != nil {
		f.Fatal(err)
	}
	ws := []*fastWorker{d.newFastWorker(context.Background(), 0), dh.newFastWorker(context.Background(), 0)}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		w := ws[0]
		if head {
			w = ws[1]
		}
		var out load.Outcome
		// The smallest bufio buffer (16 bytes), so that the long-line path
		// (lines longer than the read buffer) is exercised by short inputs.
		_, err := w.readResponse(bufio.NewReaderSize(bytes.NewReader(data), 16), &out)
		if err == nil && out.BytesReceived > int64(len(data)) {
			t.Fatalf("consumed %d of %d bytes", out.BytesReceived, len(data))
		}
	})
}
