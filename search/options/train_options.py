"""Options of ``python -m search.train``, and the run they describe: a config file or a preset, on data."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.presets import PRESETS, get_preset
from search.data.corpus import resolve_inputs, split_name_warnings
from search.data.prepare import PreparedData, prepare_data
from search.data.spec import DataSpec
from search.options.common import Count, command_parser, read_options
from search.training.devices import default_preset
from search.training.passes import check_budget, check_splits, passes_note, rounding_note
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
    text_field: str | None = Field(
        None, min_length=1, description="JSON text field; None: the config's, or text"
    )
    tokens: Count | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)
    deterministic: bool = False
    out: str | None = None
    overwrite: bool = Field(False, description="replace --out when it exists")

    @model_validator(mode="after")
    def _consistent(self) -> TrainOptions:
        if self.config is not None:
            given = [f"--{name}" for name in ("preset", "mults") if getattr(self, name) is not None]
            if given:
                raise ValueError(
                    f"--config excludes {' and '.join(given)}: the config file sets the model and its "
                    "schedule; give either --config or --preset/--mults"
                )
        if self.overwrite and self.out is None:
            raise ValueError("--overwrite needs --out: the default results path never replaces a result")
        if self.out is not None and not self.overwrite and Path(self.out).exists():
            raise ValueError(f"--out: {self.out} exists; give --overwrite to replace it, or another --out")
        return self

    @property
    def names_data(self) -> bool:
        """Whether the command line names data of its own, in place of a config's."""
        return bool(self.data or self.val_data or self.tokenizer)


@dataclass(frozen=True)
class ResolvedRun:
    """The run to train, its prepared data, and whether that data differs from what its config recorded."""

    run: RunConfig
    prepared: PreparedData
    other_data: bool = False
    notes: tuple[str, ...] = ()  # what a user should read before training: warnings, rounding, passes


def read_train_options(doc: str | None, argv: Sequence[str] | None) -> TrainOptions:
    """The options of ``search.train``."""
    parser = command_parser("python -m search.train", doc)
    add = parser.add_argument
    add("--config", help="a run config JSON, as written by search.best (not with --preset or --mults)")
    add("--preset", help=f"model size when no config: {', '.join(PRESETS)} (default: by device)")
    add("--mults", help="per-layer multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4 (default uniform)")
    add("--data", nargs="+", help="training files, folders or globs (default: ./data, or the config's)")
    add("--val-data", nargs="+", help="validation files (default: a held-out share of --data)")
    add("--tokenizer", help="a tokenizer.json (default: a BPE trained on the data and cached)")
    add("--text-field", help="the JSON field holding a document's text in .jsonl files (default: text)")
    add("--tokens", help="training tokens, e.g. 20M or 1.5B (default: the preset's)")
    add("--seed", type=int, help="weight init and data order (default: the config's, or 0)")
    add(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels, so a rerun repeats the loss exactly (default: the config's, or off)",
    )
    add(
        "--out",
        help="results JSON path; refused when it exists, unless --overwrite (default: "
        "runs/<preset>-<schedule>-seed<seed>-<tokens>.json, numbered -2, -3, ... when taken)",
    )
    add("--overwrite", action="store_true", help="replace --out when it exists")
    return read_options(TrainOptions, parser, argv)


def resolve_run(options: TrainOptions) -> ResolvedRun:
    """The run ``--config`` (with overrides) or ``--preset``/``--mults`` describe, on prepared data.

    Raises ValueError (or a pydantic ValidationError) for any bad input, before training.
    """
    # The flag only turns deterministic kernels on; the token budget is replaced when given.
    changes = {"tokens": options.tokens, "deterministic": options.deterministic or None}
    if options.config:
        loaded = load_run_config(options.config)
        data = _data_spec(options, loaded.data)
        check_budget(loaded.variant(**changes))
        warnings = split_name_warnings(resolve_inputs(data.train))
        prepared = prepare_data(data, loaded.model.vocab_size)
        recorded = loaded.provenance.data_hash if loaded.provenance else None
        other_data = recorded is not None and recorded != prepared.tokens.key
        if other_data:
            _check_other_data(options, recorded, prepared.tokens.key)
        run = loaded.variant(data=data, seed=options.seed, provenance=provenance(prepared), **changes)
        return _checked(run, prepared, warnings, other_data)
    name = options.preset
    if name is None:
        name, why = default_preset()
        print(why)
    model = get_preset(name).model
    schedule = None
    if options.mults:
        schedule = Schedule(budget=model.budget, mults=tuple(parse_mults(options.mults)))
    data = _data_spec(options, None)
    check_budget(RunConfig.from_preset(name, data, None).variant(schedule=schedule, **changes))
    warnings = split_name_warnings(resolve_inputs(data.train))
    prepared = prepare_data(data, model.vocab_size)
    run = RunConfig.from_preset(name, data, prepared, seed=options.seed or 0)
    return _checked(run.variant(schedule=schedule, **changes), prepared, warnings)


def _checked(
    run: RunConfig, prepared: PreparedData, warnings: list[str], other_data: bool = False
) -> ResolvedRun:
    """The resolved run, once its splits are long enough, with the notes to print before training."""
    train, val = len(prepared.tokens.train), len(prepared.tokens.val)
    check_splits(run, train, val)
    notes = [*warnings, rounding_note(run), passes_note(run, train)]
    return ResolvedRun(run, prepared, other_data, tuple(note for note in notes if note))


def _check_other_data(options: TrainOptions, recorded: str, found: str) -> None:
    """Refuse a config's run on data other than it recorded, unless the command line names the data;
    then say so plainly."""
    if not options.names_data:
        raise ValueError(
            f"the data differs from what {options.config} was trained on: its files now give token "
            f"cache {found}, the config recorded {recorded}. Give --data (and --val-data or "
            "--tokenizer) to train it on other data"
        )
    print(
        f"note: this run trains on other data than {options.config} recorded (token cache {found}, "
        f"not {recorded}): its loss does not compare with the config's",
        file=sys.stderr,
    )


def _data_spec(options: TrainOptions, recorded: DataSpec | None) -> DataSpec:
    """The data a config recorded, with what the command line gives instead, its paths absolute."""
    if recorded is None:
        train = options.data or ("data",)
        field = options.text_field or "text"
        spec = DataSpec(
            train=train, val=options.val_data or (), tokenizer=options.tokenizer, text_field=field
        )
        return spec.absolute()
    given = recorded.model_copy(
        update={
            "train": options.data or recorded.train,
            "val": options.val_data or recorded.val,
            "tokenizer": options.tokenizer or recorded.tokenizer,
            "text_field": options.text_field or recorded.text_field,
        }
    )
    return given.absolute()
