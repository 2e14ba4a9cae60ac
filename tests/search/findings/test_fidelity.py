"""Short-to-long fidelity: a study's confirmations at several token budgets compared, on real
in-memory studies whose confirmations are stored by ``search.confirm``'s own code."""

from __future__ import annotations

import statistics

import optuna
import pytest
from optuna_dashboard import get_note
from scipy import stats

from search.findings.candidates import plan_confirmation
from search.findings.confirmation import Confirmation, stored_confirmations
from search.findings.contents import gather_findings, note_sections, page_sections
from search.findings.document import Picture, Table, Text
from search.findings.fidelity import budget_fidelity, trend
from search.findings.fidelity_blocks import fidelity_section
from search.findings.stats import mean_difference
from search.findings.text import to_text
from search.study.settings import study_settings
from search.training.passes import data_passes
from search.trials.confirming import confirm
from tests.search.findings.test_candidates import small_study
from tests.search.test_confirm import FakeObjective

SHORT = 32_768  # small_study's trial budget
LONG = 4 * SHORT
# The training split the fake runs record their passes over.
TRAIN_TOKENS = 50_000
# Each run's loss is off its schedule's level by -1, 0 or +1 times this, by seed.
NOISE = 0.004


def confirm_at(study: optuna.Study, tokens: int, edges: dict[str, float], seeds: int = 3) -> Confirmation:
    """Confirm uniform, hand-found and trial 4 at ``tokens`` and fresh seeds, each run scoring
    uniform's loss at its seed plus the schedule's ``edges`` (by name) and a little noise."""
    plan = plan_confirmation(study, top=1, seeds=seeds, tokens=tokens)
    uniform = plan.candidates[0]
    level = 5.0 if tokens == SHORT else 4.5
    base = {s: plan.known.get((uniform.key, s, tokens), level + 0.01 * s) for s in plan.seeds}
    losses = {
        (c.key, s): base[s] + edges.get(c.name, 0.0) + NOISE * ((s + i) % 3 - 1)
        for i, c in enumerate(plan.candidates)
        for s in plan.seeds
    }
    return confirm(study, plan, FakeObjective(losses, train_tokens=TRAIN_TOKENS), lambda line: None)


@pytest.mark.parametrize(
    ("short", "long", "expected"),
    [
        ([-0.010, -0.012, -0.011], [-0.030, -0.031, -0.029], "grows"),
        ([-0.030, -0.031, -0.029], [-0.010, -0.012, -0.011], "shrinks"),
        ([0.010, 0.012, 0.011], [0.030, 0.031, 0.029], "grows"),  # a disadvantage grows too
        ([-0.010, -0.012, -0.011], [-0.011, -0.013, -0.012], "holds"),  # the intervals overlap
        ([-0.010, -0.012, -0.011], [-0.02, 0.01, 0.0], "vanishes"),
        ([-0.02, 0.01, 0.0], [-0.030, -0.031, -0.029], "appears"),
        ([-0.010, -0.012, -0.011], [0.020, 0.021, 0.019], "reverses"),
        ([-0.02, 0.01, 0.0], [0.01, -0.02, 0.0], "within noise"),
        ([-0.010, -0.012, -0.011], [-0.5], "untold"),  # one seed: no interval
    ],
)
def test_a_differences_trend_follows_from_its_two_intervals(
    short: list[float], long: list[float], expected: str
) -> None:
    assert trend(mean_difference(short), mean_difference(long)) == expected


def test_a_schedule_without_paired_seeds_is_untold() -> None:
    assert trend(mean_difference([-0.010, -0.012, -0.011]), None) == "untold"


def test_confirmations_at_one_budget_add_no_fidelity_part() -> None:
    study = small_study()
    confirm_at(study, SHORT, {"hand-found": -0.05})
    confirm_at(study, SHORT, {"hand-found": -0.05}, seeds=4)
    f = gather_findings(study)
    assert len(f.confirmations) == 2 and budget_fidelity(f.confirmations, f.passes) is None
    assert all(s.anchor != "fidelity" for s in [*note_sections(f), *page_sections(f)])
    assert "fidelity" not in get_note(study).lower()


@pytest.fixture
def two_budgets() -> optuna.Study:
    """hand-found well ahead of uniform at the short budget and within noise at the long one; trial
    4 the other way round."""
    study = small_study()
    confirm_at(study, SHORT, {"hand-found": -0.05, "trial 4": -0.002})
    confirm_at(study, LONG, {"hand-found": -0.004, "trial 4": -0.06})
    return study


def test_each_budget_shows_its_passes_and_its_rankings_tau_with_the_longest(
    two_budgets: optuna.Study,
) -> None:
    f = gather_findings(two_budgets)
    compared = budget_fidelity(f.confirmations, f.passes)
    assert compared is not None and [b.tokens for b in compared.budgets] == [SHORT, LONG]

    short, long = stored_confirmations(two_budgets)
    means = [[statistics.fmean(r.losses.values()) for r in c.schedules] for c in (short, long)]
    tau = stats.kendalltau(*means).statistic
    assert tau == pytest.approx(1 / 3)  # hand-found and trial 4 swap places
    agreement = compared.budgets[0].agreement
    assert agreement is not None and agreement.tau == pytest.approx(tau) and agreement.warning
    assert agreement.names == ["uniform", "hand-found", "trial 4"] and compared.budgets[1].agreement is None

    base = study_settings(two_budgets).base
    passes = [data_passes(base.variant(tokens=t), TRAIN_TOKENS) for t in (SHORT, LONG)]
    assert passes[1] == pytest.approx(4 * passes[0])
    section = fidelity_section(compared)
    budgets, _ = (b for b in section.blocks if isinstance(b, Table))
    assert budgets.rows == (
        (
            f"{SHORT:,}",
            short.created,
            "8-10",
            f"{passes[0]:.2f}",
            "+0.33 over 3 schedules (means over seeds 8-10)",
        ),
        (f"{LONG:,}", long.created, "8-10", f"{passes[1]:.2f}", "(the longest budget)"),
    )
    warnings = [b.text for b in section.blocks if isinstance(b, Text) and b.kind == "warning"]
    assert warnings == [
        f"warning: Kendall's tau is below 0.6 at {SHORT:,} tokens: its ranking does not predict the "
        f"{LONG:,}-token ranking; trust the longer runs"
    ]
    assert sum(isinstance(b, Picture) for b in section.blocks) == 1


def test_each_schedule_is_shown_at_each_budget_with_its_paired_difference(two_budgets: optuna.Study) -> None:
    f = gather_findings(two_budgets)
    compared = budget_fidelity(f.confirmations, f.passes)
    assert compared is not None
    _, table = (b for b in fidelity_section(compared).blocks if isinstance(b, Table))
    stored = {(c.tokens, r.name): r for c in stored_confirmations(two_budgets) for r in c.schedules}
    assert [(row[0], row[2]) for row in table.rows] == [
        (name, f"{tokens:,}") for name in ("uniform", "hand-found", "trial 4") for tokens in (SHORT, LONG)
    ]
    for name, schedule, tokens, seeds, mean, difference, interval, status in table.rows:
        result = stored[(int(tokens.replace(",", "")), name)]
        assert (schedule, seeds, mean, status) == (result.schedule, "3", f"{result.mean:.4f}", result.status)
        d = result.difference
        if d is None:
            assert (name, difference, interval) == ("uniform", "", "")
        else:
            assert (difference, interval) == (f"{d.mean:+.4f}", f"[{d.low:+.4f}, {d.high:+.4f}]")


def test_each_schedules_shift_is_told_with_its_intervals_and_seeds(two_budgets: optuna.Study) -> None:
    f = gather_findings(two_budgets)
    compared = budget_fidelity(f.confirmations, f.passes)
    assert compared is not None
    assert [(s.name, s.trend) for s in compared.shifts] == [
        ("hand-found", "vanishes"),
        ("trial 4", "appears"),
    ]
    hand_found, trial_4 = compared.shifts
    sentences = {
        b.label: b.text for b in fidelity_section(compared).blocks if isinstance(b, Text) and b.label
    }
    short, long = hand_found.short.difference, hand_found.long.difference
    assert short is not None and long is not None and short.below_zero and not long.below_zero
    assert sentences["hand-found vs uniform"] == (
        f"its advantage at {SHORT:,} tokens ({short.mean:+.4f} [{short.low:+.4f}, {short.high:+.4f}] over 3 "
        f"seeds) vanishes at {LONG:,} tokens: there the interval ({long.mean:+.4f} [{long.low:+.4f}, "
        f"{long.high:+.4f}] over 3 seeds) includes zero, so no difference is shown (which does not prove "
        "there is none)"
    )
    assert sentences["trial 4 vs uniform"].startswith(f"within noise at {SHORT:,} tokens (")
    appeared = trial_4.long.difference
    assert appeared is not None and appeared.below_zero
    assert sentences["trial 4 vs uniform"].endswith(
        f"better at {LONG:,} tokens ({appeared.mean:+.4f} [{appeared.low:+.4f}, {appeared.high:+.4f}] over "
        "3 seeds): an advantage appears with longer training"
    )


def test_the_latest_confirmation_at_each_budget_is_the_one_compared(two_budgets: optuna.Study) -> None:
    latest = confirm_at(two_budgets, SHORT, {"hand-found": -0.05, "trial 4": -0.002}, seeds=4)
    f = gather_findings(two_budgets)
    compared = budget_fidelity(f.confirmations, f.passes)
    assert len(f.confirmations) == 3 and compared is not None
    assert [b.confirmation.seeds for b in compared.budgets] == [[8, 9, 10, 11], [8, 9, 10]]
    agreement = compared.budgets[0].agreement
    assert agreement is not None and agreement.short_seeds == [8, 9, 10, 11]
    assert [s.short for s in compared.shifts] == latest.schedules[1:]


def test_the_note_and_the_page_show_the_fidelity_before_the_confirmations(two_budgets: optuna.Study) -> None:
    f = gather_findings(two_budgets)
    for sections in (note_sections(f), page_sections(f)):
        anchors = [s.anchor for s in sections]
        assert anchors.index("fidelity") + 1 == anchors.index("confirmations")
    note = get_note(two_budgets)
    assert note.index("### Short-to-long fidelity") < note.index("### Confirmations")
    assert "**hand-found vs uniform:** its advantage at 32,768 tokens" in note
    [section] = [s for s in page_sections(f) if s.anchor == "fidelity"]
    text = to_text(section.blocks)
    assert "ranking vs 131,072 tokens (Kendall's tau)" in text
    assert "trial 4 vs uniform: within noise at 32,768 tokens" in text
