"""bench.looks: the false-winner rates of confirmations that add seeds after looking, simulated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.looks import Design, designs, false_winner_rate, main

DRAWS = 40_000


def rates(schedules: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    return {d.name: false_winner_rate(d, schedules, DRAWS, rng) for d in designs()}


def test_a_planned_look_errs_at_its_level_and_looking_first_errs_more() -> None:
    planned, naive, rule, three, replication = rates(1).values()
    margin = 4 * np.sqrt(0.025 * 0.975 / DRAWS)  # four standard errors
    # One planned look: an exact t-interval under normal noise is below zero 2.5% of the time.
    assert planned == pytest.approx(0.025, abs=margin)
    # Looking at 4 seeds first and adding 3 errs more; holding look 2 to 97.5% errs less than
    # that, but more than planning, and within the union bound (2.5% + 1.25%).
    assert naive > rule + 2 * margin > planned + 2 * margin
    assert rule < 0.0375 + margin
    assert three > rule
    # A replication counted together with the look before it: two independent looks at 2.5% each.
    assert replication == pytest.approx(1 - 0.975**2, abs=margin)


def test_two_schedules_share_the_reference_and_stay_within_the_union_bound() -> None:
    planned = rates(2)[designs()[0].name]
    assert 0.03 < planned <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / DRAWS)


def test_a_fresh_design_draws_new_seeds_for_each_look() -> None:
    # Two fresh looks at 95%, one schedule, the second at a level that never names a winner.
    rng = np.random.default_rng(2)
    only_first = Design("x", ((4, 0.95), (7, 1 - 1e-12)), fresh=True)
    assert false_winner_rate(only_first, 1, DRAWS, rng) == pytest.approx(0.025, abs=0.004)


def test_the_command_prints_a_table_then_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--draws", "2000", "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["design", "schedules", "false", "winners", "se"]
    result = json.loads(out[-1])
    assert result["draws"] == 2000 and len(result["rows"]) == 2 * len(designs())
    with pytest.raises(SystemExit):
        main(["--draws", "1"])
