#!/usr/bin/env bash
# The README's figures of 2026-11-30 on a 2-GPU H200, in three calls of under ten minutes each and a
# short fourth, from the project root:
#   CORPUS=../shared/corpus OUT=runs/part-N bash bench/h200_second_seeds.sh 1|2|3|4
# GPU 0, every part: a 50-trial study of `small` with every default (the moves sampler, the median
#   pruner, 20M tokens a trial), continued from part to part (a trial cut off by the time limit is
#   queued again); part 3 then confirms its pick and the baselines at 4 fresh seeds.
# GPU 1: the fidelity panel at 100M tokens, seed 1 (seed 0 is in runs of bench/h200_fidelity.sh),
#   4, 3 and 2 schedules a part; then the base recipe at fresh seeds beside the seed-0 sweep.
# Part 4: two more base recipe runs, one a GPU (part 1's was cut off by the call's time limit).
# Merge with: python -m bench.fidelity --merge <earlier parts> fidelity-100M-1-*.json
#             python -m bench.recipe --merge <the seed-0 base sweep> recipe-base-*.json
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
OUT=${OUT:-runs/h200}
WORK=${WORK:-runs/default-study}  # the study, kept between parts; copied to $OUT after each
STUDY_S=${STUDY_S:-540}           # how long the study may run in this part (then SIGTERM)
CONFIRM_S=${CONFIRM_S:-300}
part=${1:-}
mkdir -p "$OUT" "$WORK"
STUDY=(--study default50 --storage "$WORK/studies.db")
declare -A SCHEDULES=(
    [1]="uniform hand-found wide-first wide-last"
    [2]="study-7661 ramp agreeA-trial-18=8,7,3,5,3,2,5,3,6,1,4,1"
    [3]="agreeA-trial-14=6,6,1,1,4,2,3,2,5,7,4,7 agreeA-trial-7=6,2,1,3,3,1,6,5,1,6,7,7"
)
declare -A RECIPE=(
    [1]="--lr 1.5e-3 --warmup 0.2 --seeds 1 --schedules wide-first"
    [2]="--lr 1e-3 --warmup 0.3 --seeds 1"
    [3]="--lr 1.25e-3 --warmup 0.3 --seeds 1"
)
if [[ $part == 4 ]]; then
    python3 -m bench.recipe --preset base "${DATA[@]}" --gpus 1 --lr 1.5e-3 --warmup 0.2 --seeds 1 \
        --schedules wide-first --out "$OUT/recipe-base-4.json" > "$OUT/recipe-4.log" 2>&1 &
    python3 -m bench.recipe --preset base "${DATA[@]}" --gpus 0 --lr 1.25e-3 --warmup 0.3 --seeds 0 \
        --schedules wide-first --out "$OUT/recipe-base-5.json" > "$OUT/recipe-5.log" 2>&1 &
    wait
    exit
fi
[[ -n "${SCHEDULES[$part]:-}" ]] || { echo "usage: bash bench/h200_second_seeds.sh 1|2|3|4" >&2; exit 2; }

(
    timeout -s TERM "$STUDY_S" python3 -m search.run --preset small --trials 50 --gpus 0 "${STUDY[@]}" \
        "${DATA[@]}" > "$OUT/study-$part.log" 2>&1
    if [[ $part == 3 ]]; then
        CUDA_VISIBLE_DEVICES=0 timeout -s TERM "$CONFIRM_S" python3 -m search.confirm "${STUDY[@]}" \
            --top 1 --seeds 4 > "$OUT/confirm.log" 2>&1
    fi
    cp -r "$WORK"/. "$OUT/study/"
) &
(
    # shellcheck disable=SC2086  # the lists above are word-split on purpose
    python3 -m bench.fidelity --preset small "${DATA[@]}" --gpus 1 --tokens 100M --seeds 1 \
        --schedules ${SCHEDULES[$part]} --out "$OUT/fidelity-100M-1-$part.json" > "$OUT/fidelity-$part.log" 2>&1
    # shellcheck disable=SC2086
    python3 -m bench.recipe --preset base "${DATA[@]}" --gpus 1 ${RECIPE[$part]} \
        --out "$OUT/recipe-base-$part.json" > "$OUT/recipe-$part.log" 2>&1
) &
wait
