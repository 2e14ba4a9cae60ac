"""Train one schedule: ``python -m search.train --config FILE`` or ``--preset NAME --mults 8,4,...``

Prints progress, then writes a results JSON and the loss curve (PNG and CSV) next to it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError

from search.options.train_options import read_train_options, resolve_run
from search.training.devices import training_device
from search.training.results import default_results_path, write_results
from search.training.trainer import TrainingFailed, train
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Parse, prepare data, train, write results; exit 2 on bad input, 1 on a failed run."""
    try:
        options = read_train_options(__doc__, argv)
        run, prepared = resolve_run(options)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
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
    out = Path(options.out) if options.out else default_results_path(run)
    write_results(run, result, out)
    print(json.dumps({"val_loss": result.val_loss, "val_bpb": result.val_bpb, "results": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
