#!/usr/bin/env bash
# A/B timing of `msgmeter ingest` builds on one input: each round runs every binary once,
# in turn, into a fresh lake, so that a change is judged against its baseline at the same
# moment (this VM's speed drifts by up to 1.6x from minute to minute, which swamps the
# differences a change makes when runs are minutes apart).
#
# Usage: scripts/ab_ingest.sh INPUT ROUNDS BINARY...
#   e.g. cp target/release/msgmeter /tmp/msgmeter-before   (then change, rebuild)
#        scripts/ab_ingest.sh bench-out/data/whatsapp-1000000 3 /tmp/msgmeter-before target/release/msgmeter
#
# Prints one line per run: binary, wall s, user s, sys s, peak RSS KiB, then the run
# manifest's stage_seconds. Lakes go to a temporary folder, removed at the end.
set -euo pipefail

if [[ $# -lt 3 || ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
fi
input=$1
rounds=$2
shift 2
# The fixed clock and key of scripts/bench_ingest.sh, so that runs are comparable with it.
export MSGMETER_PSEUDONYM_KEY=${MSGMETER_PSEUDONYM_KEY:-msgmeter-bench-key-not-a-secret-0123456789}
NOW=2026-01-01T00:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for ((r = 1; r <= rounds; r++)); do
    for bin in "$@"; do
        rm -rf "$work/lake"
        /usr/bin/time -o "$work/time" -f "%e %U %S %M" \
            "$bin" ingest --quiet --lake "$work/lake" --now "$NOW" "$input" >/dev/null
        stages=$(python3 - "$work/lake" <<'EOF'
import glob, json, sys
manifest = json.load(open(glob.glob(sys.argv[1] + "/_runs/*.json")[0]))
print(" ".join(f"{k}={v}" for k, v in manifest["stage_seconds"].items()))
EOF
)
        echo "round $r $(basename "$bin") $(cat "$work/time") | $stages"
    done
done
