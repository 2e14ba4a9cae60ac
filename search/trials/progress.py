"""The overall progress bar of a study: finished/target, best so far, elapsed and ETA."""

from __future__ import annotations

import optuna
from tqdm import tqdm

from search.findings.summary import summarize
from search.study.record import counts


class StudyProgress:
    """A tqdm bar over the study's counted trials, refreshed from the storage."""

    def __init__(self, study: optuna.Study, target: int, study_seed: int) -> None:
        self.study = study
        self.study_seed = study_seed
        done = sum(counts(t) for t in study.get_trials(deepcopy=False))
        self.bar = tqdm(
            total=target, initial=min(done, target), desc=study.study_name, unit="trial", dynamic_ncols=True
        )

    def refresh(self) -> None:
        """Re-read the study: advance the bar and show the best loss so far."""
        summary = summarize(self.study.get_trials(deepcopy=False), self.study_seed)
        if summary.best is not None and summary.best.value is not None:
            self.bar.set_postfix(best=f"{summary.best.value:.4f}", refresh=False)
        self.bar.update(max(0, min(summary.counted, self.bar.total) - self.bar.n))

    def write(self, line: str) -> None:
        """Print a line above the bar."""
        self.bar.write(line)

    def close(self) -> None:
        """Leave the final bar on screen."""
        self.bar.close()
