#!/usr/bin/env bash
# shards.sh — CPU of two shards at R/2 against one generator at R, same
# plan, interleaved rounds: the loop behind the README's "Two shards at R/2"
# figure (design notes, "Profiles, compare and sharding: measured").
#
# Needs a target already listening, pinned to one core, e.g. the peer
# harness's:  taskset -c 0 /tmp/target -grpc '' -http 127.0.0.1:18190 &
# and GNU time, jq, bc. Every run is bounded by DUR.
#
#   LOADRIG=/tmp/loadrig ROUNDS=3 DUR=20 RATES="500 2000" bash testdata/bench/shards.sh
#
# With LOADRIG_BASE set to another build (e.g. main's), every round runs
# both binaries back to back, so a change is measured against its base in
# the same conditions.
#
# CPU is user+sys of each process from /usr/bin/time, the shards summed;
# both shards start at one aligned --start-at, the single run right away.
# With ALONE=1 the shards run one after the other instead, each alone on
# the generator's CPU, as on two machines (two shards sharing one core
# also pay for switching between their two processes).
# SHARD_BY lists the ways to deal the shards (--shard-by), each measured
# against the same single run of its round, e.g. SHARD_BY="seq tick";
# default seq.
# The ratio is shards / single (1.0 = sharding costs nothing extra); the
# last lines give every round's ratio per build, dealing and rate, and
# their median.
set -euo pipefail

LOADRIG=${LOADRIG:?set LOADRIG to a loadrig binary (go build -o /tmp/loadrig ./cmd/loadrig)}
URL=${URL:-http://127.0.0.1:18190/hello}
ROUNDS=${ROUNDS:-3} DUR=${DUR:-20} RATES=${RATES:-"500 2000"} GEN_CPUS=${GEN_CPUS:-1}
EXTRA=${EXTRA:-} ALONE=${ALONE:-} SHARD_BY=${SHARD_BY:-seq}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu() { read -r u s _ <"$1"; echo "$u + $s" | bc -l; }
shard() { # I BINARY RATE [FLAGS...]: shard I of 2, timed into $tmp/sI
	local i=$1 bin=$2 rate=$3 dealt=()
	shift 3
	[ "$by" = seq ] || dealt=(--shard-by "$by") # builds before --shard-by deal by seq
	# shellcheck disable=SC2086
	taskset -c "$GEN_CPUS" /usr/bin/time -f "%U %S %M" -o "$tmp/s$i" \
		"$bin" load http --rate "$rate" -d "${DUR}s" --shard "$i/2" "${dealt[@]}" "$@" \
		-q --format json $EXTRA "$URL" >"$tmp/s$i.json"
}

for r in $(seq "$ROUNDS"); do
	for rate in $RATES; do
	for bin in ${LOADRIG_BASE:+"$LOADRIG_BASE"} "$LOADRIG"; do
		label=new
		[ "$bin" = "${LOADRIG_BASE:-}" ] && label=base
		# shellcheck disable=SC2086
		taskset -c "$GEN_CPUS" /usr/bin/time -f "%U %S %M" -o "$tmp/one" \
			"$bin" load http --rate "$rate" -d "${DUR}s" -q --format json $EXTRA "$URL" >"$tmp/one.json"
		one=$(cpu "$tmp/one")
		for by in $SHARD_BY; do
		if [ -n "$ALONE" ]; then
			# One shard after the other, each alone on the generator's CPU, as
			# on two machines: no switching between the two processes.
			shard 0 "$bin" "$rate"
			shard 1 "$bin" "$rate"
		else
			start=$(date -u -d "+2 seconds" +%Y-%m-%dT%H:%M:%SZ)
			shard 0 "$bin" "$rate" --start-at "$start" &
			shard 1 "$bin" "$rate" --start-at "$start" &
			wait
		fi
		two=$(echo "$(cpu "$tmp/s0") + $(cpu "$tmp/s1")" | bc -l)
		ratio=$(printf '%.2f' "$(echo "$two / $one" | bc -l)")
		echo "$ratio" >>"$tmp/ratios.$label-$by.$rate"
		n1=$(jq .requests.total "$tmp/one.json")
		n2=$(( $(jq .requests.total "$tmp/s0.json") + $(jq .requests.total "$tmp/s1.json") ))
		printf '%-9s round %d rate %5d  one %6.2fs (n=%d, late %s)  two %6.2fs (n=%d, late %s+%s)  ratio %.2f\n' \
			"$label-$by" "$r" "$rate" "$one" "$n1" "$(jq '.late_sends.fraction*10000|round/10000' "$tmp/one.json")" "$two" "$n2" \
			"$(jq '.late_sends.fraction*10000|round/10000' "$tmp/s0.json")" "$(jq '.late_sends.fraction*10000|round/10000' "$tmp/s1.json")" \
			"$ratio"
		done
	done
	done
done
# The ratios of every round, per build and rate, and their median.
for f in "$tmp"/ratios.*; do
	label=${f#"$tmp"/ratios.} rate=${label#*.} label=${label%%.*}
	sort -g "$f" | awk -v l="$label" -v r="$rate" '{v[NR]=$1; s=s " " $1}
		END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%-9s rate %5d  ratios%s  median %.2f\n", l, r, s, m}'
done
