import math

import optuna
from optuna.trial import TrialState

from search.data.spec import DataSpec
from search.findings.contents import StudyFindings
from search.findings.note import MODEL_FIT_ATTR, current_findings, study_note
from search.findings.summary import model_ranking, summarize
from search.study.record import completed
from search.study.schedule_model import MIN_TRIALS
from search.study.settings import StudySettings, store_settings
from search.training.run_config import RunConfig
from space.spec import SpaceSpec

GOOD = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)
POOR = (1, 1, 1, 1, 4, 4, 4, 4, 7, 7, 7, 7)


def trial(number, mults, value, seed=0, state=TrialState.COMPLETE, **attrs):
    made = optuna.trial.create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        user_attrs={"mlp_mults": list(mults), "seed": seed, **attrs},
    )
    made.number = number
    return made


def near(centre, k):
    """A schedule one unit of width away from ``centre``, moved between layers k and k+1."""
    row = list(centre)
    row[k], row[k + 1] = row[k] - 1, row[k + 1] + 1
    return tuple(row)


def study_trials():
    good = [trial(k, near(GOOD, k), 4.50 + 0.01 * k) for k in range(6)]
    poor = [trial(6 + k, near(POOR, k + 4), 4.90 + 0.01 * k) for k in range(5)]
    lucky = trial(11, POOR, 4.49)  # the lowest loss, among poor neighbours
    return [*good, *poor, lucky]


def test_model_pick_is_the_schedule_with_good_neighbours_not_the_lucky_best():
    trials = study_trials()
    assert summarize(trials, 0).best.number == 11
    pick = findings(trials).pick
    assert pick is not None and pick.trial.number in range(6) and pick.seen == 12
    assert 4.45 < pick.expected < 4.6


UNIFORM = (4,) * 12
WIDE = (12, 4, 4, 4, 2, 2, 2, 2, 4, 4, 4, 4)
# Spreads about zero, one trial each: noise of sd about 0.01, as the uniform baseline's seeds show.
JITTER = (0.01, -0.01, 0.0, 0.012, -0.008, 0.004, -0.012, 0.008, -0.004, 0.0)


def opened_study() -> list:
    """The baselines as search.run queues them: uniform at seeds 0 to 2 (spread 0.01), hand-found."""
    runs = [("uniform", UNIFORM, 4.70, 0), ("uniform", UNIFORM, 4.71, 1), ("uniform", UNIFORM, 4.69, 2)]
    runs.append(("hand-found", GOOD, 4.50, 0))
    return [
        trial(
            n, mults, value, seed=seed, baseline=name, schedule_key=f"{','.join(map(str, mults))}@seed{seed}"
        )
        for n, (name, mults, value, seed) in enumerate(runs)
    ]


def test_a_lucky_neighbour_of_the_best_baseline_is_not_the_pick():
    """Hand-found's neighbours do as well as it, within the noise the uniform seeds show; one drew
    three sd's of luck. Nothing is better than hand-found with 95% probability: it stays the pick."""
    trials = opened_study() + [trial(4 + k, near(GOOD, k), 4.50 + JITTER[k]) for k in range(10)]
    trials.append(trial(14, near(GOOD, 10), 4.47))
    pick = findings(trials).pick
    assert pick is not None and pick.trial.number == 3
    assert pick.reference is not None and pick.better is None
    assert pick.why.startswith("hand-found, the best baseline: no trial is better than it")


def test_a_region_surely_better_than_the_baselines_holds_the_pick():
    trials = opened_study() + [trial(4 + k, near(GOOD, k), 4.50 + JITTER[k]) for k in range(10)]
    trials += [trial(14 + k, near(WIDE, k), 4.30 + JITTER[k]) for k in range(10)]
    pick = findings(trials).pick
    assert pick is not None and pick.trial.number >= 14 and pick.better >= 0.95
    assert pick.why.startswith("the lowest expected loss among the trials better than hand-found")


def test_model_pick_uses_every_seed_but_picks_at_the_study_seed():
    trials = study_trials()
    trials.append(trial(12, GOOD, 4.40, seed=1))  # another data order: evidence, not a pick
    pick = findings(trials).pick
    assert pick is not None and pick.trial.number != 12 and pick.seen == 13


def test_failed_repeated_and_infinite_trials_are_left_out():
    trials = study_trials()
    trials += [
        trial(20, GOOD, None, state=TrialState.FAIL),
        trial(21, GOOD, 4.0, repeat_of=0),
        trial(22, near(GOOD, 8), math.inf),
    ]
    assert [t.number for t in completed(trials)] == list(range(12))
    assert findings(trials).pick.seen == 12


def test_no_model_below_its_minimum_of_trials():
    few = study_trials()[: MIN_TRIALS - 1]
    assert model_ranking(completed(few)) is None
    assert findings(few).pick is None


def settings() -> StudySettings:
    base = RunConfig.from_preset("tiny", DataSpec(train=("corpus.jsonl",)), None)
    return StudySettings(preset="tiny", space=SpaceSpec(), objective="builtin", base=base)


def findings(trials) -> StudyFindings:
    completed_trials = completed(trials)
    return StudyFindings(
        name="demo",
        settings=settings(),
        trials=trials,
        summary=summarize(trials, 0),
        ranking=model_ranking(completed_trials),
        confirmations=[],
        runs=[],
    )


def test_study_note_shows_the_model_pick_beside_the_best():
    trials = study_trials()
    note = study_note(findings(trials))
    assert "**Best:** trial 11" in note
    assert "**The model's pick:** trial" in note and "expected 4.5" in note
    assert "model's pick" not in study_note(findings(trials[: MIN_TRIALS - 1]))


def test_the_note_reuses_stored_kernel_settings_until_the_trials_grow_a_fifth():
    study = optuna.create_study()
    store_settings(study, settings())
    for t in study_trials():
        study.add_trial(t)
    first = current_findings(study).pick
    assert study.user_attrs[MODEL_FIT_ATTR]["trials"] == 12
    study.add_trial(trial(12, near(GOOD, 7), 4.55))
    second = current_findings(study).pick
    assert second.seen == 13 and second.fit == first.fit
    assert study.user_attrs[MODEL_FIT_ATTR]["trials"] == 12  # not refitted yet
    for k in range(13, 15):
        study.add_trial(trial(k, near(GOOD, k - 5), 4.52))
    current_findings(study)
    assert study.user_attrs[MODEL_FIT_ATTR]["trials"] == 15  # 15 >= 12 x 1.2: fitted again
