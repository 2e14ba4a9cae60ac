"""The fidelity section of the note and the report: the study's confirmations at several token
budgets as a table of budgets, a table of each schedule at each budget, one sentence per schedule
saying how its difference from the reference moved, and a picture of loss against tokens."""

from __future__ import annotations

from search.findings.confirmation import Fidelity
from search.findings.confirmation_blocks import result_cells, result_class, result_headers
from search.findings.document import Block, Picture, Section, Table, Text
from search.findings.fidelity import BudgetFidelity, BudgetResult, Shift
from search.findings.figures import fidelity_figure
from search.findings.formatting import interval_text, percent, seed_range
from search.findings.stats import MeanDifference


def fidelity_section(f: BudgetFidelity) -> Section:
    """The budgets, each schedule at each budget, the shifts, any low-tau warning and the picture."""
    longest = f.longest.confirmation
    intro = Text(
        f"The latest confirmation at each of {len(f.budgets)} token budgets. Each difference from "
        f"{f.reference} is paired at its own budget's seeds, with its {percent(longest.confidence)} interval "
        f"and number of seeds. Kendall's tau compares each shorter budget's ranking by mean loss with the "
        f"{f.longest.tokens:,}-token ranking, over the schedules confirmed at both. A difference is said "
        "to grow or shrink only when its intervals at the two budgets do not overlap.",
        kind="note",
    )
    blocks: list[Block] = [intro, budgets_table(f), schedules_table(f)]
    blocks += [Text(shift_sentence(s, f.reference), label=f"{s.name} vs {f.reference}") for s in f.shifts]
    blocks += [
        _tau_warning(b.tokens, b.agreement, f.longest.tokens)
        for b in f.budgets
        if b.agreement is not None and b.agreement.warning
    ]
    blocks.append(Picture("loss against training tokens per schedule", lambda: fidelity_figure(f)))
    return Section("Short-to-long fidelity", "fidelity", tuple(blocks))


def budgets_table(f: BudgetFidelity) -> Table:
    """Each budget: its confirmation, seeds, passes over the training data, and its ranking's tau."""
    rows = tuple(
        (
            f"{b.tokens:,}",
            b.confirmation.created,
            seed_range(b.confirmation.seeds),
            f"{b.passes:.2f}" if b.passes is not None else "not recorded",
            _agreement_text(b),
        )
        for b in f.budgets
    )
    headers = (
        "tokens",
        "confirmed",
        "seeds",
        "passes over the training data",
        f"ranking vs {f.longest.tokens:,} tokens (Kendall's tau)",
    )
    return Table(headers, rows)


def schedules_table(f: BudgetFidelity) -> Table:
    """Each confirmed schedule at each budget, shortest first: the longest budget's schedules in its
    order, then those confirmed only at shorter budgets."""
    order: dict[str, int] = {}
    for b in reversed(f.budgets):
        for r in b.confirmation.schedules:
            order.setdefault(r.name, len(order))
    results = sorted(
        ((b, r) for b in f.budgets for r in b.confirmation.schedules), key=lambda br: order[br[1].name]
    )
    return Table(
        ("name", "schedule", "tokens", *result_headers(f.longest.confirmation)),
        tuple((r.name, r.schedule, f"{b.tokens:,}", *result_cells(r)) for b, r in results),
        code_columns=frozenset({1}),
        row_classes=tuple(result_class(r) for _, r in results),
    )


def shift_sentence(s: Shift, reference: str) -> str:
    """How ``s``'s difference from ``reference`` moved from its shortest budget to its longest, in
    words that claim no more than the intervals show."""
    short, long = _difference_text(s.short.difference), _difference_text(s.long.difference)
    at_short, at_long = f"{s.short_tokens:,} tokens", f"{s.long_tokens:,} tokens"
    edge = "advantage" if s.short.status == "better" or s.long.status == "better" else "disadvantage"
    if s.trend == "untold":
        return (
            f"too few seeds for an interval at {at_short} ({short}) or {at_long} ({long}): nothing is "
            "said of how the difference moves"
        )
    if s.trend == "within noise":
        return (
            f"no difference beyond noise at either budget: {short} at {at_short}, {long} at {at_long}; "
            "both intervals include zero"
        )
    if s.trend == "vanishes":
        return (
            f"its {edge} at {at_short} ({short}) vanishes at {at_long}: there the interval ({long}) "
            "includes zero, so no difference is shown (which does not prove there is none)"
        )
    if s.trend == "appears":
        return (
            f"within noise at {at_short} ({short}), {s.long.status} at {at_long} ({long}): an {edge} "
            "appears with longer training"
        )
    if s.trend == "reverses":
        return (
            f"{s.short.status} at {at_short} ({short}) but {s.long.status} at {at_long} ({long}): the "
            "order reverses with longer training"
        )
    if s.trend == "holds":
        return (
            f"its {edge} holds from {at_short} ({short}) to {at_long} ({long}); the intervals overlap, "
            "so no change in its size is shown"
        )
    return (
        f"its {edge} {s.trend} from {at_short} ({short}) to {at_long} ({long}); the intervals do not overlap"
    )


def _difference_text(d: MeanDifference | None) -> str:
    """A difference with its interval and number of seeds: ``-0.0120 [-0.0200, -0.0040] over 3 seeds``."""
    if d is None:
        return "no paired seeds"
    if d.low is None or d.high is None:
        return f"{d.mean:+.4f} from 1 seed, no interval"
    return f"{d.mean:+.4f} {interval_text(d)} over {d.n} seeds"


def _agreement_text(b: BudgetResult) -> str:
    """Kendall's tau of ``b``'s ranking with the longest budget's, and over how many schedules."""
    a = b.agreement
    if a is None:
        return "(the longest budget)"
    if a.tau is None:
        return f"undefined over {len(a.names)} schedules (it needs 2 with different losses)"
    return f"{a.tau:+.2f} over {len(a.names)} schedules (means over seeds {seed_range(a.short_seeds)})"


def _tau_warning(tokens: int, agreement: Fidelity, longest: int) -> Text:
    return Text(
        f"warning: Kendall's tau is below {agreement.min_tau} at {tokens:,} tokens: its ranking does "
        f"not predict the {longest:,}-token ranking; trust the longer runs",
        kind="warning",
    )
