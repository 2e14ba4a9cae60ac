#!/usr/bin/env bash
# The figures of 2026-11-30 (twelfth session) on a 2-GPU H200: `small` at its default of 100M
# tokens, in calls of under ten minutes, from the project root:
#   CORPUS=../shared/corpus OUT=runs/part-N bash bench/h200_100M.sh 1|2|3|4|5
# Repeat noise: every panel schedule three times at the study seed (two runs in parts 1-2, the third
#   in part 3), training-loss curves kept for the spikes beyond the panel.
# Recipe fit: peak lr 1.4e-3 and 2.8e-3 (2e-3 over and under by sqrt 2) on uniform and wide-first,
#   2.8e-3 on wide-last and 4e-3 on uniform, 30% warm-up, seed 0, to compare with the default's
#   runs at the same seed. Part 4 (run 2026-11-30): 2.8e-3 and 4e-3 beat 2e-3, and 4e-3 is the grid's
#   top, so 4e-3 and 5.6e-3 on the extremes, 5.6e-3 on uniform, and 2.8e-3 on ramp (100M's best
#   schedule), to find the top of the rate curve and whether the schedules' order moves with it.
# Part 5 (run 2026-11-30, eighteenth session): the warm-up share at 100M, which parts 1-4 kept at
#   30% (the best share at 20M, where a run has a fifth of the steps): 10% and 20% at the default
#   rate on uniform and the two extremes. Neither beat 30% beyond the noise (README).
# Each part is two commands, so that one killed at the call's limit leaves the other's report.
# Merge with: python -m bench.noise --merge noise-100M-*.json
#             python -m bench.recipe --merge recipe-100M-*.json
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
OUT=${OUT:-runs/h200}
mkdir -p "$OUT"
repeats() {  # output name, runs of each at seed 0, schedules...
    local name=$1 repeats=$2
    shift 2
    python3 -m bench.noise --preset small "${DATA[@]}" --gpus 0,1 --repeats "$repeats" --seeds 1 \
        --variant-schedules --schedules "$@" --out "$OUT/$name.json" > "$OUT/$name.log" 2>&1
}
learning_rates() {  # output name, GPUs, peak lrs, schedules...
    local name=$1 gpus=$2 lrs=$3
    shift 3
    python3 -m bench.recipe --preset small "${DATA[@]}" --gpus "$gpus" --lr $lrs --warmup 0.3 \
        --schedules "$@" --out "$OUT/$name.json" > "$OUT/$name.log" 2>&1
}
warm_ups() {  # output name, warm-up shares, schedules...: the default peak lr
    local name=$1 shares=$2
    shift 2
    python3 -m bench.recipe --preset small "${DATA[@]}" --gpus 0,1 --lr 2e-3 --warmup $shares \
        --schedules "$@" --out "$OUT/$name.json" > "$OUT/$name.log" 2>&1
}
case "${1:-}" in
1)
    repeats noise-100M-1 2 uniform hand-found
    repeats noise-100M-2 2 wide-first wide-last
    ;;
2)
    repeats noise-100M-3 2 study-7661 ramp
    learning_rates recipe-100M-1 0,1 "1.4e-3 2.8e-3" uniform wide-first
    ;;
3)
    # 2.8e-3 beat 2e-3 on both schedules of part 2: one run further up on uniform, beside wide-last.
    learning_rates recipe-100M-2 0 2.8e-3 wide-last &
    learning_rates recipe-100M-3 1 4e-3 uniform
    wait
    repeats noise-100M-4 1 uniform hand-found wide-first wide-last study-7661 ramp
    ;;
4)
    learning_rates recipe-100M-4 0,1 "4e-3 5.6e-3" wide-first wide-last
    learning_rates recipe-100M-5 0 5.6e-3 uniform &
    learning_rates recipe-100M-6 1 2.8e-3 ramp
    wait
    ;;
5) warm_ups recipe-100M-7 "0.1 0.2" uniform wide-first wide-last ;;
*)
    echo "usage: bash bench/h200_100M.sh 1|2|3|4|5" >&2
    exit 2
    ;;
esac
