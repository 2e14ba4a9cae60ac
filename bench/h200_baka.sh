#!/usr/bin/env bash
# A recipe for `baka` (the trial-recipe issue, part 3: "and baka if device time allows") on a 2-GPU
# H200, in calls of under ten minutes, from the project root:
#   CORPUS=.corpus STATE=runs/baka OUT=$OUT bash bench/h200_baka.sh 1|2|3
# 1: the sweep at baka's 20M tokens, peak lr 7e-4, 1e-3, 1.4e-3, 2e-3 with 30% warm-up (the share
#    that was best at every rate on small and base) on uniform, wide-first and wide-last, seed 0;
#    then the recipe baka had until 2026-11-30 (1e-3, 5% warm-up) on the same three.
# 2: the recipe with the smallest worst gap (bench.recipe's rule) is the candidate; the repeat and
#    seed noise of hand-found, study-7661 and ramp at it (3 repeats at seed 0, seed 1).
# 3: the same for uniform, wide-first and wide-last.
# STATE keeps the parts between calls on the machine (an ignored folder); each part's report and log
# are also copied to OUT (a call brings back at most 8 files). Report with:
#   python -m bench.recipe --merge recipe-baka-*.json noise-baka-*.json
#   python -m bench.noise --merge noise-baka-*.json
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
STATE=${STATE:-runs/baka}
OUT=${OUT:-$STATE}
mkdir -p "$STATE" "$OUT"
sweep() {  # output name, bench.recipe options...
    local name=$1
    shift
    python3 -m bench.recipe --preset baka "${DATA[@]}" --gpus 0,1 --schedules uniform wide-first wide-last \
        "$@" --out "$STATE/$name.json" > "$STATE/$name.log" 2>&1
    echo "$name: exit code $?"
    kept "$name"
}
kept() {  # output name: its report and log into OUT
    [ "$STATE" -ef "$OUT" ] || cp "$STATE/$1".* "$OUT"/
}
candidate() {  # the swept recipe with the smallest worst gap, as "--lr L --warmup W"
    # Named outside the parts' pattern: merged again with them, its runs would count twice.
    python3 -m bench.recipe --merge "$STATE"/recipe-baka-*.json --out "$STATE/merged-recipe-baka.json" \
        > "$STATE/merged-recipe-baka.log" 2>&1 || return 1
    python3 -c '
import json, sys
recipes = json.load(open(sys.argv[1]))["recipes"]
best = min((r for r in recipes if r["worst_gap"] is not None), key=lambda r: r["worst_gap"])
print("--lr %s --warmup %s" % (best["lr"], best["warmup_frac"]))' "$STATE/merged-recipe-baka.json"
}
noise() {  # output name, schedules...
    local name=$1 recipe
    shift
    recipe=$(candidate) || { echo "no candidate: see $STATE/merged-recipe-baka.log"; return 1; }
    echo "$name: candidate $recipe"
    # shellcheck disable=SC2086  # the candidate is two options and their values
    python3 -m bench.noise --preset baka "${DATA[@]}" --gpus 0,1 --repeats 3 --seeds 2 --variant-schedules \
        $recipe --schedules "$@" --out "$STATE/$name.json" > "$STATE/$name.log" 2>&1
    echo "$name: exit code $?"
    kept "$name"
}
case "${1:-}" in
1)
    sweep recipe-baka-1 --lr 1e-3 2e-3 --warmup 0.3
    sweep recipe-baka-2 --lr 7e-4 1.4e-3 --warmup 0.3
    sweep recipe-baka-0 --lr 1e-3 --warmup 0.05
    ;;
2) noise noise-baka-1 hand-found study-7661 ramp ;;
3) noise noise-baka-2 uniform wide-first wide-last ;;
*)
    echo "usage: bash bench/h200_baka.sh 1|2|3" >&2
    exit 2
    ;;
esac
