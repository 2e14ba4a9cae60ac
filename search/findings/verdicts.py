"""From a confirmation's losses to its verdict: each schedule's paired difference from the reference
with a confidence interval, the winner if one is beyond noise, and whether the study's short
ranking predicts a longer run (Kendall's tau)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from search.findings.candidates import ConfirmPlan, RunKey
from search.findings.confirmation import Confirmation, Fidelity, ScheduleResult
from search.findings.formatting import interval_text, percent
from search.findings.stats import (
    INTERVAL_CONFIDENCE,
    MeanDifference,
    kendall_tau,
    mean_difference,
    paired_differences,
    per_look_confidence,
)

# Below this, the short trials' ranking is a poor guide to which schedule wins a longer run.
MIN_TAU = 0.6


@dataclass(frozen=True)
class Trained:
    """What a confirmation trained: losses by (key, seed, tokens), failures by (key, seed)."""

    losses: dict[RunKey, float] = field(default_factory=dict)
    failures: dict[tuple[str, int], str] = field(default_factory=dict)


def result_status(difference: MeanDifference | None) -> str:
    """A schedule's standing against the reference: better, worse, within noise, or too few seeds."""
    if difference is None or difference.low is None:
        return "too few seeds"
    if difference.below_zero:
        return "better"
    return "worse" if difference.above_zero else "within noise"


def verdict(
    differences: Mapping[str, MeanDifference | None],
    reference: str,
    seeds: str,
    looks: int = 1,
) -> tuple[str | None, str]:
    """The winner (the lowest mean among schedules whose interval lies below zero) and a sentence;
    ``seeds`` says where they were compared (``fresh seeds 1-5 (the study selected on seed 0)``),
    ``looks`` how many times results at these growing seeds have been seen, this one included (the
    differences' intervals held to this look's ``per_look_confidence``)."""
    confidence = per_look_confidence(INTERVAL_CONFIDENCE, looks)
    better = {name: d for name, d in differences.items() if d is not None and d.below_zero}
    if not better:
        return None, (
            f"no schedule beat {reference} beyond noise at {seeds}: no {percent(confidence)} interval "
            "of the difference lies below zero"
        )
    winner = min(better, key=lambda name: better[name].mean)
    d = better[winner]
    sentence = (
        f"{winner} beats {reference} at {seeds}: mean difference {d.mean:+.4f}, {percent(confidence)} "
        f"interval {interval_text(d)} over {d.n} seeds"
    )
    if len(differences) > 1 or looks > 1:
        # A schedule no better than the reference still gets an interval wholly below zero
        # (1 - confidence) / 2 of the time; over several schedules and looks (the j-th held to
        # per_look_confidence), the union bound caps the chance of a false winner.
        spent = sum(1 - per_look_confidence(INTERVAL_CONFIDENCE, j) for j in range(1, looks + 1))
        chance = min(1.0, len(differences) * spent / 2)
        counted = [f"{len(differences)} schedules compared"] if len(differences) > 1 else []
        counted += [f"{looks} looks at the seeds"] if looks > 1 else []
        sentence += f" (with {' and '.join(counted)}, a false winner has at most a {percent(chance)} chance)"
    return winner, sentence


def fidelity(
    short: Mapping[str, Mapping[int, float]], long: Mapping[str, float], short_tokens: int
) -> Fidelity:
    """Kendall's tau between short-run and long-run mean losses of the schedules both have.

    The short means use the seeds every such schedule has at the short budget, so each mean is
    over the same data orders.
    """
    names = [name for name in long if short.get(name)]
    seeds = sorted(set.intersection(*(set(short[n]) for n in names))) if names else []
    names = names if seeds else []
    short_means = [statistics.fmean(short[n][s] for s in seeds) for n in names]
    long_means = [long[n] for n in names]
    tau = kendall_tau(short_means, long_means)
    return Fidelity(
        short_tokens=short_tokens,
        short_seeds=seeds,
        names=names,
        short_means=short_means,
        long_means=long_means,
        tau=tau,
        min_tau=MIN_TAU,
        warning=tau is not None and tau < MIN_TAU,
    )


def summarize_confirmation(plan: ConfirmPlan, trained: Trained) -> Confirmation:
    """The record of a confirmation: per-schedule results, verdict and fidelity. One stopped before
    its plan's runs were all trained is marked with how many are missing and names no winner: its
    intervals are over the seeds finished so far, and stopping at a moment of one's choosing is no
    basis for a verdict."""
    known = {**plan.known, **trained.losses}
    confidence = per_look_confidence(INTERVAL_CONFIDENCE, plan.looks)
    missing = [
        (c.key, seed)
        for c, seed in plan.missing
        if (c.key, seed, plan.tokens) not in trained.losses and (c.key, seed) not in trained.failures
    ]
    reference = plan.candidates[0]
    losses = {c.key: _losses(known, c.key, plan.seeds, plan.tokens) for c in plan.candidates}
    results, differences = [], {}
    for c in plan.candidates:
        difference = None
        if c is not reference:
            pairs = paired_differences(losses[c.key], losses[reference.key])
            difference = mean_difference(list(pairs.values()), confidence) if pairs else None
            differences[c.name] = difference
        results.append(
            ScheduleResult(
                name=c.name,
                schedule=c.key,
                mults=c.schedule.mults,
                baseline=c.baseline,
                trial=c.trial,
                losses=losses[c.key],
                failed={seed: why for (key, seed), why in trained.failures.items() if key == c.key},
                difference=difference,
                status="reference" if c is reference else result_status(difference),
            )
        )
    winner, sentence = verdict(differences, reference.name, plan.seeds_text, plan.looks)
    sentence += plan.looks_text
    if missing:
        total = len(plan.candidates) * len(plan.seeds)
        winner, sentence = (
            None,
            (
                f"unfinished, {len(missing)} of {total} runs still to train (the same command continues it), "
                f"so no winner is named; over the runs finished so far, {sentence}"
            ),
        )
    winner_against = against_baselines(plan, losses, winner, confidence)
    # The short side holds the study's own ranking, made at its seed, beside any short runs at the
    # fresh seeds: the study seed is left out of the comparison above, not out of this check.
    short_seeds = [plan.study_seed, *plan.seeds]
    short = {r.name: _losses(known, r.schedule, short_seeds, plan.study_tokens) for r in results}
    long = {r.name: r.mean for r in results if r.mean is not None}
    longer = plan.tokens != plan.study_tokens
    return Confirmation(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        study_tokens=plan.study_tokens,
        tokens=plan.tokens,
        seeds=plan.seeds,
        confidence=confidence,
        reference=reference.name,
        schedules=results,
        winner=winner,
        verdict=sentence,
        trained=len(trained.losses),
        reused=len(plan.candidates) * len(plan.seeds) - len(plan.missing),
        fidelity=fidelity(short, long, plan.study_tokens) if longer and not missing else None,
        ranking=plan.ranking,
        winner_against=winner_against,
        earlier_seeds=plan.earlier_seeds,
        missing=len(missing),
    )


def against_baselines(
    plan: ConfirmPlan, losses: Mapping[str, Mapping[int, float]], winner: str | None, confidence: float
) -> dict[str, MeanDifference]:
    """The winner's paired difference from each baseline but the reference: beating the reference is
    the verdict; whether it also beats what a user would try by hand is the question that follows."""
    mine = next((c for c in plan.candidates if c.name == winner), None)
    if mine is None:
        return {}
    against = {}
    for c in plan.candidates[1:]:
        if c.baseline is None or c.key == mine.key:
            continue
        pairs = paired_differences(losses[mine.key], losses[c.key])
        if pairs:
            against[c.name] = mean_difference(list(pairs.values()), confidence)
    return against


def _losses(known: Mapping[RunKey, float], key: str, seeds: Sequence[int], tokens: int) -> dict[int, float]:
    return {s: known[(key, s, tokens)] for s in seeds if (key, s, tokens) in known}
