#!/usr/bin/env bash
# A study as fast as its GPUs (#19) on a 2-GPU H200, in calls of under ten minutes, from the project
# root:
#   CORPUS=.corpus OUT=$OUT bash bench/h200_scaling.sh fresh|cold|cold2|one|exits|two|startup|probe|imports|tests
# cold: a fresh study with empty compile caches (--compile-cache into an emptied folder), 6 trials
#       on GPU 0 at 20M tokens (part 2): when the first trial is training (first_training_s, goal
#       <= 15 s) and what it and the later trials compile (later_compile_s, goal <= 10 s), with
#       background compiling; then a new 4-trial study given the same folder (the kernels kept).
# fresh: on a fresh machine, the first launch (a 2-trial study at 2M tokens: data, bytecode and
#       kernels all cold), then the `cold` study of 6 trials (compile caches and kept bytecode
#       emptied, data kept), then two more cold launches (2 trials at 4M) for the first trial's
#       spread.
# cold2: the same cold study on GPUs 0 and 1, 8 trials: each worker's figures (one background
#       warm-up for the host; the second worker's later trials reuse it).
# The kernels go to $KERNELS (default /tmp/hourglass-kernels), not $OUT: they are hundreds of MB.
# one:  the 20-trial default study at 20M tokens (the issue's measurement; at 100M it runs 37
#       minutes) on GPU 0, caches warm: study efficiency and per-trial overhead (parts 1, 3).
#       On a fresh machine it first runs a 4-trial study at 4M tokens, so that the background
#       warm-up has filled the default caches, as on a machine that has run a study before.
#       About nine minutes: a call's ten-minute limit leaves no room for `exits` after it.
# exits: what Inductor's compile workers cost a process's exit (bench.compile_workers_exit).
# two:  the same on GPUs 0 and 1 (parts 1 and 4: trials per hour against one, each worker's start).
# startup: where each worker's time goes before its first trial on GPUs 0 and 1 (part 4: the
#       spawned worker started 4.4 s after worker 0 in `two`), phases and the real command.
# probe: startup, then a warm worker's trials split into setup, compiling, steps, evaluation and
#       the rest (bench.overhead, 4 trials at 20M, part 3), then the trainer against the reference
#       decoder for small and base (bench.trainer, part 5).
# tests: every GPU-marked test (pytest -m gpu), its log in $OUT.
# imports: what a worker's imports cost on the host (python -X importtime), alone and with a second
#       process importing the same at once, as a spawned worker does beside worker 0 (part 4).
# The studies of one and two are kept in $OUT (journal and pictures) for bench.trial_overhead.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
OUT=${OUT:-runs/h200}
KERNELS=${KERNELS:-/tmp/hourglass-kernels}
mkdir -p "$OUT"
STUDY=(--preset small --pruner none --tokens 20M "${DATA[@]}")
scaling() {  # output name, bench.scaling options...
    local name=$1
    shift
    python3 -m bench.scaling --storage "$OUT/$name.db" "$@" -- "${STUDY[@]}" > "$OUT/$name.log" 2>&1
    tail -1 "$OUT/$name.log" > "$OUT/$name.json"
}
case "${1:-}" in
cold)
    rm -rf "$KERNELS/1gpu"
    STUDY+=(--compile-cache "$KERNELS/1gpu")
    scaling scaling-cold --cold --gpus 0 --trials 6
    scaling scaling-kept --gpus 0 --trials 4
    ;;
fresh)
    (STUDY=(--preset small --pruner none --tokens 2M "${DATA[@]}"); scaling scaling-first-launch --gpus 0 --trials 2)
    scaling scaling-cold --cold --gpus 0 --trials 6
    for i in 2 3; do
        (STUDY=(--preset small --pruner none --tokens 4M "${DATA[@]}"); scaling scaling-cold-$i --cold --gpus 0 --trials 2)
    done
    ;;
cold2)
    rm -rf "$KERNELS/2gpu"
    STUDY+=(--compile-cache "$KERNELS/2gpu")
    scaling scaling-cold-2gpu --cold --gpus 0,1 --trials 8
    ;;
one)
    (STUDY=(--preset small --pruner none --tokens 4M "${DATA[@]}"); scaling scaling-warm-up --gpus 0 --trials 4)
    scaling scaling-1gpu --gpus 0 --trials 20
    ;;
exits)
    python3 -m bench.compile_workers_exit > "$OUT/compile-workers-exit.log" 2>&1
    ;;
two)
    scaling scaling-2gpu --gpus 0,1 --trials 20
    ;;
startup)
    python3 -m bench.startup --workers 2 --preset small --tokens 2M --e2e "${DATA[@]}" \
        > "$OUT/startup-2gpu.log" 2>&1
    ;;
imports)
    WORKER="import search.run, search.trials.working"
    python3 -X importtime -c "$WORKER" 2> "$OUT/importtime-alone.txt"
    python3 -X importtime -c "$WORKER" 2> "$OUT/importtime-pair-1.txt" &
    python3 -X importtime -c "$WORKER" 2> "$OUT/importtime-pair-2.txt"
    wait
    ;;
tests)
    python3 -m pytest -q -m gpu tests/ > "$OUT/gpu-tests.log" 2>&1
    ;;
probe)
    bash "${BASH_SOURCE[0]}" startup
    python3 -m bench.overhead --preset small --trials 4 --tokens 20M "${DATA[@]}" > "$OUT/overhead.log" 2>&1
    python3 -m bench.trainer --presets small base "${DATA[@]}" --reference "$CORPUS/reference_decoder.py" \
        > "$OUT/trainer.log" 2>&1
    ;;
*)
    echo "usage: bash bench/h200_scaling.sh fresh|cold|cold2|one|exits|two|startup|probe|imports|tests" >&2
    exit 2
    ;;
esac
