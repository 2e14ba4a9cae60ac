#!/usr/bin/env bash
# A study as fast as its GPUs (#19) on a 2-GPU H200, in calls of under ten minutes, from the project
# root (not yet run):
#   CORPUS=.corpus OUT=$OUT bash bench/h200_scaling.sh cold|one|two
# cold: a fresh study with empty Inductor and Triton caches, 4 trials on GPU 0 at 20M tokens: when
#       the first trial starts and how long each trial compiles (part 2), then the same warm.
# one:  the 20-trial default study at 20M tokens (the issue's measurement; at 100M it runs 37
#       minutes) on GPU 0, caches warm: study efficiency and per-trial overhead (parts 1, 3).
# two:  the same on GPUs 0 and 1 (parts 1 and 4: trials per hour against one, each worker's start).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
OUT=${OUT:-runs/h200}
mkdir -p "$OUT"
STUDY=(--preset small --pruner none --tokens 20M "${DATA[@]}")
scaling() {  # output name, bench.scaling options...
    local name=$1
    shift
    python3 -m bench.scaling "$@" -- "${STUDY[@]}" > "$OUT/$name.log" 2>&1
    tail -1 "$OUT/$name.log" > "$OUT/$name.json"
}
case "${1:-}" in
cold)
    scaling scaling-cold --cold --gpus 0 --trials 4
    scaling scaling-warm --gpus 0 --trials 4
    ;;
one)
    scaling scaling-1gpu --gpus 0 --trials 20
    ;;
two)
    scaling scaling-2gpu --gpus 0,1 --trials 20
    ;;
*)
    echo "usage: bash bench/h200_scaling.sh cold|one|two" >&2
    exit 2
    ;;
esac
