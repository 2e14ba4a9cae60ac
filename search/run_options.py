"""What ``python -m search.train`` trains: a run config from a file or a preset, and its data."""

from __future__ import annotations

import argparse
import sys

from model.presets import get_preset
from search.config import DataSpec, RunConfig, load_run_config
from search.counts import parse_count
from search.devices import default_preset
from search.prepare import PreparedData, base_run_config, prepare_data, provenance, train_changes
from space.schedule import Schedule, parse_mults


def resolve_run(args: argparse.Namespace) -> tuple[RunConfig, PreparedData]:
    """The run ``--config`` (with overrides) or ``--preset``/``--mults`` describe, on prepared data.

    Raises ValueError (or a pydantic ValidationError) for any bad input, before training.
    """
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
        changes = train_changes(tokens, args.deterministic)
        if changes:
            update["train"] = {**loaded.train.model_dump(), **changes}
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
    run = base_run_config(name, preset, data, prepared, tokens, seed, schedule, args.deterministic)
    return run, prepared


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
