// gqltarget is the target of testdata/bench/gql.sh: POST /graphql reads the
// body and answers a fixed GraphQL response (no errors), so that the
// generator's CPU per request can be compared with bombardier's POSTing the
// same body. It listens on 127.0.0.1 only.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
)

const resp = `{"data":{"product":{"id":"1","name":"Widget 1","price":9.99}}}`

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	flag.Parse()
	body := []byte(resp)
	http.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
