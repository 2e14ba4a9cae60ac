#!/usr/bin/env bash
# Beat the baselines within the user's 50 trials (#16 part 5) at `small`'s default of 100M tokens:
# a 50-trial study with every default (the moves sampler, the margin pruner) on both GPUs of a 2-GPU
# H200, then `search.confirm` of its pick at 4 fresh seeds. About 50 x 110 s of training over two
# GPUs and about 10 confirmation runs over the same two, so it takes several calls of under ten
# minutes, from the project root:
#   CORPUS=.corpus STATE=runs/default100M-b OUT=$OUT bash bench/h200_default100M.sh
# (The first such study, in runs/default100M, pruned 41 of 50 trials on noise before the pruner's
# fix: README, "Pruning". runs/default100M-b is the margin pruner's. Give each fresh study its own
# STATE.)
# Each call continues the study for --time-limit (no trial is cut off); the call that completes it,
# and every later one, continues the confirmation until its time is up (a confirmation stores each
# run as it finishes and continues where it stopped). The study must travel from call to call: each
# call packs STATE (journal and the trials' pictures) into $OUT/state.tar.gz; unpack it into STATE
# and carry STATE in the next call. Exit code 75: run again. SEEDS (default 4) sets the confirmation's
# seeds: once the study is complete, SEEDS=15 extends its confirmation (each look then held to a
# stricter level; README, "At today's default of 100M tokens"). With .whl and .corpus, a carried STATE
# passes the 64 MiB a call may carry, even one with studies.db alone: keep the journal as the tracked
# bench/measured/default100M-b.journal, start the call with
#   mkdir -p runs/s16 && cp bench/measured/default100M-b.journal runs/s16/studies.db
# (STATE=runs/s16), and after the call copy the unpacked studies.db back over the tracked file.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
STATE=${STATE:-runs/default100M-b}
OUT=${OUT:-runs/h200}
LIMIT=${LIMIT:-540}  # seconds this call may spend
SEEDS=${SEEDS:-4}
GPUS=${GPUS:-0,1}  # 0 on a one-GPU machine
STUDY=(--study default100M --storage "$STATE/studies.db")
mkdir -p "$STATE" "$OUT"
started=$SECONDS
python3 -m search.run --preset small --trials 50 --gpus "$GPUS" "${STUDY[@]}" --time-limit "${LIMIT}s" \
    "${DATA[@]}" >> "$STATE/study.log" 2>&1
code=$?
echo "study: exit code $code (75: stopped at the time limit)"
left=$((LIMIT - (SECONDS - started)))
if [ "$code" -eq 0 ] && [ "$left" -lt 180 ]; then
    code=75  # too little time for one confirmation run (about 110 s and a start): the next starts it
elif [ "$code" -eq 0 ]; then
    # SIGTERM at the limit: the confirmation stores what it finished and ends.
    timeout "$left" python3 -m search.confirm "${STUDY[@]}" --top 1 --seeds "$SEEDS" >> "$STATE/confirm.log" 2>&1
    code=$?
    echo "confirmation: exit code $code"
    [ "$code" -eq 124 ] && code=75
fi
tar -czf "$OUT/state.tar.gz" -C "$STATE" .
tail -5 "$STATE/study.log"
[ -f "$STATE/confirm.log" ] && tail -30 "$STATE/confirm.log"
exit "$code"
