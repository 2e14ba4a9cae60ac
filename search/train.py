"""Train one schedule: ``python -m search.train --config FILE`` or ``--preset NAME --mults 8,4,...``

Prints progress, then writes a results JSON and the loss curve (PNG and CSV) next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from model.presets import PRESETS
from search.devices import training_device
from search.results import default_results_path, write_results
from search.run_options import resolve_run
from search.trainer import TrainingFailed, train
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Parse, prepare data, train, write results; exit 2 on bad input, 1 on a failed run."""
    args = _parser().parse_args(argv)
    try:
        run, prepared = resolve_run(args)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    print(
        f"training {run.model.schedule.key} ({run.model.params:,} parameters) on {run.train.tokens:,} tokens"
    )
    device = training_device()
    if device.type == "cuda" and not run.train.deterministic:
        print(
            "note: GPU kernels are not deterministic here, so a rerun's loss differs by about seed "
            "noise; --deterministic (also for search.run) repeats a loss exactly"
        )
    try:
        result = train(run, prepared.tokens, prepared.tokenizer, device, progress=True)
    except TrainingFailed as e:
        print(f"training failed: {e.reason}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else default_results_path(run)
    write_results(run, result, out)
    print(json.dumps({"val_loss": result.val_loss, "val_bpb": result.val_bpb, "results": str(out)}))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m search.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="a run config JSON, as written by search.best")
    parser.add_argument(
        "--preset", help=f"model size when no config: {', '.join(PRESETS)} (default: by device)"
    )
    parser.add_argument(
        "--mults", help="per-layer multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4 (default uniform)"
    )
    parser.add_argument("--data", nargs="+", help="training files, folders or globs (default: ./data)")
    parser.add_argument(
        "--val-data", nargs="+", help="validation files (default: a held-out share of --data)"
    )
    parser.add_argument(
        "--tokenizer", help="a tokenizer.json (default: a BPE trained on the data and cached)"
    )
    parser.add_argument("--tokens", help="training tokens, e.g. 20M or 1.5B (default: the preset's)")
    parser.add_argument("--seed", type=int, help="weight init and data order (default: the config's, or 0)")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels, so a rerun repeats the loss exactly (default: the config's, or off)",
    )
    parser.add_argument("--out", help="results JSON path (default: runs/<preset>-<schedule>-seed<seed>.json)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
