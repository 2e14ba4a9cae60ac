"""Options of ``python -m search.train``, and the run they describe: a config file or a preset, on data."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from model.presets import PRESETS, get_preset
from search.data.prepare import PreparedData, prepare_data
from search.data.spec import DataSpec
from search.options.common import Count, command_parser, read_options
from search.training.devices import default_preset
from search.training.provenance import provenance
from search.training.run_config import RunConfig, load_run_config
from space.schedule import Schedule, parse_mults


class TrainOptions(BaseModel):
    """What ``search.train`` is asked to train; None means "the config's, else the default"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: str | None = Field(None, description="a run config JSON, as written by search.best")
    preset: str | None = Field(None, description="model size when no config; None: by device")
    mults: str | None = Field(None, description="per-layer multipliers; None: uniform")
    data: tuple[str, ...] | None = None
    val_data: tuple[str, ...] | None = None
    tokenizer: str | None = None
    tokens: Count | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)
    deterministic: bool = False
    out: str | None = None


def read_train_options(doc: str | None, argv: Sequence[str] | None) -> TrainOptions:
    """The options of ``search.train``."""
    parser = command_parser("python -m search.train", doc)
    add = parser.add_argument
    add("--config", help="a run config JSON, as written by search.best")
    add("--preset", help=f"model size when no config: {', '.join(PRESETS)} (default: by device)")
    add("--mults", help="per-layer multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4 (default uniform)")
    add("--data", nargs="+", help="training files, folders or globs (default: ./data)")
    add("--val-data", nargs="+", help="validation files (default: a held-out share of --data)")
    add("--tokenizer", help="a tokenizer.json (default: a BPE trained on the data and cached)")
    add("--tokens", help="training tokens, e.g. 20M or 1.5B (default: the preset's)")
    add("--seed", type=int, help="weight init and data order (default: the config's, or 0)")
    add(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels, so a rerun repeats the loss exactly (default: the config's, or off)",
    )
    add("--out", help="results JSON path (default: runs/<preset>-<schedule>-seed<seed>.json)")
    return read_options(TrainOptions, parser, argv)


def resolve_run(options: TrainOptions) -> tuple[RunConfig, PreparedData]:
    """The run ``--config`` (with overrides) or ``--preset``/``--mults`` describe, on prepared data.

    Raises ValueError (or a pydantic ValidationError) for any bad input, before training.
    """
    # The flag only turns deterministic kernels on; the token budget is replaced when given.
    changes = {"tokens": options.tokens, "deterministic": options.deterministic or None}
    if options.config:
        loaded = load_run_config(options.config)
        data = _data_spec(options, loaded.data)
        prepared = prepare_data(data, loaded.model.vocab_size)
        recorded = loaded.provenance.data_hash if loaded.provenance else None
        if recorded and recorded != prepared.tokens.key:
            print(f"note: the data differs from what {options.config} was trained on", file=sys.stderr)
        run = loaded.variant(data=data, seed=options.seed, provenance=provenance(prepared), **changes)
        return run, prepared
    name = options.preset
    if name is None:
        name, why = default_preset()
        print(why)
    model = get_preset(name).model
    schedule = None
    if options.mults:
        schedule = Schedule(budget=model.budget, mults=tuple(parse_mults(options.mults)))
    data = _data_spec(options, None)
    prepared = prepare_data(data, model.vocab_size)
    run = RunConfig.from_preset(name, data, prepared, seed=options.seed or 0)
    return run.variant(schedule=schedule, **changes), prepared


def _data_spec(options: TrainOptions, recorded: DataSpec | None) -> DataSpec:
    """The data a config recorded, with what the command line gives instead."""
    if recorded is None:
        train = options.data or ("data",)
        return DataSpec(train=train, val=options.val_data or (), tokenizer=options.tokenizer)
    return recorded.model_copy(
        update={
            "train": options.data or recorded.train,
            "val": options.val_data or recorded.val,
            "tokenizer": options.tokenizer or recorded.tokenizer,
        }
    )
