#!/usr/bin/env bash
# A/B of the consumer prefetch defaults: client binaries built from bench/
# before and after the change (see README.md here), interleaved, each
# consuming the same 4 000 000 × 100 B messages of one 12-partition topic
# from the start. Usage: BROKERS=... ab.sh DIR ROUNDS CLIENT... (DIR holds
# the binaries; the topic p12 must exist, filled as README.md says).
set -euo pipefail
dir=$1 rounds=$2; shift 2
exp=${EXPECTED:?comma-separated message count per partition}
for r in $(seq "$rounds"); do
	echo "== round $r, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for c in "$@"; do
		out=$(/usr/bin/time -f '%M' "$dir/$c" -mode consume -brokers "$BROKERS" -topic p12 -partitions 12 \
			-count 4000000 -expected "$exp" 2>/tmp/ab-rss)
		python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%-22s %9.0f msg/s  %.3f us CPU/msg  peak RSS %4.0f MiB  errors %d" % (sys.argv[2], d["messages"]/d["elapsed_ns"]*1e9, d["cpu_section_ns"]/d["messages"]/1000, int(sys.argv[3])/1024, d["errors"]))' "$out" "$c" "$(tail -1 /tmp/ab-rss)"
	done
done
