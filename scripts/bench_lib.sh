# Helpers shared by scripts/bench_*.sh (sourced, not run). They read the caller's
# OUT (bench-out/), VENV, MSGMETER, DAYS and ROOT.
# shellcheck shell=bash

# Every command that does work is echoed first (to stderr, quoted so it can be pasted).
show() {
    printf '+' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
}
run() {
    show "$@"
    "$@"
}

# A ratio a/b formatted with FORMAT, or a dash when either side is missing.
ratio() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN {
        if (a == "" || b == "" || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "—"
        else printf f "\n", a / b
    }'
}

# Wall seconds and peak RSS (MiB) from a `/usr/bin/time -v` report.
wall_seconds() {
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34" — fold h:m:s into seconds.
    awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$1"
}
peak_rss_mib() {
    awk '/Maximum resident set size/ { printf "%.0f\n", $NF / 1024 }' "$1"
}

# timed NAME CMD...: run CMD under /usr/bin/time -v with its output in logs/NAME.{out,time};
# show the last lines; return CMD's exit status (the caller decides whether it is fatal).
timed() {
    local name=$1
    shift
    local rc=0
    show /usr/bin/time -v -o "$OUT/logs/$name.time" "$@"
    /usr/bin/time -v -o "$OUT/logs/$name.time" "$@" >"$OUT/logs/$name.out" 2>&1 || rc=$?
    tail -n 3 "$OUT/logs/$name.out" | sed 's/^/    /' >&2
    return "$rc"
}

ensure_time() {
    [[ -x /usr/bin/time ]] && return
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    run "${sudo[@]}" apt-get install -y time || {
        run "${sudo[@]}" apt-get update
        run "${sudo[@]}" apt-get install -y time
    }
}

# DuckDB lives in its own venv under bench-out/ (shared by every bench), never in the
# system Python.
ensure_duckdb() {
    if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
        return
    fi
    run python3 -m venv "$VENV"
    run "$VENV/bin/pip" install --quiet duckdb
}

# Generate FORMAT data of SIZE events into DIR once; the marker file is written only after
# `generate` succeeds, so an interrupted run is regenerated rather than half-measured.
# Same flags, folder and marker in every bench: each reuses the others' data.
ensure_data() {
    local format=$1 size=$2 dir=$3
    local marker=$dir.complete
    if [[ -f $marker ]]; then
        echo "reusing $dir ($(cat "$marker"))" >&2
        return
    fi
    rm -rf "$dir"
    run "$MSGMETER" generate --out "$dir" --format "$format" --businesses 50 --customers 200000 \
        --start 2025-10-01 --days "$DAYS" --events-per-day $((size / DAYS)) --seed 1 \
        --files-per-day 4 | tee "$marker.tmp" >&2
    mv "$marker.tmp" "$marker"
}

# The commit measured, marked +dirty when the working tree differs from it.
source_version() {
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || {
        echo "unknown commit"
        return
    }
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit+="+dirty"
    echo "$commit"
}

# The manifest of the run whose id LOG's last "run <id>" names, or else the only manifest
# of COMMAND in LAKE/_runs (the lake is fresh, so there is one).
find_manifest() {
    local lake=$1 command=$2 log=$3
    local id path
    id=$(sed -n 's/.*; run \([^ ;]*\)$/\1/p' "$log" | tail -n 1)
    path=$lake/_runs/$id.json
    if [[ -n $id && -f $path ]]; then
        echo "$path"
        return
    fi
    local found=()
    mapfile -t found < <(find "$lake/_runs" -maxdepth 1 -name "*-$command-*.json" 2>/dev/null | LC_ALL=C sort)
    if ((${#found[@]} != 1)); then
        echo "$(basename "$0" .sh): expected one *-$command-*.json in $lake/_runs, found ${#found[@]}; see $log" >&2
        return 1
    fi
    echo "${found[0]}"
}
