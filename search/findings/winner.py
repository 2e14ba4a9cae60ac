"""Which trial a study's winner is, by one of three rules, and why.

- ``confirmed``: the winner of the latest confirmation at the longest token budget confirmed,
  retrained at paired seeds; when it named none, the reference baseline (nothing beat it beyond
  noise). The longest budget decides because it is the closest to training for real: a later
  confirmation at a shorter budget does not overrule it.
- ``model``: the model's pick (``search.findings.recommend``), by a Gaussian process over every
  completed trial: the trial at the study's seed with the lowest posterior mean among those better
  than the best baseline with probability 95% or more, else that baseline.
- ``observed``: the lowest single loss at the study's seed, which may owe something to its seed.

Without a rule the strongest evidence the study has decides: a confirmation, else the model, else
the observed loss.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from optuna.trial import FrozenTrial

from search.findings.confirmation import Confirmation, ScheduleResult, latest_by_budget
from search.findings.contents import StudyFindings
from search.study import record
from search.study.schedule_model import MIN_TRIALS
from search.training.run_config import ChosenBy

Rule = Literal["confirmed", "model", "observed"]


@dataclass(frozen=True)
class Winner:
    """The chosen trial, what chose it, one sentence saying why it is the one, and the loss the rule
    expects of it where it has more than the trial's own: the model's expected loss, or the
    confirmation's mean over its seeds, at ``expected_tokens`` training tokens."""

    trial: FrozenTrial
    rule: ChosenBy
    reason: str
    expected_loss: float | None = None
    expected_tokens: int | None = None


def choose_winner(findings: StudyFindings, choice: Rule | int | None = None) -> Winner:
    """The winner of ``findings`` by the rule ``choice``, the completed trial it numbers, or (None)
    the strongest rule the study has evidence for. ValueError when the choice cannot be met."""
    if isinstance(choice, int):
        return Winner(_completed_trial(findings, choice), "trial", f"trial {choice}, as named by --trial")
    if choice == "confirmed":
        return _confirmed(findings)
    if choice == "model":
        return _model(findings)
    if choice == "observed":
        return _observed(findings)
    if latest_by_budget(findings.confirmations):
        return _confirmed(findings)
    if findings.pick is not None:
        winner = _model(findings)
        return replace(winner, reason=f"no confirmation yet; {winner.reason}")
    winner = _observed(findings)
    return replace(
        winner,
        reason=f"no confirmation yet and {_completed_count(findings)} completed trials, fewer than the "
        f"{MIN_TRIALS} the model needs; {winner.reason}",
    )


def _confirmed(findings: StudyFindings) -> Winner:
    finished = latest_by_budget(findings.confirmations)
    if not finished:
        unfinished = " (an unfinished one continues with the same command)" if findings.confirmations else ""
        raise ValueError(
            f"study '{findings.name}' has no finished confirmation yet{unfinished}: run python -m "
            "search.confirm first, or choose --rule model or --rule observed"
        )
    latest = finished[-1]
    when = f"the latest confirmation at the longest budget ({latest.created}, {latest.tokens:,} tokens)"
    if latest.winner is None:
        [reference] = [r for r in latest.schedules if r.name == latest.reference]
        return _confirmed_winner(
            _baseline_trial(findings, latest, latest.reference),
            f"{when} found no schedule better than {latest.reference} beyond noise, so this is "
            f"{latest.reference}, the reference, at the study's seed {findings.seed}",
            reference,
            latest.tokens,
        )
    [result] = [r for r in latest.schedules if r.name == latest.winner]
    if result.trial is not None:
        trial = _completed_trial(findings, result.trial)
    else:
        trial = _baseline_trial(findings, latest, result.name)
    return _confirmed_winner(trial, f"{when} named it the winner: {latest.verdict}", result, latest.tokens)


def _confirmed_winner(trial: FrozenTrial, reason: str, result: ScheduleResult, tokens: int) -> Winner:
    """A confirmation's choice, expected to score its mean over the confirmation's seeds."""
    mean = result.mean
    return Winner(trial, "confirmed", reason, mean, tokens if mean is not None else None)


def _model(findings: StudyFindings) -> Winner:
    pick = findings.pick
    if pick is None:
        raise ValueError(
            f"the model ranks a study from {MIN_TRIALS} completed trials on; study '{findings.name}' "
            f"has {_completed_count(findings)}: choose --rule observed"
        )
    return Winner(
        pick.trial,
        "model",
        f"the model's pick at the study's seed {findings.seed}, expected loss {pick.expected:.4f}: "
        f"{pick.why}; by a Gaussian process over {pick.seen} trials that weighs each loss with its "
        "neighbours', its noise kept within what repeated baselines measured",
        pick.expected,
        findings.settings.base.train.tokens,
    )


def _observed(findings: StudyFindings) -> Winner:
    best = findings.summary.best
    if best is None:
        raise ValueError(f"study '{findings.name}' has no completed trial at its seed {findings.seed} yet")
    return Winner(
        best,
        "observed",
        f"the lowest loss at the study's seed {findings.seed} ({record.value(best):.4f}), a single "
        "draw that may owe something to its seed",
    )


def _completed_trial(findings: StudyFindings, number: int) -> FrozenTrial:
    for t in record.completed(findings.trials):
        if t.number == number:
            return t
    repeated = [record.repeat_of(t) for t in findings.trials if t.number == number]
    hint = f" (it repeats trial {repeated[0]})" if repeated and repeated[0] is not None else ""
    raise ValueError(f"trial {number} is not a completed trial of study '{findings.name}'{hint}")


def _baseline_trial(findings: StudyFindings, confirmation: Confirmation, name: str) -> FrozenTrial:
    for t in record.at_seed(record.completed(findings.trials), findings.seed):
        if record.baseline(t) == name:
            return t
    raise ValueError(
        f"the baseline {name} of the confirmation of {confirmation.created} has no completed trial "
        f"at the study's seed {findings.seed} to export"
    )


def _completed_count(findings: StudyFindings) -> int:
    return len(record.completed(findings.trials))
