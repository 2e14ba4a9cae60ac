"""What ``search.confirm`` compares: the study's baselines and its best schedules, at which seeds,
and which of those runs the study or an earlier confirmation already made.

The best schedules are ranked by a Gaussian process over all the study's trials, not by their
single noisy losses, so a lucky seed does not take a place that a schedule with consistently good
neighbours deserves: those the model finds better than the best baseline with probability 95% or
more first, then the rest, each group by posterior mean (``search.findings.recommend``, whose first
is the model's pick). A study with fewer than ``MIN_TRIALS`` trials is ranked by loss, and the
plan says which ranking it used.

The schedules are compared at fresh seeds, never at the seed the study selected them on: there
the winner's low loss is partly its luck, which the same seed would count again as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.findings.confirmation import StoredRun, stored_confirmations, stored_runs
from search.findings.formatting import percent, seed_range
from search.findings.recommend import CONFIDENCE
from search.findings.stats import INTERVAL_CONFIDENCE, per_look_confidence
from search.findings.summary import model_ranking
from search.study import record
from search.study.schedule_model import MIN_TRIALS
from search.study.settings import StudySettings, study_settings
from space.schedule import Schedule
from space.spec import baseline_schedules

# (schedule key, seed, tokens): a run's identity across trials and confirmations.
RunKey = tuple[str, int, int]


@dataclass(frozen=True)
class Candidate:
    """A schedule to confirm: a baseline of the study or one of its best trials."""

    name: str
    schedule: Schedule
    baseline: str | None = None
    trial: int | None = None

    @property
    def key(self) -> str:
        """The schedule's identity, as in the trials' schedule keys."""
        return self.schedule.key


@dataclass(frozen=True)
class ConfirmPlan:
    """The schedules (reference first) and seeds to compare, and which runs must be trained."""

    settings: StudySettings
    candidates: list[Candidate]
    seeds: list[int]
    tokens: int
    known: dict[RunKey, float]
    ranking: str
    earlier_seeds: list[list[int]] = field(default_factory=list)
    """The seeds of earlier finished confirmations at these tokens that shared some of these seeds:
    results already seen, each a look at part of the data before seeds were added."""

    @property
    def study_tokens(self) -> int:
        """Training tokens of the study's trials."""
        return self.settings.base.train.tokens

    @property
    def study_seed(self) -> int:
        """The seed the study selected its schedules on: never one of the compared seeds."""
        return self.settings.base.seed

    @property
    def seeds_text(self) -> str:
        """The compared seeds, saying that they are fresh: ``fresh seeds 1-5 (the study selected on
        seed 0)``."""
        plural = "s" if len(self.seeds) > 1 else ""
        return f"fresh seed{plural} {seed_range(self.seeds)} (the study selected on seed {self.study_seed})"

    @property
    def missing(self) -> list[tuple[Candidate, int]]:
        """(schedule, seed) pairs with no result at these tokens yet, seed by seed: a confirmation
        stopped early then leaves whole seeds, each a paired comparison of every schedule."""
        return [
            (c, s) for s in self.seeds for c in self.candidates if (c.key, s, self.tokens) not in self.known
        ]

    def describe(self) -> str:
        """One line: what is compared and how much of it must be trained."""
        total = len(self.candidates) * len(self.seeds)
        names = ", ".join(c.name for c in self.candidates)
        return (
            f"confirming {len(self.candidates)} schedules ({names}) at {self.seeds_text}, "
            f"{self.tokens:,} tokens each: {total - len(self.missing)} of {total} runs reused, "
            f"{len(self.missing)} to train; trials ranked by {self.ranking}" + self.looks_text
        )

    @property
    def looks(self) -> int:
        """Which look at these seeds this confirmation is: 1, plus one for each earlier that shared
        some of them."""
        return len(self.earlier_seeds) + 1

    @property
    def looks_text(self) -> str:
        """What the earlier confirmations sharing these seeds cost this one's intervals; empty
        without any."""
        if not self.earlier_seeds:
            return ""
        looks = self.looks
        seen = " and ".join(seed_range(s) for s in self.earlier_seeds)
        level = percent(per_look_confidence(INTERVAL_CONFIDENCE, looks))
        return (
            f". These seeds were partly seen in the finished confirmation{'s' if looks > 2 else ''} at "
            f"seeds {seen}, so this look (look {looks}) is held to {level}; a false winner is still "
            "likelier than with seeds planned before looking (python -m bench.looks); --first-seed at "
            f"seeds not seen yet makes an independent replication at {percent(INTERVAL_CONFIDENCE)}"
        )


def plan_confirmation(
    study: optuna.Study, top: int, seeds: int, tokens: int | None, first_seed: int | None = None
) -> ConfirmPlan:
    """Check the request against the study and pick what to compare: ``seeds`` seeds from
    ``first_seed`` (None: the one after the study's); ValueError says what is wrong."""
    settings = study_settings(study)
    trials = record.completed(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if not trials:
        raise ValueError(
            f"study '{study.study_name}' has no completed trials yet; run python -m search.run first"
        )
    first = settings.base.seed + 1 if first_seed is None else first_seed
    compared = list(range(first, first + seeds))
    if settings.base.seed in compared:
        raise ValueError(
            f"--first-seed {first_seed}: seeds {seed_range(compared)} include the study's seed "
            f"{settings.base.seed}, on which its schedules were selected; start after it"
        )
    ranked, ranking = rank_trials(trials)
    tokens = tokens or settings.base.train.tokens
    # A finished confirmation that shared some of these seeds, but not all, was a look at them.
    shared = set(compared)
    earlier = {
        tuple(c.seeds)
        for c in stored_confirmations(study)
        if c.finished and c.tokens == tokens and set(c.seeds) & shared and set(c.seeds) != shared
    }
    return ConfirmPlan(
        settings=settings,
        candidates=select_candidates(ranked, settings, top),
        seeds=compared,
        tokens=tokens,
        known=known_results(trials, settings, stored_runs(study)),
        ranking=ranking,
        earlier_seeds=[list(s) for s in sorted(earlier, key=len)],
    )


def rank_trials(trials: Sequence[FrozenTrial]) -> tuple[list[FrozenTrial], str]:
    """The completed trials best first, and how they were ranked: by the model over all of them
    (every seed, baselines included; ``search.findings.recommend``'s order), or by loss below
    ``MIN_TRIALS`` trials."""
    ranking = model_ranking(trials)
    if ranking is None:
        ranked = sorted(trials, key=lambda t: (record.value(t), t.number))
        return ranked, f"loss (fewer than {MIN_TRIALS} trials for a model)"
    return [t for t, _ in ranking.ranked], (
        f"the model over {len(trials)} trials (posterior mean, those better than the best baseline "
        f"with probability {CONFIDENCE:.0%} or more first)"
    )


def select_candidates(ranked: Sequence[FrozenTrial], settings: StudySettings, top: int) -> list[Candidate]:
    """The study's baselines (the reference first), then the first ``top`` distinct other
    schedules of ``ranked`` (trials best first) at the study's seed."""
    space = settings.space.build(settings.base.model.budget)
    baselines = baseline_schedules(settings.space, space)
    if not baselines:
        raise ValueError("the study has no baseline schedule to compare against (its space lists none)")
    chosen = [Candidate(name, schedule, baseline=name) for name, schedule in baselines]
    taken = {c.key for c in chosen}
    sampled = [t for t in record.at_seed(ranked, settings.base.seed) if record.baseline(t) is None]
    for trial in sampled:
        schedule = Schedule(budget=space.budget, mults=record.mults(trial))
        if schedule.key not in taken and len(chosen) < len(baselines) + top:
            taken.add(schedule.key)
            chosen.append(Candidate(f"trial {trial.number}", schedule, trial=trial.number))
    return chosen


def known_results(
    trials: Sequence[FrozenTrial], settings: StudySettings, runs: Sequence[StoredRun]
) -> dict[RunKey, float]:
    """Final losses by (schedule key, seed, tokens): completed trials, then stored confirmation runs."""
    tokens = settings.base.train.tokens  # every trial of a study trains on the same budget
    known = {(record.schedule_key(t), record.seed(t), tokens): record.value(t) for t in trials}
    for run in runs:
        known[(run.schedule, run.seed, run.tokens)] = run.val_loss
    return known
