#!/usr/bin/env bash
# The H200 figures of the README in one run on a 2-GPU machine, from the project root:
#   CORPUS=../shared/corpus REFERENCE=../shared/bench/reference_decoder.py OUT=runs/h200 bash bench/h200.sh
# 1. trainer throughput beside the reference decoder (GPU 1), while
# 2. a study of the small preset runs its first trials on one GPU (GPU 0); then
# 3. the same study continues to 50 trials on both GPUs (trials per hour: 1 vs 2 GPUs); then
# 4. the top 3 schedules and the baselines are confirmed with 3 paired seeds; the best config
#    is exported and the HTML report written.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
REFERENCE=${REFERENCE:-../shared/bench/reference_decoder.py}
OUT=${OUT:-runs/h200}
WORK=${WORK:-runs/h200-work}  # the study and its artifacts; only the summary files go to $OUT
TOKENS=${TOKENS:-5M}
mkdir -p "$OUT" "$WORK"
STORAGE=$WORK/studies.db
STUDY=(--preset small --tokens "$TOKENS" --study h200 --storage "$STORAGE")

CUDA_VISIBLE_DEVICES=1 timeout 240 python3 -m bench.trainer --presets small "${DATA[@]}" \
    --reference "$REFERENCE" > "$OUT/trainer.jsonl" 2> "$WORK/trainer.err" &
timeout 200 python3 -m search.run --trials 10 --gpus 0 "${STUDY[@]}" "${DATA[@]}" > "$OUT/study-1gpu.log" 2>&1
wait
timeout 190 python3 -m search.run --trials 50 --gpus 0,1 "${STUDY[@]}" "${DATA[@]}" > "$OUT/study-2gpu.log" 2>&1
timeout 120 python3 -m search.confirm --study h200 --storage "$STORAGE" --top 3 --seeds 3 > "$OUT/confirm.log" 2>&1
python3 -m search.best --study h200 --storage "$STORAGE" --out "$OUT/h200-best.json"
python3 -m search.report --study h200 --storage "$STORAGE" --out "$OUT/report.html"
cp "$STORAGE" "$OUT/studies.db"
tail -n 5 "$WORK/trainer.err"
