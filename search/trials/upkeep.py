"""The dashboard's view of a study, kept current after each trial from a background thread."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import optuna

from search.findings.dashboard import save_dashboard_figures
from search.findings.note import update_study_note

# The dashboard's figures of every trial are rewritten this often (and when a run ends): they
# grow with the study, and writing them after every trial would fill the journal.
FIGURES_EVERY = 10


class DashboardUpkeep:
    """Rewrites the study's note after every finished trial, and its figures every
    ``FIGURES_EVERY`` trials, in a thread of its own, so that the worker asks for and trains its
    next trial meanwhile (both read the whole study and fit its model: tenths of a second a trial
    on a GPU host). One rewrite at a time, in order; a failed one is raised by the next
    :meth:`after` call, as it was raised after the trial when rewrites ran in the worker's thread."""

    def __init__(self, study: optuna.Study, tokens_per_step: int) -> None:
        self.study = study
        self.tokens_per_step = tokens_per_step
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-upkeep")
        self._last: Future[None] | None = None

    def after(self, number: int) -> None:
        """Trial ``number`` has been told: rewrite what the dashboard shows."""
        if self._last is not None:
            self._last.result()
        self._last = self._thread.submit(self._rewrite, number)

    def close(self, log: Callable[[str], None]) -> None:
        """Wait for the rewrite under way; an error in it goes to ``log`` (the worker is ending
        anyway, maybe on an error of its own that must not be masked)."""
        self._thread.shutdown(wait=True)
        error = self._last.exception() if self._last is not None else None
        if error is not None:
            lines = "".join(traceback.format_exception(error))
            log(f"the dashboard's note or figures could not be rewritten:\n{lines}")

    def _rewrite(self, number: int) -> None:
        update_study_note(self.study)
        if number % FIGURES_EVERY == 0:
            save_dashboard_figures(self.study, self.tokens_per_step)
