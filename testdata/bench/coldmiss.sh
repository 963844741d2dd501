#!/usr/bin/env bash
# coldmiss.sh — data cache misses per cached GET /api/products/1, the REST
# handler against the bare handler, counted by valgrind's cachegrind on a
# simulated cache (32 KiB L1, 2 MiB last level) with every request
# starting cold (internal/server/rest TestColdPath). Unlike wrk's
# throughput on a shared machine the count hardly moves from run to run, so a
# change to the hot path can be judged by it before the noisy
# end-to-end measurement (resthot.sh).
#
#   bash testdata/bench/coldmiss.sh            # totals and the top functions
#   TOP=40 bash testdata/bench/coldmiss.sh
#
# Per request = (count at N2 - count at N1) / (N2 - N1), so the setup
# (seeding the store, the first miss) cancels out; the harness's own
# eviction loop and the runtime's background work are left out. What the
# setup does not cancel is spread over N2 - N1 requests: with 2,700 the
# totals move by about ±3 between runs (with 300 they moved by ±10). A
# change moves rows it did not touch too (the binary's layout changes
# where constants and functions fall), so judge it by the totals of a few
# runs, the rows saying where the lines went.
# KEEP=PREFIX keeps the per-function tables as PREFIX.bare, PREFIX.rest.
# Needs valgrind (Debian: apt-get install valgrind). No network traffic:
# the handler is called in process.
set -euo pipefail

cd "$(dirname "$0")/../.."
N1=${N1:-300} N2=${N2:-3000} TOP=${TOP:-25}
command -v valgrind >/dev/null || { echo "coldmiss: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/rest.test" ./internal/server/rest/

# The runtime's background work (the sysmon thread, the scheduler looking
# for work, signals, the collector's background workers: it runs however
# long the process does, and under valgrind that is seconds) is left out:
# the count is the request's own. So are clock reads (runtime.nanotime1):
# sysmon reads the clock far more often than a request, so the request's
# own reads (two for its duration, one for the LRU's TTL) are not counted.
BG='^runtime\.(sysmon|findRunnable|schedule|stealWork|runqgrab|checkTimers|netpoll|notesleep|notetsleep.*|futexsleep|futexwakeup|futex|park_m|mcall|mPark|stopm|startm|wakep|resetspinning|xRegSave|xRegRestore|asyncPreempt.*|sigtramp.*|sighandler|sigtrampgo|usleep|osyield|nanotime1.*|rand|gcBgMarkWorker.*|gcDrain.*|scanObject.*|scanblock|markroot.*|bgsweep|bgscavenge|sweepone|.*[Ss]cav.*|.*[Tt]imer.*)$'

run() { # CASE N: per-function last-level data misses (reads + writes)
	# cpu.rdtscp=off: valgrind does not know RDTSCP, which the runtime's
	# cputicks would use; asyncpreemptoff=1: no preemption signals (under
	# valgrind's slowdown every loop is "long running") in the count.
	GOGC=off GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 LOADRIG_COLD=$2 LOADRIG_COLD_CASE=$1 valgrind --tool=cachegrind --cache-sim=yes \
		--D1=32768,8,64 --LL=2097152,16,64 --cachegrind-out-file="$tmp/cg.$1.$2" \
		"$tmp/rest.test" -test.run '^TestColdPath$' -test.count 1 >"$tmp/log.$1.$2" 2>&1 ||
		{ cat "$tmp/log.$1.$2" >&2; exit 1; }
	cg_annotate --show=DLmr,DLmw --threshold=0 --auto=no "$tmp/cg.$1.$2" |
		awk '/file:function/{p=1; next} p && !/^--/ && NF' |
		sed -E 's/\( *[0-9.]+%\)//g' |
		awk -v bg="$BG" '{r=$1; w=$2; gsub(",", "", r); gsub(",", "", w); $1=""; $2=""; sub(/^ +/, ""); sub(/^[^:]*:/, "");
			if ($0 !~ /rest\.(evict|coldLoop)$/ && $0 !~ bg) m[$0] += r + w} END{for (f in m) printf "%s\t%d\n", f, m[f]}' |
		sort >"$tmp/f.$1.$2"
}
for c in bare rest; do
	run "$c" "$N1" &
	run "$c" "$N2" &
done
wait
per() { # CASE -> "function<TAB>misses per request", sorted by misses
	join -t$'\t' -a1 -a2 -e0 -o0,1.2,2.2 "$tmp/f.$1.$N1" "$tmp/f.$1.$N2" |
		awk -F'\t' -v d=$((N2 - N1)) '{printf "%s\t%.2f\n", $1, ($3-$2)/d}' | sort -t$'\t' -k2,2 -g -r
}
per bare >"$tmp/p.bare"; [ -n "${KEEP:-}" ] && cp "$tmp/p.bare" "$KEEP.bare"
per rest >"$tmp/p.rest"; [ -n "${KEEP:-}" ] && cp "$tmp/p.rest" "$KEEP.rest"
tot() { awk -F'\t' '{s+=$2} END{printf "%.1f", s}' "$1"; }
echo "last-level data misses per request (reads + writes), every request cold:"
echo "  bare handler: $(tot "$tmp/p.bare")"
echo "  REST handler: $(tot "$tmp/p.rest")"
echo "top $TOP functions of the REST handler (misses per request; the bare handler's in brackets):"
sort -t$'\t' -k1,1 "$tmp/p.bare" >"$tmp/s.bare"
sort -t$'\t' -k1,1 "$tmp/p.rest" | join -t$'\t' -a1 -e0 -o0,1.2,2.2 - "$tmp/s.bare" |
	sort -t$'\t' -k2,2 -g -r | head -n "$TOP" | awk -F'\t' '{printf "  %6.2f  (%5.2f)  %s\n", $2, $3, $1}'
