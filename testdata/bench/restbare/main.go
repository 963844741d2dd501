// Command restbare is the baseline of testdata/bench/resthot.sh: a bare
// net/http handler that answers every request with the bytes of one
// response it fetched once from another server (-like): the same body and
// the same header set with the same values (Date and Content-Length are
// net/http's and the handler's own), written the way a plain handler
// writes them (Header().Set, one Write). It does no routing, no counting,
// no caching: the ceiling a server adding those can be compared against.
// By default it is http.Server with no timeouts, as ListenAndServe runs
// it; -bounded gives it loadrig's timeouts and header cap.
//
//	go run ./testdata/bench/restbare -addr 127.0.0.1:18180 -like http://127.0.0.1:18181/api/products/1
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18180", "HOST:PORT to listen on (loopback only)")
	like := flag.String("like", "", "URL whose response (headers and body) this server repeats; required")
	bounded := flag.Bool("bounded", false, "give the server the time and size bounds loadrig's servers have (header, read, write and idle timeouts, 64 KiB of headers), which cost deadline updates per request")
	flag.Parse()
	if *like == "" {
		fmt.Fprintln(os.Stderr, "restbare: -like URL is required (the response to repeat)")
		os.Exit(2)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(*like)
	if err != nil {
		log.Fatalf("restbare: fetching %s: %v", *like, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		log.Fatalf("restbare: fetching %s: status %d, %v", *like, resp.StatusCode, err)
	}
	type kv struct{ k, v string }
	var hdrs []kv
	for k, vs := range resp.Header {
		if k == "Date" || k == "Content-Length" || len(vs) == 0 {
			continue
		}
		hdrs = append(hdrs, kv{k, vs[0]})
	}
	sort.Slice(hdrs, func(i, j int) bool { return hdrs[i].k < hdrs[j].k })
	clen := strconv.Itoa(len(body))
	for _, h := range hdrs {
		fmt.Fprintf(os.Stderr, "restbare: %s: %s\n", h.k, h.v)
	}
	fmt.Fprintf(os.Stderr, "restbare: body %d bytes; listening on %s\n", len(body), *addr)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hd := w.Header()
		for _, h := range hdrs {
			hd.Set(h.k, h.v)
		}
		hd.Set("Content-Length", clen)
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: h}
	if *bounded { // the defaults of loadrig's server.HTTPOptions
		srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 10*time.Second, 30*time.Second, 60*time.Second, 2*time.Minute
		srv.MaxHeaderBytes = 64 << 10
	}
	log.Fatal(srv.ListenAndServe())
}
