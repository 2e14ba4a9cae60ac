"""A trial's pictures: the schedule drawn off the worker's thread, both uploaded before the trial is
told, nothing left behind by trials that never uploaded theirs."""

from __future__ import annotations

import threading
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore

from search.data.prepare import PreparedData
from search.training.run_config import DataSpec, RunConfig
from search.trials import storing
from search.trials.objective import Evaluation
from search.trials.storing import TrialPictures, store_evaluation


def _config(tiny_spec: DataSpec, tiny_data: PreparedData) -> RunConfig:
    return RunConfig.from_preset("tiny", tiny_spec, tiny_data, 0)


def test_a_trial_gets_its_schedule_and_loss_curve_and_the_files_are_gone(
    tmp_path: Path, tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    study = optuna.create_study()
    trial = study.ask()
    pictures = TrialPictures(FileSystemArtifactStore(str(tmp_path)))
    try:
        underway = pictures.start(trial.number, _config(tiny_spec, tiny_data))
        evaluation = Evaluation(
            4.0, {"tokens": 100}, [5.0, 4.5, 4.2], [{"step": 3, "tokens": 96, "val_loss": 4.0}]
        )
        store_evaluation(trial, _config(tiny_spec, tiny_data), evaluation, underway, None)
        folder = Path(pictures.folder.name)
        assert list(folder.iterdir()) == []
    finally:
        pictures.close()
    study.tell(trial, 4.0)
    stored = study.trials[0]
    uploaded = [k for k in stored.system_attrs if k.startswith("artifacts:")]
    assert len(uploaded) == 2
    assert len(list(tmp_path.iterdir())) == 2
    assert not folder.exists()


def test_the_schedule_is_drawn_off_the_workers_thread(
    tmp_path: Path, tiny_spec: DataSpec, tiny_data: PreparedData, monkeypatch
) -> None:
    threads: list[threading.Thread] = []
    draw = storing.plot_schedule

    def recorded(*args: object) -> Path:
        threads.append(threading.current_thread())
        return draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(storing, "plot_schedule", recorded)
    pictures = TrialPictures(FileSystemArtifactStore(str(tmp_path)))
    try:
        drawn = pictures.start(0, _config(tiny_spec, tiny_data)).schedule.result()
        assert drawn.stat().st_size > 0
    finally:
        pictures.close()
    assert threads and threads[0] is not threading.current_thread()


def test_closing_removes_the_pictures_of_trials_that_failed(
    tmp_path: Path, tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    pictures = TrialPictures(FileSystemArtifactStore(str(tmp_path)))
    underway = pictures.start(7, _config(tiny_spec, tiny_data))  # the trial then fails: never uploaded
    pictures.close()  # waits for the drawing under way
    assert underway.schedule.done()
    assert not Path(pictures.folder.name).exists()
    assert list(tmp_path.iterdir()) == []
