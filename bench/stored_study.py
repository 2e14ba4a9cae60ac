"""The command line of a benchmark that reads one stored study: ``STORAGE [--study NAME]``."""

from __future__ import annotations

import argparse

import optuna

from search.study.storage import load_existing_study


def read_stored_study(
    prog: str, doc: str | None, argv: list[str] | None
) -> tuple[argparse.ArgumentParser, optuna.Study]:
    """The parser, for the benchmark's own refusals, and the study ``argv`` names (its storage's
    only one without ``--study``); exits with the parser's error naming the problem when there is
    none such."""
    parser = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n")[0])
    parser.add_argument("storage", help="the study's storage (a journal file or a database URL)")
    parser.add_argument("--study", help="the study's name (default: the storage's only study)")
    args = parser.parse_args(argv)
    try:
        return parser, load_existing_study(args.storage, args.study)
    except ValueError as e:
        parser.error(str(e))
