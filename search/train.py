"""Train one schedule: ``python -m search.train --config FILE`` or ``--preset NAME --mults 8,4,...``

Prints progress, then writes a results JSON and the loss curve (PNG and CSV) next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from model.presets import PRESETS, get_preset
from search.config import DataSpec, RunConfig, load_run_config
from search.counts import parse_count
from search.devices import default_preset, training_device
from search.plots import plot_loss_curve
from search.prepare import base_run_config, prepare_data, provenance
from search.trainer import TrainingFailed, train
from space.errors import describe
from space.schedule import Schedule, parse_mults


def main(argv: list[str] | None = None) -> int:
    """Parse, prepare data, train, write results; exit 2 on bad input, 1 on a failed run."""
    args = _parser().parse_args(argv)
    try:
        run, prepared = _resolve(args)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    print(
        f"training {run.model.schedule.key} ({run.model.params:,} parameters) on {run.train.tokens:,} tokens"
    )
    try:
        result = train(run, prepared.tokens, prepared.tokenizer, training_device(), progress=True)
    except TrainingFailed as e:
        print(f"training failed: {e.reason}", file=sys.stderr)
        return 1
    out = Path(
        args.out
        or f"runs/{run.preset or 'run'}-{run.model.schedule.key.replace(',', '-')}-seed{run.seed}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": run.model_dump(mode="json"),
        "result": result.summary(),
        "loss_curve": result.loss_curve,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".curve.csv").write_text(
        "step,loss\n" + "".join(f"{i + 1},{v}\n" for i, v in enumerate(result.loss_curve))
    )
    tokens_per_step = run.train.batch_size * run.model.context
    plot_loss_curve(result.loss_curve, tokens_per_step, result.checkpoints, out.with_suffix(".curve.png"))
    print(json.dumps({"val_loss": result.val_loss, "val_bpb": result.val_bpb, "results": str(out)}))
    return 0


def _resolve(args: argparse.Namespace):
    tokens = parse_count(args.tokens) if args.tokens else None
    if args.config:
        loaded = load_run_config(args.config)
        data = _data_spec(args, loaded.data)
        prepared = prepare_data(data, loaded.model.vocab_size)
        recorded = loaded.provenance.data_hash if loaded.provenance else None
        if recorded and recorded != prepared.tokens.key:
            print(f"note: the data differs from what {args.config} was trained on", file=sys.stderr)
        update = {
            "data": data.model_dump(),
            "seed": loaded.seed if args.seed is None else args.seed,
            "provenance": provenance(prepared).model_dump(),
        }
        if tokens is not None:
            update["train"] = {**loaded.train.model_dump(), "tokens": tokens}
        return RunConfig.model_validate({**loaded.model_dump(), **update}), prepared
    name = args.preset
    if name is None:
        name, why = default_preset()
        print(why)
    preset = get_preset(name)
    schedule = (
        Schedule(budget=preset.model.budget, mults=tuple(parse_mults(args.mults))) if args.mults else None
    )
    data = _data_spec(args, None)
    prepared = prepare_data(data, preset.model.vocab_size)
    seed = 0 if args.seed is None else args.seed
    return base_run_config(name, preset, data, prepared, tokens, seed, schedule), prepared


def _data_spec(args: argparse.Namespace, recorded: DataSpec | None) -> DataSpec:
    if recorded is not None and not args.data and not args.val_data and not args.tokenizer:
        return recorded
    base = recorded.model_dump() if recorded else {}
    return DataSpec.model_validate(
        {
            **base,
            "train": tuple(args.data or (recorded.train if recorded else ("data",))),
            "val": tuple(args.val_data or (recorded.val if recorded else ())),
            "tokenizer": args.tokenizer or (recorded.tokenizer if recorded else None),
        }
    )


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
    parser.add_argument("--out", help="results JSON path (default: runs/<preset>-<schedule>-seed<seed>.json)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
