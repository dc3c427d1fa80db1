#!/usr/bin/env bash
# A/B timing of `msgmeter build` builds on one lake's events: each round runs every binary
# once, in turn, on a fresh copy of the lake's `events`, so that a change is judged against
# its baseline at the same moment (this VM's speed drifts by up to 1.6x from minute to
# minute). The companion of scripts/ab_ingest.sh.
#
# Usage: scripts/ab_build.sh LAKE ROUNDS BINARY...
#   e.g. scripts/ab_build.sh bench-out/lakes/events-2000000 3 /tmp/msgmeter-before target/release/msgmeter
#
# Prints one line per run: binary, wall s, user s, sys s, peak RSS KiB, the analytics stages
# bench_analytics.sh sums (and their sum), then every other stage_seconds entry. LAKE is
# only read; the copies go to a temporary folder, removed at the end.
set -euo pipefail

if [[ $# -lt 3 || ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
fi
lake=$1
rounds=$2
shift 2
if [[ ! -d $lake/events ]]; then
    echo "ab_build: $lake has no events table" >&2
    exit 2
fi
# The fixed clock of the benches.
NOW=2026-01-01T00:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for ((r = 1; r <= rounds; r++)); do
    for bin in "$@"; do
        rm -rf "$work/lake"
        mkdir -p "$work/lake"
        cp -r "$lake/events" "$work/lake/"
        /usr/bin/time -o "$work/time" -f "%e %U %S %M" \
            "$bin" build --lake "$work/lake" --now "$NOW" >/dev/null 2>"$work/err" || {
            echo "ab_build: $bin failed; its errors:" >&2
            cat "$work/err" >&2
            exit 1
        }
        stages=$(python3 - "$work/lake" <<'EOF'
import glob, json, sys
manifest = json.load(open(glob.glob(sys.argv[1] + "/_runs/*-build-*.json")[0]))
stages = manifest["stage_seconds"]
analytics = ["analytics_feed", "analytics_load", "reply_waits", "cases", "business_daily"]
total = sum(stages.get(k, 0) for k in analytics)
first = " ".join(f"{k}={stages.get(k, 0)}" for k in analytics)
rest = " ".join(f"{k}={v}" for k, v in stages.items() if k not in analytics)
print(f"{first} analytics={total:.3f} | {rest}")
EOF
)
        echo "round $r $(basename "$bin") $(cat "$work/time") | $stages"
    done
done
