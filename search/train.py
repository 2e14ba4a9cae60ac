"""Train one schedule: ``python -m search.train --config FILE`` or ``--preset NAME --mults 8,4,...``

Prints progress, then writes a results JSON and the loss curve (PNG and CSV) next to it. A config
exported by ``search.best`` says where it came from, and the run ends with the loss it got beside
the loss the export expected. No result is ever replaced silently: the default path is numbered when
taken, and an existing ``--out`` is refused unless ``--overwrite`` is given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError

from search.options.train_options import TrainOptions, read_train_options, resolve_run
from search.training.devices import training_device
from search.training.outcome import TrainingFailed
from search.training.results import claim_results_path, default_results_path, write_results
from search.training.run_config import RunConfig
from search.trials.exiting import skip_final_collection
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Parse, prepare data, train, write results; exit 2 on bad input, 1 on a failed run."""
    skip_final_collection()
    try:
        options = read_train_options(__doc__, argv)
        resolved = resolve_run(options)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    run = resolved.run
    if run.origin is not None:
        print(run.origin.describe())
    print(
        f"training {run.model.schedule.key} ({run.model.params:,} parameters) on {run.train.tokens:,} tokens"
    )
    for note in resolved.notes:
        print(note)
    from search.training.trainer import train  # torch: after every input is checked

    device = training_device()
    if device.type == "cuda" and not run.train.deterministic:
        print(
            "note: GPU kernels are not deterministic here, so a rerun's loss differs by about seed "
            "noise; --deterministic (also for search.run) repeats a loss exactly"
        )
    try:
        result = train(run, resolved.prepared.tokens, resolved.prepared.tokenizer, device, progress=True)
    except TrainingFailed as e:
        print(f"training failed: {e.reason}", file=sys.stderr)
        return 1
    out = _results_path(options, run)
    write_results(run, result, out)
    if run.origin is not None:
        print(run.origin.compare(result.val_loss, run.train.tokens, resolved.other_data))
    print(json.dumps({"val_loss": result.val_loss, "val_bpb": result.val_bpb, "results": str(out)}))
    return 0


def _results_path(options: TrainOptions, run: RunConfig) -> Path:
    """Where this run's results go: ``--out``, replaced only with ``--overwrite``; else the default
    path, or a numbered one beside it when a result is there, saying so."""
    if options.out is not None and options.overwrite:
        return Path(options.out)
    wanted = Path(options.out) if options.out is not None else default_results_path(run)
    out = claim_results_path(wanted)
    if out != wanted:
        print(f"{wanted} holds an earlier result, so this one goes to {out}")
    return out


if __name__ == "__main__":
    sys.exit(main())
