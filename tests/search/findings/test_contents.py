"""The blocks the note, the terminal and the report share, on constructed studies."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.findings.contents import baseline_blocks, closing_texts
from search.findings.document import Text
from search.study import record
from tests.search.findings.test_winner import UNIFORM, baseline, findings


def test_the_seed_noise_gives_its_sds_interval_and_the_difference_it_resolves() -> None:
    trials = [baseline(n, UNIFORM, loss, n, "uniform") for n, loss in enumerate((5.0, 5.1, 4.9))]
    [_, noise] = baseline_blocks(findings(trials))
    assert isinstance(noise, Text) and noise.label == "Seed noise"
    # sd 0.1 from 2 degrees of freedom: chi-square(2) quantiles 0.0506 and 7.378 give the interval
    # 0.1 x sqrt(2 / 7.378) and 0.1 x sqrt(2 / 0.0506); two single values resolve at 1.96 x sqrt(2) x sd.
    assert noise.text.startswith("uniform: mean 5.0000 ± sd 0.1000 over 3 seeds = [4.9000, 5.1000]")
    assert "from 2 degrees of freedom, the sd's 95% interval is [0.0521, 0.6285]" in noise.text
    assert (
        "Two single trials must differ by more than 0.2772 nats (1.7420 at the interval's upper end) "
        "to be told apart at 95%"
    ) in noise.text


def test_one_seed_gives_no_noise_band() -> None:
    [_, text] = baseline_blocks(findings([baseline(0, UNIFORM, 5.0, 0, "uniform")]))
    assert isinstance(text, Text) and text.text.startswith("uniform has one seed: no noise band")


def pruned(stopped_at: int) -> FrozenTrial:
    return optuna.trial.create_trial(
        state=TrialState.PRUNED,
        intermediate_values={step: 5.0 for step in range(100, stopped_at + 1, 100)},
        user_attrs={record.OUTCOME: "pruned"},
    )


def test_search_runs_closing_lines_say_how_trials_ended_and_where_the_pruned_stopped() -> None:
    trials = [baseline(n, UNIFORM, loss, n, "uniform") for n, loss in enumerate((5.0, 5.1))]
    trials += [pruned(100), pruned(300), pruned(100)]
    [ended, *best] = closing_texts(findings(trials))
    assert ended.label == "Trials"
    assert ended.text == "complete 2, pruned 3; pruned at step 100 (2), 300 (1)"
    assert best and best[0].label == "Best"
    assert closing_texts(findings(trials[:2]))[0].text == "complete 2"
