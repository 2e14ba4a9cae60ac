#!/usr/bin/env bash
# The figures of 2026-11-30 (eleventh session) on a 2-GPU H200, in calls of under ten minutes, from
# the project root:
#   CORPUS=../shared/corpus OUT=runs/part-N bash bench/h200_budget.sh 1|2|3|4
# Parts 1 and 2: the fidelity panel at 50M tokens, seeds 0 and 1 (#18: the smallest budget that ranks
#   like 100M), and the repeat noise of `base` at its new recipe, three runs at the study seed.
# Part 3: the panel at 35M tokens (one pass over the books + wiki train shards), seeds 0 and 1, and
#   base's last two repeat-noise schedules.
# Part 4 (fifteenth session): four more repeats of base's ramp, whose three had a repeat sd of 0.018.
# Merge with: python -m bench.fidelity --merge <earlier parts> fidelity-50M-*.json fidelity-35M.json
#             python -m bench.noise --merge noise-base-*.json
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
OUT=${OUT:-runs/h200}
mkdir -p "$OUT"
FIRST=(uniform hand-found wide-first wide-last ramp)
SECOND=(study-7661 agreeA-trial-18=8,7,3,5,3,2,5,3,6,1,4,1 agreeA-trial-14=6,6,1,1,4,2,3,2,5,7,4,7
        agreeA-trial-7=6,2,1,3,3,1,6,5,1,6,7,7)
fidelity() {  # tokens, output name, schedules...
    local tokens=$1 name=$2
    shift 2
    python3 -m bench.fidelity --preset small "${DATA[@]}" --gpus 0,1 --tokens "$tokens" --seeds 0 1 \
        --schedules "$@" --out "$OUT/$name.json" > "$OUT/$name.log" 2>&1
}
base_repeats() {  # output name, schedules...
    local name=$1
    shift
    python3 -m bench.noise --preset base "${DATA[@]}" --gpus 0,1 --repeats 3 --seeds 1 \
        --variant-schedules --schedules "$@" --out "$OUT/$name.json" > "$OUT/$name.log" 2>&1
}
case "${1:-}" in
1)
    fidelity 50M fidelity-50M-1 "${FIRST[@]}"
    base_repeats noise-base-1 wide-first hand-found
    ;;
2)
    fidelity 50M fidelity-50M-2 "${SECOND[@]}"
    base_repeats noise-base-2 uniform study-7661
    ;;
3)
    fidelity 35M fidelity-35M "${FIRST[@]}" "${SECOND[@]}"
    base_repeats noise-base-3 wide-last ramp
    ;;
4)
    python3 -m bench.noise --preset base "${DATA[@]}" --gpus 0,1 --repeats 4 --seeds 1 \
        --variant-schedules --schedules ramp --out "$OUT/noise-base-4.json" > "$OUT/noise-base-4.log" 2>&1
    ;;
*)
    echo "usage: bash bench/h200_budget.sh 1|2|3|4" >&2
    exit 2
    ;;
esac
