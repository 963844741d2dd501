#!/usr/bin/env bash
# resthot.sh — the REST hot path against a bare net/http handler: requests
# per second of a cached GET /api/products/1 on `loadrig serve rest`
# (in-process cache, every request a HIT) over those of
# testdata/bench/restbare repeating the same response (same body, same
# header set), both pinned to one CPU, wrk on the other, interleaved
# bare, loadrig, bare, loadrig... in one run; prints each round's ratio
# and the median. The servers' own CPU per request (user+system from
# /proc/PID/stat over each wrk run) is printed too: on a shared machine
# the req/s of one pinned server swings with whatever else runs on its
# CPU, while CPU per request mostly does not; bare/loadrig CPU per request
# is the req/s ratio the two would have on a quiet, saturated core.
#
#   ROUNDS=3 DUR=5 bash testdata/bench/resthot.sh
#   CACHE=tinylfu MODE=response bash testdata/bench/resthot.sh
#
# Environment: ROUNDS (3), DUR seconds per wrk run (5), CONNS (50), CACHE
# (lru), MODE (object | response: --cache-mode), SRV_CPU (0), GEN_CPU (1),
# LOADRIG (a prebuilt loadrig to measure instead of building this tree's:
# before/after comparisons), EXTRA (more `serve rest` flags), BARE_FLAGS
# (-bounded: the bare server gets loadrig's timeouts and header cap),
# PPROF=FILE (also take a 5 s CPU profile of loadrig under load into FILE,
# after the rounds), BASE (another loadrig binary, e.g. main's build, served
# the same way and measured in every round between bare and loadrig: a
# before/after in one run, each against the same bare rounds). Builds the binaries into a temp dir. Traffic goes to 127.0.0.1 only; every wrk run is bounded
# by DUR; the script stops only the servers it started, by PID.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5} CONNS=${CONNS:-50} CACHE=${CACHE:-lru} MODE=${MODE:-object}
SRV_CPU=${SRV_CPU:-0} GEN_CPU=${GEN_CPU:-1} EXTRA=${EXTRA:-} PPROF=${PPROF:-} BARE_FLAGS=${BARE_FLAGS:-}
LR_ADDR=127.0.0.1:18181 BARE_ADDR=127.0.0.1:18180 BASE_ADDR=127.0.0.1:18182 BASE=${BASE:-}
PATH_=/api/products/1

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${LOADRIG:-}" ]; then # a prebuilt binary, e.g. of another commit
	cp "$LOADRIG" "$tmp/loadrig"
else
	go build -o "$tmp/loadrig" ./cmd/loadrig
fi
go build -o "$tmp/restbare" ./testdata/bench/restbare

pprof_flag=
[ -n "$PPROF" ] && pprof_flag=--pprof
start_loadrig() { # BINARY ADDR PPROF_FLAG: serve rest pinned, the cache filled, X-Cache HIT checked
	local addr=$2 xc
	# shellcheck disable=SC2086
	taskset -c "$SRV_CPU" "$1" serve rest --addr "$addr" --cache "$CACHE" --cache-mode "$MODE" \
		--log-level warn $3 $EXTRA >>"$tmp/lr.out" 2>>"$tmp/lr.err" &
	pids+=($!)
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://$addr/healthz" 2>/dev/null && break
		sleep 0.1
	done
	curl -fsS -o /dev/null "http://$addr$PATH_" # the MISS that fills the cache
	xc=$(curl -fsS -D - -o /dev/null "http://$addr$PATH_" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
	if [ "$xc" != HIT ]; then
		echo "resthot: X-Cache is '$xc' on the second GET from $1, want HIT" >&2
		exit 1
	fi
}
start_loadrig "$tmp/loadrig" "$LR_ADDR" "$pprof_flag"
# shellcheck disable=SC2086
taskset -c "$SRV_CPU" "$tmp/restbare" $BARE_FLAGS -addr "$BARE_ADDR" -like "http://$LR_ADDR$PATH_" 2>"$tmp/bare.err" &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://$BARE_ADDR$PATH_" 2>/dev/null && break
	sleep 0.1
done
if [ -n "$BASE" ]; then
	cp "$BASE" "$tmp/base"
	start_loadrig "$tmp/base" "$BASE_ADDR" ""
fi
echo "loadrig response:"; curl -sS -D - -o /dev/null "http://$LR_ADDR$PATH_" | tr -d '\r' | sed 's/^/  /'
echo "bare response:"; curl -sS -D - -o /dev/null "http://$BARE_ADDR$PATH_" | tr -d '\r' | sed 's/^/  /'

cputicks() { # PID -> user+system CPU of the process, in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

run() { # URL PID -> "req/s cpu_us_per_req", after checking wrk saw no errors
	local c0 c1
	c0=$(cputicks "$2")
	taskset -c "$GEN_CPU" timeout $((DUR + 30)) wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s "$1" >"$tmp/w"
	c1=$(cputicks "$2")
	# A non-2xx or a socket error fails the run; wrk's own timeouts (a
	# response slower than 10 s on a starved machine) do not.
	if grep -q 'Non-2xx' "$tmp/w" || grep 'Socket errors' "$tmp/w" | grep -qv 'connect 0, read 0, write 0,'; then
		cat "$tmp/w" >&2
		echo "resthot: wrk saw errors against $1" >&2
		exit 1
	fi
	awk -v t=$((c1 - c0)) -v hz="$HZ" '/requests in/{n=$1} /^Requests\/sec:/{r=$2} END{printf "%.0f %.2f\n", r, t*1e6/hz/n}' "$tmp/w"
}

# Warm both (connections, caches, the Go runtime's heap) before measuring.
run "http://$BARE_ADDR$PATH_" "${pids[1]}" >/dev/null
run "http://$LR_ADDR$PATH_" "${pids[0]}" >/dev/null
if [ -n "$BASE" ]; then
	run "http://$BASE_ADDR$PATH_" "${pids[2]}" >/dev/null
fi

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
ratios=() cpuratios=() bratios=() bcpuratios=()
for r in $(seq "$ROUNDS"); do
	read -r b bc < <(run "http://$BARE_ADDR$PATH_" "${pids[1]}")
	if [ -n "$BASE" ]; then
		read -r x xc < <(run "http://$BASE_ADDR$PATH_" "${pids[2]}")
		bratios+=("$(echo "$x / $b" | bc -l | xargs printf '%.3f')")
		bcpuratios+=("$(echo "$bc / $xc" | bc -l | xargs printf '%.3f')")
		printf 'round %s  base %s req/s (%s CPU µs/req)  base/bare req/s %s  CPU %s\n' "$r" "$x" "$xc" "${bratios[-1]}" "${bcpuratios[-1]}"
	fi
	read -r l lc < <(run "http://$LR_ADDR$PATH_" "${pids[0]}")
	ratio=$(echo "$l / $b" | bc -l | xargs printf '%.3f')
	cpuratio=$(echo "$bc / $lc" | bc -l | xargs printf '%.3f')
	ratios+=("$ratio") cpuratios+=("$cpuratio")
	printf 'round %s  bare %s req/s (%s CPU µs/req)  loadrig %s req/s (%s CPU µs/req)  req/s ratio %s  CPU ratio %s\n' \
		"$r" "$b" "$bc" "$l" "$lc" "$ratio" "$cpuratio"
done
echo "cache=$CACHE mode=$MODE conns=$CONNS dur=${DUR}s rounds=$ROUNDS bare=${BARE_FLAGS:-plain}"
echo "  loadrig/bare req/s: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | median)"
echo "  bare/loadrig CPU per request: ${cpuratios[*]}; median $(printf '%s\n' "${cpuratios[@]}" | median)"
if [ -n "$BASE" ]; then
	echo "  base/bare req/s: ${bratios[*]}; median $(printf '%s\n' "${bratios[@]}" | median)"
	echo "  bare/base CPU per request: ${bcpuratios[*]}; median $(printf '%s\n' "${bcpuratios[@]}" | median)"
fi

if [ -n "$PPROF" ]; then
	taskset -c "$GEN_CPU" timeout $((DUR + 30)) wrk -t1 -c"$CONNS" -d8s "http://$LR_ADDR$PATH_" >/dev/null &
	wpid=$!
	sleep 1
	curl -fsS -o "$PPROF" "http://$LR_ADDR/debug/pprof/profile?seconds=5"
	wait "$wpid"
	cp "$tmp/loadrig" "$PPROF.bin"
	echo "CPU profile of loadrig under load: go tool pprof -top $PPROF.bin $PPROF"
fi
