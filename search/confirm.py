"""Is the winner real? ``python -m search.confirm --study hourglass --top 3 --seeds 5``

Retrains the study's best schedules and its baselines at several seeds (seed s gives every
schedule the same init and data order, so the comparison is paired), with the study's own data,
preset and recipe; ``--tokens`` trains longer instead. Each schedule's mean difference from the
reference baseline (uniform) comes with a t-based confidence interval, and a winner is named
only when its whole interval lies below zero. A longer run also reports Kendall's tau between
the short and the long ranking: whether the search's short trials predict longer training.

The best schedules are ranked by a Gaussian process's posterior mean over all the study's
trials (``search.recommend``), not by their single noisy losses, so a lucky seed does not take
a place that a schedule with consistently good neighbours deserves; a study with fewer than
``MIN_TRIALS`` trials is ranked by loss, and the plan says which ranking it used.

Runs already made at the same (schedule, seed, tokens), by the study's trials or an earlier
confirmation, are reused, not trained again. Every run is stored with the study as soon as it
finishes (``confirmation_runs``), so an interrupted confirmation continues where it stopped; the
result is appended to the study's ``confirmations`` and shown in its dashboard note.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import optuna
from optuna.trial import FrozenTrial, TrialState
from optuna_dashboard import get_note, save_note
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model.presets import get_preset
from search.config import RunConfig
from search.counts import parse_count
from search.devices import training_device
from search.objective import BUILTIN, FunctionObjective, Objective, TrainingObjective, load_function
from search.prepare import prepare_data
from search.recommend import MIN_TRIALS
from search.signals import stop_on_sigterm
from search.stats import MeanDifference, kendall_tau, mean_difference, paired_differences
from search.storage import add_study_options, load_existing_study
from search.study import StudySettings, study_settings
from search.summary import completed, model_ranking
from search.trainer import TrainingFailed
from space.errors import describe
from space.schedule import Schedule
from space.spec import baseline_schedules

CONFIRMATIONS_ATTR = "confirmations"
RUNS_ATTR = "confirmation_runs"
CONFIDENCE = 0.95
# Below this, the short trials' ranking is a poor guide to which schedule wins a longer run.
MIN_TAU = 0.6
NOTE_HEADING = "## Confirmations"
# The note shows the latest few; the report and the user attr keep every one.
NOTE_RECORDS = 3


@dataclass(frozen=True)
class Candidate:
    """A schedule to confirm: a baseline of the study or one of its best trials."""

    name: str
    schedule: Schedule
    baseline: str | None = None
    trial: int | None = None

    @property
    def key(self) -> str:
        """The schedule's identity, as in the trials' ``schedule_key``."""
        return self.schedule.key


class StoredRun(BaseModel):
    """One confirmation training run, stored with the study as soon as it finishes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: str
    seed: int
    tokens: int
    val_loss: float
    val_bpb: float | None = None
    wall_s: float | None = None


class ScheduleResult(BaseModel):
    """One schedule's losses by seed and its paired difference from the reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    schedule: str
    mults: tuple[int | float, ...]
    baseline: str | None = None
    trial: int | None = None
    losses: dict[int, float]
    failed: dict[int, str] = {}
    difference: MeanDifference | None = None
    status: str

    @property
    def mean(self) -> float | None:
        """Mean loss over the seeds that finished."""
        return statistics.fmean(self.losses.values()) if self.losses else None


class Fidelity(BaseModel):
    """How well the study's short-run ranking predicts the longer run's (Kendall's tau)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    short_tokens: int
    short_seeds: list[int]
    names: list[str]
    short_means: list[float]
    long_means: list[float]
    tau: float | None
    min_tau: float
    warning: bool = Field(description="tau < min_tau: the short ranking does not predict the long one")


class Confirmation(BaseModel):
    """One run of ``search.confirm``: what was trained, the differences and the verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    created: str
    study_tokens: int
    tokens: int
    seeds: list[int]
    confidence: float
    reference: str
    schedules: list[ScheduleResult]
    winner: str | None
    verdict: str
    trained: int
    reused: int
    fidelity: Fidelity | None = None
    ranking: str | None = Field(default=None, description="how the confirmed trials were chosen")


@dataclass(frozen=True)
class ConfirmPlan:
    """The schedules (reference first) and seeds to compare, and which runs must be trained."""

    settings: StudySettings
    candidates: list[Candidate]
    seeds: list[int]
    tokens: int
    known: dict[tuple[str, int, int], float]
    ranking: str

    @property
    def study_tokens(self) -> int:
        """Training tokens of the study's trials."""
        return self.settings.base.train.tokens

    @property
    def missing(self) -> list[tuple[Candidate, int]]:
        """(schedule, seed) pairs with no result at these tokens yet."""
        return [
            (c, s) for c in self.candidates for s in self.seeds if (c.key, s, self.tokens) not in self.known
        ]

    def describe(self) -> str:
        """One line: what is compared and how much of it must be trained."""
        total = len(self.candidates) * len(self.seeds)
        names = ", ".join(c.name for c in self.candidates)
        return (
            f"confirming {len(self.candidates)} schedules ({names}) at seeds {_seed_range(self.seeds)}, "
            f"{self.tokens:,} tokens each: {total - len(self.missing)} of {total} runs reused, "
            f"{len(self.missing)} to train; trials ranked by {self.ranking}"
        )


def plan_confirmation(study: optuna.Study, top: int, seeds: int, tokens: int | None) -> ConfirmPlan:
    """Check the request against the study and pick what to compare; ValueError says what is wrong."""
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    settings = study_settings(study)
    trials = completed(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if not trials:
        raise ValueError(
            f"study '{study.study_name}' has no completed trials yet; run python -m search.run first"
        )
    first = settings.base.seed
    ranked, ranking = rank_trials(trials)
    return ConfirmPlan(
        settings=settings,
        candidates=select_candidates(ranked, settings, top),
        seeds=list(range(first, first + seeds)),
        tokens=tokens or settings.base.train.tokens,
        known=known_results(trials, settings, stored_runs(study)),
        ranking=ranking,
    )


def rank_trials(trials: Sequence[FrozenTrial]) -> tuple[list[FrozenTrial], str]:
    """The completed trials best first, and how they were ranked: by the model's posterior mean
    over all of them (every seed, baselines included), or by loss below ``MIN_TRIALS`` trials."""
    ranking = model_ranking(trials)
    if ranking is None:
        ranked = sorted(trials, key=lambda t: (t.value, t.number))
        return ranked, f"loss (fewer than {MIN_TRIALS} trials for a model)"
    return [t for t, _ in ranking.ranked], f"the model's posterior mean over {len(trials)} trials"


def select_candidates(ranked: Sequence[FrozenTrial], settings: StudySettings, top: int) -> list[Candidate]:
    """The study's baselines (the reference first), then the first ``top`` distinct other
    schedules of ``ranked`` (trials best first)."""
    space = settings.space.build(settings.base.model.budget)
    baselines = baseline_schedules(settings.space, space)
    if not baselines:
        raise ValueError("the study has no baseline schedule to compare against (its space lists none)")
    chosen = [Candidate(name, schedule, baseline=name) for name, schedule in baselines]
    taken = {c.key for c in chosen}
    sampled = [
        t
        for t in ranked
        if "baseline" not in t.user_attrs
        and int(t.user_attrs.get("seed", settings.base.seed)) == settings.base.seed
    ]
    for trial in sampled:
        schedule = Schedule(budget=space.budget, mults=tuple(trial.user_attrs["mlp_mults"]))
        if schedule.key not in taken and len(chosen) < len(baselines) + top:
            taken.add(schedule.key)
            chosen.append(Candidate(f"trial {trial.number}", schedule, trial=trial.number))
    return chosen


def known_results(
    trials: Sequence[FrozenTrial], settings: StudySettings, runs: Sequence[StoredRun]
) -> dict[tuple[str, int, int], float]:
    """Final losses by (schedule key, seed, tokens): completed trials, then stored confirmation runs."""
    tokens = settings.base.train.tokens  # every trial of a study trains on the same budget
    known = {}
    for t in trials:
        key, _, seed = t.user_attrs["schedule_key"].partition("@seed")
        if t.value is not None:
            known[(key, int(seed), tokens)] = t.value
    for run in runs:
        known[(run.schedule, run.seed, run.tokens)] = run.val_loss
    return known


def stored_runs(study: optuna.Study) -> list[StoredRun]:
    """Confirmation runs stored with the study."""
    return [StoredRun.model_validate(r) for r in study.user_attrs.get(RUNS_ATTR, [])]


def stored_confirmations(study: optuna.Study) -> list[Confirmation]:
    """Every confirmation stored with the study, oldest first."""
    return [Confirmation.model_validate(r) for r in study.user_attrs.get(CONFIRMATIONS_ATTR, [])]


def run_config(settings: StudySettings, schedule: Schedule, seed: int, tokens: int) -> RunConfig:
    """The study's base run with this schedule, seed and token budget."""
    base = settings.base
    return RunConfig.model_validate(
        {
            **base.model_dump(),
            "model": base.model.with_schedule(schedule).model_dump(),
            "seed": seed,
            "train": {**base.train.model_dump(), "tokens": tokens},
        }
    )


def make_objective(settings: StudySettings) -> Objective:
    """What the study's trials were scored by, on the same data; ValueError when the data changed."""
    if settings.objective != BUILTIN:
        return FunctionObjective(load_function(settings.objective), settings.objective)
    prepared = prepare_data(settings.base.data, get_preset(settings.preset).model.vocab_size)
    recorded = settings.base.provenance
    if recorded is not None and recorded.data_hash != prepared.tokens.key:
        raise ValueError(
            f"the data or tokenizer differ from the study's (token cache {prepared.tokens.key}, the "
            f"study's {recorded.data_hash}): new runs would not be comparable with its trials"
        )
    return TrainingObjective(prepared, training_device(), progress=sys.stderr.isatty())


@dataclass(frozen=True)
class Trained:
    """What :func:`train_missing` added: losses by (key, seed, tokens), failures by (key, seed)."""

    losses: dict[tuple[str, int, int], float]
    failures: dict[tuple[str, int], str]


def train_missing(
    study: optuna.Study, plan: ConfirmPlan, objective: Objective, log: Callable[[str], None]
) -> Trained:
    """Train every missing run, storing each with the study as soon as it finishes."""
    trained = Trained({}, {})
    for candidate, seed in plan.missing:
        config = run_config(plan.settings, candidate.schedule, seed, plan.tokens)
        label = f"{candidate.name} ({candidate.key}) seed {seed}"
        try:
            evaluation = objective.evaluate(config, lambda tokens, loss: None)
        except TrainingFailed as e:
            trained.failures[(candidate.key, seed)] = f"{e.kind}: {e.reason}"
            log(f"{label}: failed, {e.reason}")
            continue
        run = StoredRun(
            schedule=candidate.key,
            seed=seed,
            tokens=plan.tokens,
            val_loss=evaluation.value,
            val_bpb=evaluation.attrs.get("val_bpb"),
            wall_s=evaluation.attrs.get("wall_s"),
        )
        study.set_user_attr(RUNS_ATTR, [*study.user_attrs.get(RUNS_ATTR, []), run.model_dump(mode="json")])
        trained.losses[(run.schedule, run.seed, run.tokens)] = run.val_loss
        log(f"{label}: val_loss {run.val_loss:.4f}")
    return trained


def result_status(difference: MeanDifference | None) -> str:
    """A schedule's standing against the reference: better, worse, within noise, or too few seeds."""
    if difference is None or difference.low is None:
        return "too few seeds"
    if difference.below_zero:
        return "better"
    return "worse" if difference.above_zero else "within noise"


def verdict(
    differences: Mapping[str, MeanDifference | None], reference: str, confidence: float = CONFIDENCE
) -> tuple[str | None, str]:
    """The winner (the lowest mean among schedules whose interval lies below zero) and a sentence."""
    better = {name: d for name, d in differences.items() if d is not None and d.below_zero}
    if not better:
        return None, (
            f"no schedule beat {reference} beyond noise: no {confidence:.0%} interval of the "
            "difference lies below zero"
        )
    winner = min(better, key=lambda name: better[name].mean)
    d = better[winner]
    sentence = (
        f"{winner} beats {reference}: mean difference {d.mean:+.4f}, {confidence:.0%} interval "
        f"[{d.low:+.4f}, {d.high:+.4f}] over {d.n} seeds"
    )
    if len(differences) > 1:
        # A schedule no better than the reference still gets an interval wholly below zero
        # (1 - confidence) / 2 of the time; over several, the union bound caps the chance of a
        # false winner.
        chance = min(1.0, len(differences) * (1 - confidence) / 2)
        sentence += (
            f" (with {len(differences)} schedules compared, a false winner has at most a {chance:.0%} chance)"
        )
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
    """The record of a finished confirmation: per-schedule results, verdict and fidelity."""
    known = {**plan.known, **trained.losses}
    reference = plan.candidates[0]
    losses = {c.key: _losses(known, c.key, plan.seeds, plan.tokens) for c in plan.candidates}
    results, differences = [], {}
    for c in plan.candidates:
        difference = None
        if c is not reference:
            pairs = paired_differences(losses[c.key], losses[reference.key])
            difference = mean_difference(list(pairs.values()), CONFIDENCE) if pairs else None
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
    winner, sentence = verdict(differences, reference.name)
    short = {r.name: _losses(known, r.schedule, plan.seeds, plan.study_tokens) for r in results}
    long = {r.name: r.mean for r in results if r.mean is not None}
    return Confirmation(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        study_tokens=plan.study_tokens,
        tokens=plan.tokens,
        seeds=plan.seeds,
        confidence=CONFIDENCE,
        reference=reference.name,
        schedules=results,
        winner=winner,
        verdict=sentence,
        trained=len(trained.losses),
        reused=len(plan.candidates) * len(plan.seeds) - len(plan.missing),
        fidelity=fidelity(short, long, plan.study_tokens) if plan.tokens != plan.study_tokens else None,
        ranking=plan.ranking,
    )


def _losses(
    known: Mapping[tuple[str, int, int], float], key: str, seeds: Sequence[int], tokens: int
) -> dict[int, float]:
    return {s: known[(key, s, tokens)] for s in seeds if (key, s, tokens) in known}


def confirm(
    study: optuna.Study, plan: ConfirmPlan, objective: Objective | None, log: Callable[[str], None]
) -> Confirmation:
    """Train what is missing, then store the record with the study and show it in its note.

    ``objective`` may be None only when nothing is missing.
    """
    trained = Trained({}, {})
    if plan.missing:
        if objective is None:
            raise ValueError(f"{len(plan.missing)} runs must be trained but no objective was given")
        trained = train_missing(study, plan, objective, log)
    record = summarize_confirmation(plan, trained)
    stored = study.user_attrs.get(CONFIRMATIONS_ATTR, [])
    latest = Confirmation.model_validate(stored[-1]) if stored else None
    if latest is not None and _same_result(latest, record):
        log(f"the same result as the confirmation of {latest.created}: not stored again")
        return record
    study.set_user_attr(CONFIRMATIONS_ATTR, [*stored, record.model_dump(mode="json")])
    save_confirmation_note(study)
    return record


def _same_result(old: Confirmation, new: Confirmation) -> bool:
    """Whether two records differ only in when they were made and what was trained for them."""
    moment = {"created", "trained", "reused"}
    return old.model_dump(exclude=moment) == new.model_dump(exclude=moment)


def save_confirmation_note(study: optuna.Study) -> None:
    """Replace the confirmation section of the study's dashboard note, keeping the rest."""
    kept = get_note(study).split(NOTE_HEADING)[0].rstrip()
    section = confirmation_section(stored_confirmations(study))
    save_note(study, f"{kept}\n\n{section}" if kept else section)


def result_rows(record: Confirmation) -> list[list[str]]:
    """Table rows: name, schedule, seeds, mean loss, difference, interval, standing."""
    rows = []
    for r in record.schedules:
        d = r.difference
        interval = f"[{d.low:+.4f}, {d.high:+.4f}]" if d is not None and d.low is not None else ""
        rows.append(
            [
                r.name,
                r.schedule,
                f"{len(r.losses)}" + (f" ({len(r.failed)} failed)" if r.failed else ""),
                f"{r.mean:.4f}" if r.mean is not None else "",
                f"{d.mean:+.4f}" if d is not None else "",
                interval,
                r.status,
            ]
        )
    return rows


def result_headers(record: Confirmation) -> list[str]:
    """Column names of :func:`result_rows`."""
    return [
        "name",
        "schedule",
        "seeds",
        "mean loss",
        f"vs {record.reference}",
        f"{record.confidence:.0%} interval",
        "result",
    ]


def fidelity_lines(record: Confirmation) -> list[str]:
    """What the fidelity check found, and a warning when tau is low; empty without one."""
    f = record.fidelity
    if f is None:
        return []
    if f.tau is None:
        return [
            f"fidelity: Kendall's tau needs at least 2 schedules with different losses; {len(f.names)} usable"
        ]
    lines = [
        f"fidelity: Kendall's tau {f.tau:+.2f} between the {f.short_tokens:,}-token ranking (mean "
        f"over seeds {_seed_range(f.short_seeds)}) and the {record.tokens:,}-token ranking of "
        f"{len(f.names)} schedules"
    ]
    if f.warning:
        lines.append(
            f"warning: tau is below {f.min_tau}: the short trials' ranking does not predict the longer "
            "run's; trust the longer runs, and consider a larger trial budget (--tokens) for the search"
        )
    return lines


def format_table(record: Confirmation) -> str:
    """The record as aligned text: the table, the verdict and the fidelity check."""
    rows = [result_headers(record), *result_rows(record)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    ranking = [f"trials ranked by {record.ranking}"] if record.ranking else []
    return "\n".join([*lines, "", f"verdict: {record.verdict}", *ranking, *fidelity_lines(record)])


def confirmation_section(records: Sequence[Confirmation]) -> str:
    """Markdown for the dashboard note: the latest confirmations, newest first."""
    lines = [f"{NOTE_HEADING} (`python -m search.confirm`)", ""]
    for record in reversed(records[-NOTE_RECORDS:]):
        lines += [
            f"### {record.created}: {record.tokens:,} tokens, seeds {_seed_range(record.seeds)}",
            "",
            "| " + " | ".join(result_headers(record)) + " |",
            "|" + "---|" * len(result_headers(record)),
        ]
        for row in result_rows(record):
            row[1] = f"`{row[1]}`"
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"**Verdict:** {record.verdict}", ""]
        if record.ranking:
            lines += [f"Trials ranked by {record.ranking}.", ""]
        if record.fidelity is not None:
            lines += [*(f"{line}  " for line in fidelity_lines(record)), ""]
    if len(records) > NOTE_RECORDS:
        lines.append(f"{len(records) - NOTE_RECORDS} older confirmations: see `python -m search.report`.")
    return "\n".join(lines).rstrip() + "\n"


def _seed_range(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def main(argv: list[str] | None = None) -> int:
    """Parse, plan against the study, train what is missing, store and print the result."""
    args = _parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stop_on_sigterm()
    try:
        study = load_existing_study(args.storage, args.study)
        plan = plan_confirmation(
            study, args.top, args.seeds, parse_count(args.tokens) if args.tokens else None
        )
        objective = make_objective(plan.settings) if plan.missing else None
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    print(plan.describe())
    try:
        record = confirm(study, plan, objective, print)
    except KeyboardInterrupt:
        print("interrupted: finished runs are stored; run the same command to continue", file=sys.stderr)
        return 130
    print()
    print(format_table(record))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m search.confirm", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add_study_options(parser)
    add("--top", type=int, default=3, help="best distinct schedules of the study to confirm (default 3)")
    add("--seeds", type=int, default=5, help="seeds per schedule: the study's seed, seed+1, ... (default 5)")
    add("--tokens", help="training tokens per run, e.g. 200M (default: the study's trial budget)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
