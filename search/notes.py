"""The study note shown in the dashboard: best schedule against the baselines and seed noise."""

from __future__ import annotations

from dataclasses import asdict

import optuna
from optuna_dashboard import save_note

from search.confirm import confirmation_section, stored_confirmations
from search.recommend import ModelFit
from search.study import study_settings
from search.summary import ModelPick, StudySummary, completed, model_pick, summarize

# The model's kernel settings, stored with the study and refitted when the completed trials have
# grown by this factor since: refitting every trial would cost seconds per trial in long studies.
MODEL_FIT_ATTR = "model_fit"
REFIT_GROWTH = 1.2


def study_note(name: str, summary: StudySummary, study_seed: int, pick: ModelPick | None = None) -> str:
    """Markdown: the best schedule, the model's pick, each baseline, and the difference to the
    reference."""
    lines = [f"## Hourglass study `{name}`", ""]
    lines.append(
        f"{summary.counted} trials counted; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary.states.items()))
    )
    lines.append("")
    reference = summary.reference_loss(study_seed)
    if summary.best is not None:
        best = summary.best
        mults = ",".join(str(m) for m in best.user_attrs.get("mlp_mults", []))
        gain = f" ({best.value - reference:+.4f} vs reference)" if reference is not None else ""
        lines.append(f"**Best:** trial {best.number}, `{mults}`, val loss {best.value:.4f}{gain}")
        lines.append("")
    if pick is not None:
        mults = ",".join(str(m) for m in pick.trial.user_attrs.get("mlp_mults", []))
        lines.append(
            f"**The model's pick:** trial {pick.trial.number}, `{mults}`, val loss {pick.trial.value:.4f}, "
            f"expected {pick.expected:.4f}. A Gaussian process over the {pick.seen} trials weighs each "
            "loss with its neighbours' (`search.confirm` retrains its top schedules); where it differs "
            "from the best, the best's low loss may owe something to its seed."
        )
        lines.append("")
    if summary.baselines:
        lines += ["| baseline | schedule | seeds | val loss (mean) |", "|---|---|---|---|"]
        for score in summary.baselines:
            losses = ", ".join(f"{v:.4f}" for _, v in sorted(score.losses.items()))
            lines.append(
                f"| {score.baseline} | `{score.key}` | {len(score.losses)} | {score.mean:.4f} ({losses}) |"
            )
        lines.append("")
    if summary.noise_sd is not None:
        lines.append(
            f"**Seed noise** of the reference baseline: sd {summary.noise_sd:.4f} over "
            f"{len(summary.baselines[0].losses)} seeds. Differences smaller than about twice this "
            "are not evidence; `python -m search.confirm` measures them with paired seeds."
        )
    return "\n".join(lines) + "\n"


def update_study_note(study: optuna.Study) -> None:
    """Rewrite the study's dashboard note from its current trials and confirmations."""
    seed = study_settings(study).base.seed
    trials = study.get_trials(deepcopy=False)
    note = study_note(
        study.study_name, summarize(trials, seed), seed, current_model_pick(study, trials, seed)
    )
    confirmations = stored_confirmations(study)
    if confirmations:
        note += "\n" + confirmation_section(confirmations)
    save_note(study, note)


def current_model_pick(
    study: optuna.Study, trials: list[optuna.trial.FrozenTrial], seed: int
) -> ModelPick | None:
    """The model's pick, with the kernel settings stored in the study while they are fresh
    enough; new settings are fitted and stored when the trials have grown by ``REFIT_GROWTH``."""
    stored = study.user_attrs.get(MODEL_FIT_ATTR)
    fresh = stored is not None and len(completed(trials)) < stored["trials"] * REFIT_GROWTH
    fit = ModelFit(**stored["fit"]) if fresh else None
    pick = model_pick(trials, seed, fit)
    if pick is not None and fit is None:
        study.set_user_attr(MODEL_FIT_ATTR, {"trials": pick.seen, "fit": asdict(pick.fit)})
    return pick
