#!/usr/bin/env bash
# Two studies agree? (the trial-recipe issue, part 6) at `small`'s default of 100M tokens: the same
# 20-trial study twice as fresh studies, one per GPU of a 2-GPU H200, in calls of under ten minutes.
# Each call continues both studies for --time-limit (no trial is cut off), so the study files must
# travel back and forth: keep them in an ignored folder that every call carries.
#   CORPUS=.corpus STATE=.agree OUT=$OUT bash bench/h200_agree.sh studies   # until both have 20 trials
# A study that has its 20 trials has its model's pick exported and retrained in the same call
# (`retrain` alone does that for both). Copy $OUT's files into STATE after each call; then
#   python -m bench.agree .agree/agree100A.db .agree/agree100B.db --repeat-sd 0.0018 \
#       --retrained .agree/agree100A-retrained.json .agree/agree100B-retrained.json
# Costs about 20 x 110 s a study: 13 trials each took three calls of 450 to 560 s (2026-11-30).
# The trials' pictures stay on the GPU machine (a call brings back 8 files): the study files,
# logs and retrained results do.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
STATE=${STATE:-runs/agree100}
OUT=${OUT:-$STATE}
LIMIT=${LIMIT:-9m}
mkdir -p "$STATE" "$OUT"
STUDIES=(agree100A agree100B)
study() {  # name, GPU: continue the study; once it has its trials, retrain its pick
    python3 -m search.run --preset small --pruner none --trials 20 --study "$1" \
        --storage "$STATE/$1.db" --gpus "$2" --time-limit "$LIMIT" "${DATA[@]}" > "$OUT/$1.log" 2>&1
    local code=$?
    echo "$1: exit code $code (75: stopped at the time limit, run again to continue)"
    [ "$STATE" -ef "$OUT" ] || cp "$STATE/$1.db" "$OUT/$1.db"
    if [ "$code" -eq 0 ]; then retrain "$1" "$2"; fi
}
retrain() {  # name, GPU: the model's pick exported and trained again; its results JSON into OUT
    {
        python3 -m search.best --rule model --study "$1" --storage "$STATE/$1.db" --out "$STATE/$1-best.json" &&
            CUDA_VISIBLE_DEVICES=$2 python3 -m search.train --config "$STATE/$1-best.json" \
                --out "$STATE/$1-retrained.json" --overwrite "${DATA[@]}"
    } >> "$OUT/$1.log" 2>&1
    echo "$1: retrain exit code $?"
    [ "$STATE" -ef "$OUT" ] || cp "$STATE/$1-retrained.json" "$OUT/" 2>/dev/null
}
case "${1:-}" in
studies)
    study "${STUDIES[0]}" 0 &
    study "${STUDIES[1]}" 1 &
    wait
    ;;
retrain)
    retrain "${STUDIES[0]}" 0 &
    retrain "${STUDIES[1]}" 1 &
    wait
    ;;
*)
    echo "usage: bash bench/h200_agree.sh studies|retrain" >&2
    exit 2
    ;;
esac
