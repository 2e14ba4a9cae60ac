"""What each pruning rule would have done to a study's completed trials: ``python -m bench.pruning
STORAGE [--study NAME]``

Replays the completed trials that reported checkpoints, in trial order, through a fresh in-memory
study under each rule: the median pruner judging from the first checkpoint (the rule until
2026-11-30), and the margin pruner (the default), the median pruner and Hyperband as ``search.run``
builds them now (from the first checkpoint after the first and after warm-up,
``search.study.samplers.first_judged``). Trials the
study pruned are left out: their losses after pruning are unknown. Printed: each checkpoint's rank
correlation (Spearman) with the final loss, then per rule the trials it prunes and where, the share
of all the replayed trials' training it saves, and which of the best trials at the study's seed it
loses; then JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bench.stored_study import read_stored_study
from search.study import record
from search.study.samplers import make_pruner
from search.study.settings import study_settings
from search.training.run_config import RunConfig
from search.trials.plan import report_tokens

BEST = 5  # the best trials at the study's seed whose fate each rule reports


def replay(
    curves: Sequence[Mapping[int, float]], finals: Sequence[float], pruner: optuna.pruners.BasePruner
) -> list[int | None]:
    """The step at which ``pruner`` stops each trial (its checkpoint losses by step, then its final
    loss), replayed in order in a fresh study; None for a trial it lets finish."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=pruner)
    stopped: list[int | None] = []
    for curve, final in zip(curves, finals, strict=True):
        trial = study.ask()
        at = None
        for step in sorted(curve):
            trial.report(curve[step], step)
            if trial.should_prune():
                at = step
                break
        study.tell(trial, state=TrialState.PRUNED) if at is not None else study.tell(trial, final)
        stopped.append(at)
    return stopped


def rank_correlations(curves: Sequence[Mapping[int, float]], finals: Sequence[float]) -> dict[int, float]:
    """Spearman's correlation of each checkpoint's loss with the final loss, over the trials."""
    from scipy.stats import spearmanr  # here: slow to import, and --help needs none of it

    steps = sorted(set.intersection(*(set(c) for c in curves)))
    return {step: float(spearmanr([c[step] for c in curves], finals).statistic) for step in steps}


def rules(marks: list[int], warmup_end: int) -> dict[str, optuna.pruners.BasePruner]:
    return {
        "median from the first checkpoint (before 2026-11-30)": optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=marks[0]
        ),
        "margin (now, the default)": make_pruner("margin", marks, warmup_end),
        "median (now)": make_pruner("median", marks, warmup_end),
        "hyperband (now)": make_pruner("hyperband", marks, warmup_end),
    }


def report(trials: Sequence[FrozenTrial], base: RunConfig) -> dict[str, Any]:
    """Every rule's replay of ``trials`` (completed, with checkpoints, in order) of a study whose
    trials train ``base``, as figures."""
    marks, warmup_end = report_tokens(base)
    curves = [t.intermediate_values for t in trials]
    finals = [record.value(t) for t in trials]
    at_seed = sorted((t for t in trials if record.seed(t) == base.seed), key=record.value)
    best = [t.number for t in at_seed[:BEST]]
    out: dict[str, Any] = {
        "trials": len(trials),
        "checkpoints": marks[:-1],
        "warmup_end": warmup_end,
        "rank_correlation": rank_correlations(curves, finals),
        "best_at_study_seed": best,
        "rules": {},
    }
    for name, pruner in rules(marks, warmup_end).items():
        stopped = replay(curves, finals, pruner)
        pruned = {t.number: at for t, at in zip(trials, stopped, strict=True) if at is not None}
        saved = sum(1 - at / marks[-1] for at in pruned.values()) / len(trials)
        stops = Counter(pruned.values())
        out["rules"][name] = {
            "pruned": len(pruned),
            "pruned_at": {step: stops[step] for step in marks[:-1]},
            "training_saved": saved,
            "best_lost": [n for n in best if n in pruned],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser, study = read_stored_study("python -m bench.pruning", __doc__, argv)
    trials = [t for t in record.completed(study.get_trials(deepcopy=False)) if t.intermediate_values]
    if len(trials) < 2:
        parser.error(
            f"study '{study.study_name}' has {len(trials)} completed trials with checkpoints: "
            "2 or more needed"
        )
    figures = report(trials, study_settings(study).base)
    print(f"{figures['trials']} completed trials; warm-up ends at {figures['warmup_end']:,} tokens")
    for step, rho in figures["rank_correlation"].items():
        print(f"  checkpoint {step:>13,}: rank correlation with the final loss {rho:+.2f}")
    print(f"best at the study's seed: trials {', '.join(map(str, figures['best_at_study_seed']))}")
    for name, rule in figures["rules"].items():
        where = ", ".join(f"{n} at {step:,}" for step, n in rule["pruned_at"].items() if n)
        print(
            f"{name}: prunes {rule['pruned']} ({where or 'none'}), saves {rule['training_saved']:.1%} of "
            f"the training, loses best {rule['best_lost'] or 'none'}"
        )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
