#!/usr/bin/env bash
# Two studies agree? (the trial-recipe issue, part 6) at `small`'s default of 100M tokens: the same
# 20-trial study twice as fresh studies, one per GPU of a 2-GPU H200, in calls of under ten minutes.
# Each call continues both studies for --time-limit (no trial is cut off), so the study files must
# travel back and forth: keep them in an ignored folder that every call carries.
#   CORPUS=.corpus STATE=.agree OUT=$OUT bash bench/h200_agree.sh studies   # until both have 20 trials
#   CORPUS=.corpus STATE=.agree OUT=$OUT bash bench/h200_agree.sh retrain   # each pick, retrained
# Then copy $OUT's study files into STATE for the next call. Costs about 20 x 110 s a study, on two
# GPUs about 40 minutes of device time over five calls, and two retrains.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
STATE=${STATE:-runs/agree100}
OUT=${OUT:-$STATE}
LIMIT=${LIMIT:-9m}
mkdir -p "$STATE" "$OUT"
STUDIES=(agree100A agree100B)
study() {  # name, GPU
    python3 -m search.run --preset small --pruner none --trials 20 --study "$1" \
        --storage "$STATE/$1.db" --gpus "$2" --time-limit "$LIMIT" "${DATA[@]}" > "$OUT/$1.log" 2>&1
    echo "$1: exit code $? (75: stopped at the time limit, run again to continue)"
    [ "$STATE" -ef "$OUT" ] || cp "$STATE/$1.db" "$OUT/$1.db"
}
retrain() {  # name, GPU
    python3 -m search.best --rule model --study "$1" --storage "$STATE/$1.db" --out "$OUT/$1-best.json" \
        > "$OUT/$1-retrain.log" 2>&1 &&
        CUDA_VISIBLE_DEVICES=$2 python3 -m search.train --config "$OUT/$1-best.json" "${DATA[@]}" \
            >> "$OUT/$1-retrain.log" 2>&1
    echo "$1: retrain exit code $?"
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
