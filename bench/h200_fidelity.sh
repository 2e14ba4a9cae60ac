#!/usr/bin/env bash
# The README's fidelity figures ("Does a short-budget winner hold?") and the noise added to them,
# on a 2-GPU H200 in three parts of under ten minutes each, from the project root:
#   CORPUS=../shared/corpus STUDIES=studies.db STUDY=agreeA OUT=runs/fidelity \
#     bash bench/h200_fidelity.sh short|long|rest
# short: the panel and the study's top 3 at 5M, 10M and 20M tokens, seed 0 on GPU 0, seed 1 on GPU 1.
# long:  the same schedules but the study's third at 100M tokens, seed 0, on both GPUs.
# rest:  the third at 100M, then more repeats of the two noisiest panel schedules and the trainer
#        beside the reference (GPU 0); the small panel's top 3 at 20M and the baselines on `base`,
#        seeds 0 and 1 (GPU 1). Merge with: python -m bench.fidelity --merge "$OUT"/fidelity-*.json
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/h200_data.sh"
STUDIES=${STUDIES:-studies.db}
STUDY=${STUDY:-agreeA}
OUT=${OUT:-runs/fidelity}
REFERENCE=${REFERENCE:-../shared/bench/reference_decoder.py}
mkdir -p "$OUT"
PANEL=(uniform hand-found wide-first wide-last study-7661 ramp)
FIDELITY=(python3 -m bench.fidelity --preset small "${DATA[@]}")

case "${1:-}" in
short)
    for seed in 0 1; do
        "${FIDELITY[@]}" --gpus "$seed" --tokens 20M 10M 5M --seeds "$seed" --schedules "${PANEL[@]}" \
            --study "$STUDY" --storage "$STUDIES" --top 3 --out "$OUT/fidelity-short-$seed.json" \
            > "$OUT/fidelity-short-$seed.log" 2>&1 &
    done
    wait
    ;;
long)
    "${FIDELITY[@]}" --gpus 0,1 --tokens 100M --seeds 0 --schedules "${PANEL[@]}" \
        --study "$STUDY" --storage "$STUDIES" --top 2 --out "$OUT/fidelity-long.json" > "$OUT/fidelity-long.log" 2>&1
    ;;
rest)
    third=$(python3 -c "
from bench.fidelity import study_top
name, mults = list(study_top('$STUDIES', '$STUDY', 3).items())[2]
print(name + '=' + ','.join(map(str, mults)))")
    # The small panel's three best at 20M (mean of seeds 0 and 1), with the baselines, for base.
    python3 -m bench.fidelity --merge "$OUT"/fidelity-short-*.json --out "$OUT/short-merged.json" > /dev/null
    mapfile -t for_base < <(python3 -c "
from bench.panel import PANEL
import json
report = json.load(open('$OUT/short-merged.json'))
at20 = next(b for b in report['budgets'] if b['tokens'] == 20_000_000)
for name in dict.fromkeys([*at20['ranking'][:3], 'uniform', 'hand-found']):
    mults = ','.join(map(str, at20['schedules'][name]['mults']))
    print(name if name in PANEL else f'{name}={mults}')")
    (
        "${FIDELITY[@]}" --gpus 0 --tokens 100M --seeds 0 --schedules "$third" \
            --out "$OUT/fidelity-long-3.json" > "$OUT/fidelity-long-3.log" 2>&1
        python3 -m bench.noise --preset small "${DATA[@]}" --gpus 0 --schedules hand-found ramp \
            --repeats 5 --seeds 1 --variant-schedules --out "$OUT/noise-small-more.json" > "$OUT/noise-small-more.log" 2>&1
        CUDA_VISIBLE_DEVICES=0 python3 -m bench.trainer --presets small "${DATA[@]}" --reference "$REFERENCE" \
            > "$OUT/trainer.jsonl" 2> "$OUT/trainer.err"
    ) &
    python3 -m bench.noise --preset base "${DATA[@]}" --gpus 1 --schedules "${for_base[@]}" \
        --repeats 1 --seeds 2 --variant-schedules --out "$OUT/noise-base.json" > "$OUT/noise-base.log" 2>&1 &
    wait
    ;;
*)
    echo "usage: bash bench/h200_fidelity.sh short|long|rest" >&2
    exit 2
    ;;
esac
