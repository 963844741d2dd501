#!/usr/bin/env bash
# gql.sh — the GraphQL driver's CPU per request against bombardier POSTing
# the same body, closed loop, interleaved, generator pinned to one CPU and
# the target (testdata/bench/gqltarget, a fixed GraphQL answer) to another;
# CPU is user+sys from GNU time. bombardier reads no errors; loadrig parses
# the document before the run, renders the request per operation and reads
# every response body for a top-level "errors" key. `load http` POSTing the
# same body (body discarded) runs in each round too, for the classifier's cost.
#
#   go build -o /tmp/gqldrv-bin/gqltarget ./testdata/bench/gqltarget
#   go build -o /tmp/gqldrv-bin/loadrig ./cmd/loadrig
#   GOBIN=/tmp/gqldrv-bin go install github.com/codesenberg/bombardier@v1.2.6
#   BIN=/tmp/gqldrv-bin ROUNDS=3 DUR=5 bash testdata/bench/gql.sh
#
# Every run is bounded by DUR; traffic goes to 127.0.0.1 only; the script
# stops only the target it started, by PID.
set -euo pipefail

BIN=${BIN:?set BIN to a directory with loadrig, bombardier and gqltarget}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} CONNS=${CONNS:-50} SRV_CPU=${SRV_CPU:-0} GEN_CPU=${GEN_CPU:-1}
ADDR=127.0.0.1:18090
URL=http://$ADDR/graphql
QUERY='{ product(id: 1) { id name price } }'
BODY='{"query":"{ product(id: 1) { id name price } }"}'
tmp=$(mktemp -d)
taskset -c "$SRV_CPU" "$BIN/gqltarget" -addr "$ADDR" &
srv=$!
trap 'kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5

cpu_us_per_req() { # time-file requests
	read -r u s _ <"$1"
	echo "($u + $s) * 1000000 / $2" | bc -l | xargs printf '%.2f'
}

for r in $(seq "$ROUNDS"); do
	taskset -c "$GEN_CPU" /usr/bin/time -f "%U %S %M" -o "$tmp/t" \
		timeout $((DUR + 20)) "$BIN/bombardier" -c "$CONNS" -d "${DUR}s" -m POST -H 'Content-Type: application/json' \
		-b "$BODY" -l -p r -o json "$URL" >"$tmp/j"
	n=$(jq '.result.req1xx+.result.req2xx+.result.req3xx+.result.req4xx+.result.req5xx+.result.others' "$tmp/j")
	b=$(cpu_us_per_req "$tmp/t" "$n")
	printf 'round %s  bombardier cpu_us/req=%s n=%s rps=%.0f\n' "$r" "$b" "$n" "$(jq .result.rps.mean "$tmp/j")"
	taskset -c "$GEN_CPU" /usr/bin/time -f "%U %S %M" -o "$tmp/t" \
		timeout $((DUR + 20)) "$BIN/loadrig" load graphql -c "$CONNS" -d "${DUR}s" -q --format json --scrape-stats=false \
		--query "$QUERY" "$URL" >"$tmp/j"
	n=$(jq .requests.total "$tmp/j")
	l=$(cpu_us_per_req "$tmp/t" "$n")
	taskset -c "$GEN_CPU" /usr/bin/time -f "%U %S %M" -o "$tmp/t2" \
		timeout $((DUR + 20)) "$BIN/loadrig" load http -c "$CONNS" -d "${DUR}s" -q --format json --scrape-stats=false \
		-X POST -H 'Content-Type: application/json' --body "$BODY" "$URL" >"$tmp/j2"
	h=$(cpu_us_per_req "$tmp/t2" "$(jq .requests.total "$tmp/j2")")
	printf 'round %s  load http  cpu_us/req=%s (the same POST, body discarded)\n' "$r" "$h"
	printf 'round %s  loadrig    cpu_us/req=%s n=%s rps=%.0f errors=%s  ratio=%.2f\n' "$r" "$l" "$n" \
		"$(jq .throughput_rps "$tmp/j")" "$(jq .requests.errors "$tmp/j")" "$(echo "$l / $b" | bc -l)"
done
