"""The verdict of a confirmation and its fidelity check (Kendall's tau), on constructed numbers."""

from __future__ import annotations

import dataclasses

import pytest

from search.findings.candidates import plan_confirmation
from search.findings.confirmation import latest_by_budget, store_confirmation
from search.findings.stats import mean_difference
from search.findings.verdicts import Trained, fidelity, result_status, summarize_confirmation, verdict
from tests.search.findings.test_candidates import small_study

SEEDS = "fresh seeds 1-3 (the study selected on seed 0)"


def test_verdict_names_the_best_schedule_whose_interval_lies_below_zero() -> None:
    differences = {
        "trial 3": mean_difference([-0.010, -0.012, -0.011]),
        "trial 4": mean_difference([-0.030, -0.031, -0.029]),
        "hand-found": mean_difference([-0.01, 0.01, 0.0]),
    }
    winner, sentence = verdict(differences, "uniform", SEEDS)
    assert winner == "trial 4"
    assert sentence.startswith(f"trial 4 beats uniform at {SEEDS}: mean difference -0.0300")
    assert "with 3 schedules compared, a false winner has at most a 7.5% chance" in sentence


def test_verdict_names_no_winner_when_every_interval_includes_zero() -> None:
    differences = {"trial 3": mean_difference([-0.02, 0.01, -0.005]), "hand-found": None}
    winner, sentence = verdict(differences, "uniform", SEEDS)
    assert winner is None
    assert sentence.startswith(f"no schedule beat uniform beyond noise at {SEEDS}")


def test_a_worse_schedule_or_a_single_seed_is_no_winner() -> None:
    worse = mean_difference([0.02, 0.021, 0.019])
    single = mean_difference([-0.5])
    assert verdict({"worse": worse, "single": single}, "uniform", SEEDS)[0] is None
    assert result_status(worse) == "worse"
    assert result_status(single) == "too few seeds"
    assert result_status(mean_difference([-0.02, 0.01])) == "within noise"


# Fidelity: Kendall's tau between the short and the long ranking.


def test_fidelity_uses_the_seeds_every_schedule_has_and_warns_below_the_threshold() -> None:
    short = {"uniform": {0: 5.0, 1: 5.2}, "a": {0: 4.9}, "b": {0: 4.8, 1: 9.9}}
    reversed_long = {"uniform": 3.0, "a": 3.1, "b": 3.2}
    f = fidelity(short, reversed_long, short_tokens=1000)
    assert f.short_seeds == [0]  # "a" has no seed 1 at the short budget
    assert f.short_means == [5.0, 4.9, 4.8]
    assert f.tau == pytest.approx(-1.0)
    assert f.warning

    agreeing = fidelity(short, {"uniform": 3.2, "a": 3.1, "b": 3.0}, short_tokens=1000)
    assert agreeing.tau == pytest.approx(1.0)
    assert not agreeing.warning


def test_fidelity_of_a_single_schedule_has_no_tau_and_no_warning() -> None:
    f = fidelity({"uniform": {0: 5.0}}, {"uniform": 3.0}, short_tokens=1000)
    assert f.tau is None and not f.warning


def test_the_fidelity_check_ranks_the_short_side_at_the_study_seed_the_comparison_leaves_out() -> None:
    plan = plan_confirmation(small_study(), top=1, seeds=2, tokens=1000)
    assert len(plan.missing) == 6  # nothing is known at 1000 tokens
    # The long runs rank the schedules as the study's own trials did at seed 7.
    long = {"uniform": 3.3, "hand-found": 3.2, "trial 4": 3.1}
    losses = {(c.key, s, 1000): long[c.name] + 0.01 * (s - 8) for c in plan.candidates for s in plan.seeds}
    record = summarize_confirmation(plan, Trained(losses=losses))

    assert all(set(r.losses) == {8, 9} for r in record.schedules)
    assert "at fresh seeds 8, 9 (the study selected on seed 7)" in record.verdict
    f = record.fidelity
    assert f is not None and f.short_seeds == [7]  # only uniform has 8 and 9 at the study's tokens
    assert f.short_means == [5.0, 4.8, 4.7]
    assert f.tau == pytest.approx(1.0)


def test_the_winner_is_also_measured_against_every_other_baseline() -> None:
    plan = plan_confirmation(small_study(), top=1, seeds=3, tokens=1000)
    long = {"uniform": 3.3, "hand-found": 3.2, "trial 4": 3.1}
    wobble = {8: 0.0, 9: 0.004, 10: -0.003}
    losses = {
        (c.key, s, 1000): long[c.name] + (wobble[s] if c.name == "trial 4" else 0.0)
        for c in plan.candidates
        for s in plan.seeds
    }
    record = summarize_confirmation(plan, Trained(losses=losses))
    assert record.winner == "trial 4"
    against = record.winner_against
    assert list(against) == ["hand-found"]  # uniform is the verdict's reference, not repeated here
    assert against["hand-found"].n == 3
    assert against["hand-found"].mean == pytest.approx(-0.1 + 0.001 / 3)
    assert against["hand-found"].below_zero


def test_without_a_winner_nothing_is_measured_against_the_baselines() -> None:
    plan = plan_confirmation(small_study(), top=1, seeds=2, tokens=1000)
    losses = {
        (c.key, s, 1000): 3.0 + 0.01 * s * (c.name == "trial 4") for c in plan.candidates for s in plan.seeds
    }
    record = summarize_confirmation(plan, Trained(losses=losses))
    assert record.winner is None and record.winner_against == {}


def test_a_confirmation_stopped_early_is_marked_unfinished_and_names_no_winner() -> None:
    plan = plan_confirmation(small_study(), top=1, seeds=3, tokens=1000)
    long = {"uniform": 3.3, "hand-found": 3.2, "trial 4": 3.1}
    # Seeds 8 and 9 of every schedule, and uniform's seed 10: what a confirmation stopped there has.
    done = [(c, s) for c, s in plan.missing][:7]
    losses = {(c.key, s, 1000): long[c.name] + 0.001 * s for c, s in done}
    failed = {(plan.candidates[1].key, 10): "out_of_memory: too large"}
    record = summarize_confirmation(plan, Trained(losses=losses, failures=failed))
    assert record.missing == 1 and not record.finished  # trial 4 at seed 10; a failed run is done
    assert record.winner is None and record.winner_against == {} and record.fidelity is None
    assert record.verdict.startswith("unfinished, 1 of 9 runs still to train (the same command continues it)")
    assert "over the runs finished so far, trial 4 beats uniform" in record.verdict
    assert latest_by_budget([record]) == []

    losses[(plan.candidates[2].key, 10, 1000)] = 3.11
    finished = summarize_confirmation(plan, Trained(losses=losses, failures=failed))
    assert finished.finished and finished.winner == "trial 4"
    assert latest_by_budget([finished, record]) == [finished]  # the later, unfinished one does not stand


def _looked_at(earlier_seeds: list[list[int]]):
    """Trial 4 below uniform by an amount a 95% interval clears over seeds 8-10 and a 97.5% one does
    not; hand-found level with uniform."""
    plan = plan_confirmation(small_study(), top=1, seeds=3, tokens=1000)
    plan = dataclasses.replace(plan, earlier_seeds=earlier_seeds)
    shift = {"uniform": {8: 0, 9: 0, 10: 0}, "hand-found": {8: 0.002, 9: -0.001, 10: 0}}
    shift["trial 4"] = {8: -0.011, 9: -0.005, 10: -0.008}
    losses = {(c.key, s, 1000): 3.3 + shift[c.name][s] for c in plan.candidates for s in plan.seeds}
    return summarize_confirmation(plan, Trained(losses=losses))


def test_seeds_added_after_a_look_hold_each_look_to_a_stricter_level() -> None:
    once = _looked_at([])
    assert once.winner == "trial 4" and once.confidence == 0.95
    twice = _looked_at([[8, 9]])
    assert twice.winner is None and twice.confidence == pytest.approx(0.975)
    assert twice.earlier_seeds == [[8, 9]]
    assert "no 97.5% interval of the difference lies below zero" in twice.verdict
    assert twice.verdict.endswith(
        ". These seeds were partly seen in the finished confirmation at seeds 8, 9, so this look (look 2) "
        "is held to 97.5%; a false winner is still likelier than with seeds planned before looking "
        "(python -m bench.looks); --first-seed at seeds not seen yet makes an independent replication at 95%"
    )
    [trial] = [r for r in twice.schedules if r.name == "trial 4"]
    assert trial.status == "within noise" and trial.difference is not None and trial.difference.high > 0


def test_a_plan_counts_the_earlier_finished_confirmations_its_seeds_extend() -> None:
    study = small_study()
    earlier = plan_confirmation(study, top=1, seeds=2, tokens=1000)
    losses = {(c.key, s, 1000): 3.3 for c in earlier.candidates for s in earlier.seeds}
    store_confirmation(study, summarize_confirmation(earlier, Trained(losses=losses)))
    unfinished = plan_confirmation(study, top=1, seeds=1, tokens=1000)
    store_confirmation(study, summarize_confirmation(unfinished, Trained()).model_copy(update={"missing": 3}))

    extending = plan_confirmation(study, top=1, seeds=3, tokens=1000)
    assert extending.earlier_seeds == [[8, 9]]
    assert extending.describe().endswith(
        "so this look (look 2) is held to 97.5%; a false winner is "
        "still likelier than with seeds planned before looking (python -m bench.looks); --first-seed at "
        "seeds not seen yet makes an independent replication at 95%"
    )
    # Seeds 9-11 share seed 9 with the earlier look; 10-12 are all unseen: a replication.
    assert plan_confirmation(study, top=1, seeds=3, tokens=1000, first_seed=9).earlier_seeds == [[8, 9]]
    replication = plan_confirmation(study, top=1, seeds=3, tokens=1000, first_seed=10)
    assert replication.seeds == [10, 11, 12] and replication.earlier_seeds == []
    assert plan_confirmation(study, top=1, seeds=2, tokens=1000).earlier_seeds == []  # the same seeds
    assert plan_confirmation(study, top=1, seeds=1, tokens=1000).earlier_seeds == [[8, 9]]  # a part
    assert plan_confirmation(study, top=1, seeds=3, tokens=2000).earlier_seeds == []  # another budget


def test_the_chance_of_a_false_winner_counts_every_look_at_its_own_level() -> None:
    differences = {"a": mean_difference([-0.03, -0.031, -0.029]), "b": None}
    _, once = verdict(differences, "uniform", SEEDS)
    assert once.endswith("(with 2 schedules compared, a false winner has at most a 5% chance)")
    # Look 2 held to 97.5%: 2 schedules x (5% + 2.5%) / 2 by the union bound, not 5%.
    _, twice = verdict(differences, "uniform", SEEDS, looks=2)
    assert twice.endswith(
        "(with 2 schedules compared and 2 looks at the seeds, a false winner has at most a 7.5% chance)"
    )
