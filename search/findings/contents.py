"""A study's findings, gathered once, and the blocks that the note, the terminal and the report are
made of: each table and sentence is built here and nowhere else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.data.sample_corpus import is_sample_corpus
from search.findings.confirmation import Confirmation, StoredRun, stored_confirmations, stored_runs
from search.findings.confirmation_blocks import confirmations_section
from search.findings.document import Block, Picture, Section, Table, Text
from search.findings.fidelity import budget_fidelity
from search.findings.fidelity_blocks import fidelity_section
from search.findings.figures import importance_figure, schedules_figure, trials_figure
from search.findings.formatting import mults_text
from search.findings.importance import layer_importances
from search.findings.summary import (
    ModelPick,
    ModelRanking,
    ScheduleScore,
    StudySummary,
    model_ranking,
    summarize,
)
from search.study import record
from search.study.schedule_model import ModelFit
from search.study.settings import BUILTIN_OBJECTIVE, StudySettings, study_settings
from search.study.spread import SdEstimate, pooled_sd

BEST_SHOWN = 6
# The note shows the latest few confirmations; the report and the study's attribute keep every one.
NOTE_CONFIRMATIONS = 3


@dataclass(frozen=True)
class StudyFindings:
    """Everything a study has found: its trials summarized, the model's ranking, its confirmations
    and the runs they trained."""

    name: str
    settings: StudySettings
    trials: list[FrozenTrial]
    summary: StudySummary
    ranking: ModelRanking | None
    confirmations: list[Confirmation]
    runs: list[StoredRun]

    @property
    def seed(self) -> int:
        """The study's seed: where its schedules compete."""
        return self.settings.base.seed

    @property
    def pick(self) -> ModelPick | None:
        """The model's pick at the study's seed (None below the model's minimum of trials)."""
        return self.ranking.pick(self.seed) if self.ranking else None

    @property
    def ranked(self) -> list[FrozenTrial]:
        """Completed trials at the study's seed, repeats left out, lowest loss first."""
        kept = record.at_seed(record.completed(self.trials), self.seed)
        return sorted(kept, key=lambda t: (record.value(t), t.number))

    @property
    def best_distinct(self) -> list[FrozenTrial]:
        """The best ``BEST_SHOWN`` trials at the study's seed, one per schedule."""
        seen: set[str] = set()
        kept = []
        for t in self.ranked:
            if record.schedule_key(t) not in seen:
                seen.add(record.schedule_key(t))
                kept.append(t)
        return kept[:BEST_SHOWN]

    @property
    def passes(self) -> dict[int, float]:
        """Passes over the training data by training tokens, where the trials or the confirmation
        runs recorded them: every run at one budget reads the same training split, so one count."""
        found = {run.tokens: run.passes for run in self.runs if run.passes is not None}
        trials = (p for t in record.completed(self.trials) if (p := record.passes(t)) is not None)
        trained = next(trials, None)
        if trained is not None:
            found.setdefault(self.settings.base.train.tokens, trained)
        return found


def gather_findings(study: optuna.Study, fit: ModelFit | None = None) -> StudyFindings:
    """The findings of ``study``; ``fit`` reuses the model's kernel settings fitted earlier.
    ValueError for a study not made by Hourglass."""
    return findings_of(study, study.get_trials(deepcopy=False), fit)


def findings_of(study: optuna.Study, trials: list[FrozenTrial], fit: ModelFit | None = None) -> StudyFindings:
    """The findings of ``study`` from ``trials``, its trials as the caller has just read them."""
    settings = study_settings(study)
    return StudyFindings(
        name=study.study_name,
        settings=settings,
        trials=trials,
        summary=summarize(trials, settings.base.seed),
        ranking=model_ranking(record.completed(trials), fit),
        confirmations=stored_confirmations(study),
        runs=stored_runs(study),
    )


def overview_table(f: StudyFindings) -> Table:
    """What the study is: preset, space, data, budget, seed, objective, and how its trials ended."""
    base = f.settings.base
    data = ", ".join(base.data.train)
    if is_sample_corpus(base.data.train):
        data = "the sample corpus shipped with hourglass: a demonstration of the loop, not a finding"
    builtin = f.settings.objective == BUILTIN_OBJECTIVE
    passes = f.passes.get(base.train.tokens)
    trained = f"{base.train.tokens:,}" + (f" ({passes:.2f} passes over the training data)" if passes else "")
    facts = (
        ("preset", f"{f.settings.preset} ({base.model.params:,} parameters)"),
        ("space", f.settings.space.space),
        ("data", data),
        ("training tokens per trial", trained),
        ("study seed", str(base.seed)),
        ("objective", f.settings.objective),
        *((("validation", validation_text(base.train.checkpoints)),) if builtin else ()),
        ("trials counted", str(f.summary.counted)),
        ("outcomes", outcomes_text(f)),
    )
    return Table(("study", f.name), facts)


def outcomes_text(f: StudyFindings) -> str:
    """How the study's trials ended, and at which steps the pruned ones stopped: a study that pruned
    most of its trials early has ranked few schedules, however many it ran."""
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(f.summary.states.items())) or "none yet"
    stops = Counter(
        max(t.intermediate_values) for t in f.trials if t.state == TrialState.PRUNED and t.intermediate_values
    )
    if not stops:
        return outcomes
    return f"{outcomes}; pruned at step " + ", ".join(f"{step:,} ({n})" for step, n in sorted(stops.items()))


def closing_texts(f: StudyFindings) -> list[Text]:
    """What ``search.run`` ends with: how the trials ended, then :func:`best_texts`."""
    return [Text(outcomes_text(f), label="Trials"), *best_texts(f)]


def validation_text(checkpoints: int) -> str:
    """When the built-in trainer validates a trial of ``checkpoints`` checkpoints before the end."""
    if checkpoints == 0:
        # Optuna's dashboard draws an empty intermediate-values plot for such a study: say why.
        return "at the end of each trial only (no pruning: no intermediate values)"
    return f"{checkpoints} times during each trial (for the pruner) and at its end"


def best_texts(f: StudyFindings) -> list[Text]:
    """The lowest loss at the study's seed (against the reference and the seed noise), which rule
    that is, and the model's pick beside it."""
    texts = []
    best = f.summary.best
    if best is not None:
        reference = f.summary.reference_loss(f.seed)
        noise = f", seed noise sd {f.summary.noise_sd:.4f}" if f.summary.noise_sd is not None else ""
        gain = (
            f" ({record.value(best) - reference:+.4f} vs reference{noise})" if reference is not None else ""
        )
        texts.append(
            Text(
                f"trial {best.number}, `{mults_text(record.mults(best))}`, "
                f"val loss {record.value(best):.4f}{gain}",
                label="Best",
            )
        )
        texts.append(
            Text(
                f"Best is the lowest loss at the study's seed {f.seed}, where schedules compete. The "
                "dashboard's Best Trial card takes the lowest over every trial, the reference's noise "
                "runs at other seeds included; `search.best` says which rule it exports by.",
                kind="note",
            )
        )
    pick = f.pick
    if pick is not None:
        texts.append(
            Text(
                f"trial {pick.trial.number}, `{mults_text(record.mults(pick.trial))}`, val loss "
                f"{record.value(pick.trial):.4f}, expected {pick.expected:.4f}: {pick.why}. A Gaussian "
                f"process over the {pick.seen} trials weighs each loss with its neighbours' (its noise kept "
                "within what repeated baselines measured; `search.confirm` retrains its top schedules); "
                "where it differs from the best, the best's low loss may owe something to its seed.",
                label="The model's pick",
            )
        )
    return texts


def best_table(f: StudyFindings) -> Table:
    """The best distinct schedules at the study's seed, with the model's expected loss."""
    reference = f.summary.reference_loss(f.seed)
    expected = f.ranking.expected if f.ranking else {}
    rows = []
    for rank, t in enumerate(f.best_distinct, start=1):
        loss = record.value(t)
        rows.append(
            (
                str(rank),
                str(t.number),
                record.baseline(t) or "",
                record.schedule_key(t),
                f"{loss:.4f}",
                f"{expected[t.number]:.4f}" if t.number in expected else "",
                f"{loss - reference:+.4f}" if reference is not None else "",
            )
        )
    headers = (
        "rank",
        "trial",
        "baseline",
        "schedule",
        "val loss",
        "expected (model)",
        "vs reference (same seed)",
    )
    return Table(headers, tuple(rows), code_columns=frozenset({3}))


def baseline_blocks(f: StudyFindings) -> list[Block]:
    """Each baseline's losses by seed, and the reference's seed-noise band."""
    summary = f.summary
    reference = summary.reference
    if reference is None:
        return [Text("No baseline has finished yet.", kind="note")]
    rows = tuple(
        (
            score.baseline or "",
            score.key,
            str(len(score.losses)),
            ", ".join(f"{seed}: {v:.4f}" for seed, v in sorted(score.losses.items())),
            f"{score.mean:.4f}",
            f"{score.sd:.4f}" if score.sd is not None else "",
        )
        for score in summary.baselines
    )
    table = Table(
        ("baseline", "schedule", "seeds", "val loss by seed", "mean", "sd"), rows, code_columns=frozenset({1})
    )
    name = reference.baseline or "the reference"
    noise = pooled_sd([list(reference.losses.values())])
    if noise is None:
        return [
            table,
            Text(f"{name} has one seed: no noise band (study settings: noise_seeds of 2 or more)."),
        ]
    return [table, Text(_noise_text(name, reference, noise), label="Seed noise", anchor="noise-band")]


def _noise_text(name: str, reference: ScheduleScore, noise: SdEstimate) -> str:
    """The reference's noise band, the sd's own interval, and the smallest difference between two
    single trials that this noise lets one tell apart."""
    # A few seeds pin the sd down poorly (with 2 seeds its 95% interval spans a factor of about
    # 70), so the resolvable difference is given at the interval's upper end too.
    widest = replace(noise, sd=noise.high)
    freedom = "degree" if noise.df == 1 else "degrees"
    mean = reference.mean
    return (
        f"{name}: mean {mean:.4f} ± sd {noise.sd:.4f} over {len(reference.losses)} seeds = "
        f"[{mean - noise.sd:.4f}, {mean + noise.sd:.4f}]; from {noise.df} {freedom} of freedom, the "
        f"sd's {noise.confidence:.0%} interval is [{noise.low:.4f}, {noise.high:.4f}]. Two single "
        f"trials must differ by more than {noise.resolvable:.4f} nats ({widest.resolvable:.4f} at the "
        f"interval's upper end) to be told apart at {noise.confidence:.0%}; `python -m search.confirm` "
        "measures smaller differences with paired seeds."
    )


def fidelity_sections(f: StudyFindings) -> list[Section]:
    """The confirmations compared across token budgets; none when they are all at one budget."""
    compared = budget_fidelity(f.confirmations, f.passes)
    return [fidelity_section(compared)] if compared is not None else []


def note_sections(f: StudyFindings) -> list[Section]:
    """The dashboard note: the overview and the best, the baselines, the fidelity across budgets,
    the latest confirmations."""
    return [
        Section("", "overview", (overview_table(f), *best_texts(f))),
        Section("Baselines and seed noise", "baselines", tuple(baseline_blocks(f))),
        *fidelity_sections(f),
        confirmations_section(f.confirmations, NOTE_CONFIRMATIONS),
    ]


def page_sections(f: StudyFindings) -> list[Section]:
    """The report: everything in the note, every confirmation, and the pictures."""
    return [
        Section("", "overview", (overview_table(f),)),
        Section("Best schedules", "best", tuple(_best_blocks(f))),
        Section("Loss by trial", "trials", tuple(_trials_blocks(f))),
        Section("Per-layer importance", "importance", tuple(_importance_blocks(f))),
        Section("Baselines and seed noise", "baselines", tuple(baseline_blocks(f))),
        *fidelity_sections(f),
        confirmations_section(f.confirmations),
    ]


def _best_blocks(f: StudyFindings) -> list[Block]:
    best = f.best_distinct
    if not best:
        return [Text("No completed trials yet.")]
    budget = f.settings.base.model.budget
    picture = Picture(
        "best schedules: MLP width per layer", lambda: schedules_figure(best, budget.total / budget.n_layers)
    )
    return [best_table(f), *best_texts(f), picture]


def _trials_blocks(f: StudyFindings) -> list[Block]:
    complete = record.completed(f.trials)
    if not complete:
        return [Text("No completed trials yet.")]
    left_out = len(f.trials) - len(complete)
    return [
        Picture("loss by trial", lambda: trials_figure(complete, f.summary)),
        Text(f"{left_out} trials without a final loss (pruned, failed, repeats) are not shown.", kind="note"),
    ]


def _importance_blocks(f: StudyFindings) -> list[Block]:
    try:
        importances = layer_importances(f.ranked, f.settings.base.model.n_layers)
    except ValueError as e:
        return [Text(f"Not shown: {e}.", kind="note")]
    rows = tuple((name, f"{value:.3f}") for name, value in importances.items())
    return [
        Text(
            "How much each layer's multiplier separates the best 10% of trials from the rest "
            "(Optuna's PED-ANOVA); rough below about 50 trials.",
            kind="note",
        ),
        Picture("per-layer importance", lambda: importance_figure(importances)),
        Table(("parameter", "importance"), rows),
    ]
