#!/usr/bin/env bash
# tick.sh — open-loop CPU per request against bombardier, interleaved, per
# scheduler tick: the loop (same commands, same pinning) that measured the
# README's "Open loop: the scheduler tick is the lever" table.
#
# Needs: a target already listening (the peer harness's target, pinned:
#   taskset -c 0 /tmp/loadrig-peers/bin/target -http 127.0.0.1:18080 &),
# bombardier, jq, bc, GNU time, taskset. Every run is bounded by DUR.
#
#   LOADRIG=/tmp/loadrig BOMBARDIER=/tmp/loadrig-peers/bin/bombardier \
#   ROUNDS=6 DUR=5 RATE=5000 TICKS="500us 750us 1ms" bash testdata/bench/tick.sh
set -euo pipefail

LOADRIG=${LOADRIG:?set LOADRIG to a loadrig binary (go build -o /tmp/loadrig ./cmd/loadrig)}
BOMBARDIER=${BOMBARDIER:-bombardier}
URL=${URL:-http://127.0.0.1:18080/hello}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} RATE=${RATE:-5000} GEN_CPU=${GEN_CPU:-1}
TICKS=${TICKS:-"500us 750us 1ms"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu_us_per_req() { # time-file requests
	read -r u s _ <"$1"
	echo "($u + $s) * 1000000 / $2" | bc -l | xargs printf '%.1f'
}

for r in $(seq "$ROUNDS"); do
	echo "round $r"
	taskset -c "$GEN_CPU" /usr/bin/time -f "%U %S %M" -o "$tmp/t" \
		"$BOMBARDIER" -c 50 -d "${DUR}s" --rate "$RATE" -l -p r -o json "$URL" >"$tmp/j"
	n=$(jq '.result.req1xx+.result.req2xx+.result.req3xx+.result.req4xx+.result.req5xx+.result.others' "$tmp/j")
	printf '  %-12s cpu_us/req=%s n=%s\n' bombardier "$(cpu_us_per_req "$tmp/t" "$n")" "$n"
	for tick in $TICKS; do
		taskset -c "$GEN_CPU" /usr/bin/time -f "%U %S %M" -o "$tmp/t" \
			"$LOADRIG" load http --rate "$RATE" --tick "$tick" -d "${DUR}s" -q --format json "$URL" >"$tmp/j"
		n=$(jq .requests.total "$tmp/j")
		printf '  %-12s cpu_us/req=%s n=%s late=%s lag_p50=%sus lag_p99=%sus latency_p99=%sus\n' "tick=$tick" \
			"$(cpu_us_per_req "$tmp/t" "$n")" "$n" "$(jq .late_sends.fraction "$tmp/j")" \
			"$(jq .schedule_lag_us.p50 "$tmp/j")" "$(jq .schedule_lag_us.p99 "$tmp/j")" "$(jq .latency_us.p99 "$tmp/j")"
	done
done
