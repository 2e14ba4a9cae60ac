"""Per-trial overhead of a warm worker: consecutive trials of the real search loop, in one process.

    python -m bench.overhead --preset small --trials 4 --tokens 20M --data DATA...

Runs a fresh study (random sampler, no pruning, so each trial validates once, at its end) in a
temporary storage with one worker and prints one JSON object: for every trial, its cycle time
(from its start to the next trial's start, so Optuna, artifacts and notes count) split into setup,
compile, training steps, evaluation, data waiting and everything else, in seconds and as shares of
the cycle.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import optuna

from search.options.search_options import SearchOptions
from search.study.record import counts
from search.training.devices import training_device
from search.trials.objective import TrainingObjective
from search.trials.plan import make_plan, open_plan_study
from search.trials.runner import Worker


def cycle_times(trials: list[optuna.trial.FrozenTrial]) -> list[float]:
    """Seconds from each trial's start to the next one's (the last: to its completion)."""
    ordered = sorted(trials, key=lambda t: t.number)
    ends = [t.datetime_start for t in ordered[1:]] + [ordered[-1].datetime_complete]
    return [(end - t.datetime_start).total_seconds() for t, end in zip(ordered, ends, strict=True)]


def breakdown(trial: optuna.trial.FrozenTrial, cycle_s: float) -> dict[str, float]:
    """A trial's cycle split into parts (seconds) and their shares of the cycle."""
    a = trial.user_attrs
    # Every step at the steady rate; the first step's excess is compiling, which compile_s counts
    # with the compiling of every width before the loop (in neither setup_s nor train_s).
    steps_s = a["tokens"] / a["tokens_per_s"]
    parts = {
        "setup_s": a["setup_s"],
        "compile_s": a["compile_s"],
        "train_steps_s": steps_s,
        "eval_s": a["eval_s"],
        "data_wait_s": a["data_wait_s"],
    }
    parts["other_s"] = cycle_s - a["setup_s"] - a["compile_s"] - steps_s - a["eval_s"]
    shares = {k.removesuffix("_s") + "_share": round(v / cycle_s, 4) for k, v in parts.items()}
    overhead = cycle_s - steps_s
    return {
        "trial": trial.number,
        "cycle_s": round(cycle_s, 3),
        **{k: round(v, 3) for k, v in parts.items()},
        **shares,
        "not_training_share": round(overhead / cycle_s, 4),
        "tokens_per_s": round(a["tokens_per_s"]),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print the breakdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--tokens", default="20M")
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--val-data", nargs="+", default=[])
    parser.add_argument("--compile-mode", choices=["static", "dynamic"], help="default: the trainer's")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        settings = Path(folder) / "space.json"
        settings.write_text(json.dumps({"space": "composition", "noise_seeds": 1}))
        options = SearchOptions(
            trials=args.trials,
            preset=args.preset,
            tokens=args.tokens,
            storage=str(Path(folder) / "studies.db"),
            study="overhead",
            sampler="random",
            pruner="none",
            space=str(settings),
            data=tuple(args.data),
            val_data=tuple(args.val_data),
        )
        plan = make_plan(options)
        study, plan, _ = open_plan_study(plan, 0)
        assert plan.prepared is not None
        Worker(
            study=study,
            storage=plan.storage,
            settings=plan.settings,
            space=plan.space,
            objective=TrainingObjective(plan.prepared, training_device(), False, args.compile_mode),
            target=args.trials,
            artifacts=Path(folder) / "artifacts",
            log=print,
        ).run()
        trials = [t for t in study.get_trials() if counts(t)]
        rows = [breakdown(t, c) for t, c in zip(trials, cycle_times(trials), strict=True)]
    warm = rows[1:]
    summary = {
        "first_trial_compile_s": rows[0]["compile_s"],
        "warm_not_training_share_max": max(r["not_training_share"] for r in warm) if warm else None,
        "warm_eval_share_max": max(r["eval_share"] for r in warm) if warm else None,
        "warm_data_wait_share_of_steps_max": max(r["data_wait_s"] / r["train_steps_s"] for r in warm)
        if warm
        else None,
    }
    report = {"preset": args.preset, "tokens": args.tokens, "compile_mode": args.compile_mode or "default"}
    print(json.dumps({**report, "trials": rows, "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
