"""The study note the dashboard shows, rewritten after every trial and confirmation."""

from __future__ import annotations

from dataclasses import asdict

import optuna

from search.findings.contents import StudyFindings, findings_of, note_sections
from search.findings.markdown import to_markdown
from search.study import record
from search.study.schedule_model import ModelFit

# The model's kernel settings, stored with the study and refitted when the completed trials have
# grown by this factor since: refitting every trial would cost seconds per trial in long studies.
MODEL_FIT_ATTR = "model_fit"
REFIT_GROWTH = 1.2


def study_note(findings: StudyFindings) -> str:
    """The note as Markdown."""
    return to_markdown(f"Hourglass study `{findings.name}`", note_sections(findings))


def update_study_note(study: optuna.Study) -> None:
    """Rewrite the study's dashboard note from its current trials and confirmations."""
    # Here, not at the top: optuna_dashboard imports scikit-learn where it is installed, 1,700
    # modules a worker would load before its first trial (README, "Cold start").
    from optuna_dashboard import save_note

    save_note(study, study_note(current_findings(study)))


def current_findings(study: optuna.Study) -> StudyFindings:
    """The study's findings, with the model's kernel settings stored in the study while they are
    fresh enough; new settings are fitted and stored when the trials have grown by ``REFIT_GROWTH``."""
    stored = study.user_attrs.get(MODEL_FIT_ATTR)
    trials = study.get_trials(deepcopy=False)
    fresh = stored is not None and len(record.completed(trials)) < stored["trials"] * REFIT_GROWTH
    findings = findings_of(study, trials, ModelFit(**stored["fit"]) if fresh else None)
    if findings.ranking is not None and not fresh:
        fit = findings.ranking.fit
        study.set_user_attr(MODEL_FIT_ATTR, {"trials": len(findings.ranking.ranked), "fit": asdict(fit)})
    return findings
