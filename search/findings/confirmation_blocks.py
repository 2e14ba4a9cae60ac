"""A confirmation as blocks: its table, verdict, ranking rule, fidelity check and picture; and the
confirmations section of the note and the report."""

from __future__ import annotations

from collections.abc import Sequence

from search.findings.confirmation import Confirmation, ScheduleResult
from search.findings.document import Block, Heading, Picture, Section, Table, Text
from search.findings.figures import confirmation_figure
from search.findings.formatting import interval_text, percent, seed_range
from search.findings.verdicts import result_status


def result_cells(r: ScheduleResult) -> tuple[str, str, str, str, str]:
    """A confirmed schedule's seeds, mean loss, difference from the reference, interval and standing."""
    d = r.difference
    return (
        f"{len(r.losses)}" + (f" ({len(r.failed)} failed)" if r.failed else ""),
        f"{r.mean:.4f}" if r.mean is not None else "",
        f"{d.mean:+.4f}" if d is not None else "",
        interval_text(d) if d is not None and d.low is not None else "",
        r.status,
    )


def result_headers(c: Confirmation) -> tuple[str, str, str, str, str]:
    """The headers of :func:`result_cells` in ``c``'s tables."""
    return ("seeds", "mean loss", f"vs {c.reference}", f"{percent(c.confidence)} interval", "result")


def result_class(r: ScheduleResult) -> str:
    """The style of a confirmed schedule's row: its standing (better, worse, ...)."""
    return r.status.replace(" ", "-")


def confirmation_table(c: Confirmation) -> Table:
    """Each confirmed schedule: seeds, mean loss, difference from the reference, interval, standing."""
    rows = tuple((r.name, r.schedule, *result_cells(r)) for r in c.schedules)
    return Table(
        ("name", "schedule", *result_headers(c)),
        rows,
        code_columns=frozenset({1}),
        row_classes=tuple(result_class(r) for r in c.schedules),
    )


def fidelity_texts(c: Confirmation) -> list[Text]:
    """What the fidelity check found, and a warning when tau is low; empty without one."""
    f = c.fidelity
    if f is None:
        return []
    if f.tau is None:
        return [
            Text(
                "fidelity: Kendall's tau needs at least 2 schedules with different losses; "
                f"{len(f.names)} usable"
            )
        ]
    texts = [
        Text(
            f"fidelity: Kendall's tau {f.tau:+.2f} between the {f.short_tokens:,}-token ranking (mean "
            f"over seeds {seed_range(f.short_seeds)}) and the {c.tokens:,}-token ranking of "
            f"{len(f.names)} schedules",
            kind="note",
        )
    ]
    if f.warning:
        texts.append(
            Text(
                f"warning: tau is below {f.min_tau}: the short trials' ranking does not predict the longer "
                "run's; trust the longer runs, and consider a larger trial budget (--tokens) for the search",
                kind="warning",
            )
        )
    return texts


def against_texts(c: Confirmation) -> list[Text]:
    """The winner against each other baseline, with its interval and standing; empty without any."""
    return [
        Text(
            f"{c.winner} against {name}: mean difference {d.mean:+.4f}"
            + (f", {percent(c.confidence)} interval {interval_text(d)}" if d.low is not None else "")
            + f" over {d.n} seeds ({result_status(d)})",
            kind="verdict",
        )
        for name, d in c.winner_against.items()
    ]


def confirmation_blocks(c: Confirmation, heading: bool = True) -> list[Block]:
    """One confirmation: its table, verdict, ranking rule, fidelity check and picture."""
    blocks: list[Block] = []
    if heading:
        blocks.append(Heading(f"{c.created}: {c.tokens:,} tokens, seeds {seed_range(c.seeds)}"))
    blocks += [confirmation_table(c), Text(c.verdict, label="Verdict", kind="verdict")]
    blocks += against_texts(c)
    if c.ranking:
        blocks.append(Text(f"Trials ranked by {c.ranking}.", kind="note"))
    blocks += fidelity_texts(c)
    blocks.append(
        Picture(f"confirmation of {c.created}: difference from reference", lambda: confirmation_figure(c))
    )
    return blocks


def confirmations_section(records: Sequence[Confirmation], latest: int | None = None) -> Section:
    """The confirmations, newest first (the ``latest`` few when given)."""
    if not records:
        none_yet = Text(
            "None yet: `python -m search.confirm --study NAME` retrains the best schedules and the "
            "baselines at several seeds.",
            kind="note",
        )
        return Section("Confirmations", "confirmations", (none_yet,))
    shown = records if latest is None else records[-latest:]
    blocks = [block for c in reversed(shown) for block in confirmation_blocks(c)]
    if len(records) > len(shown):
        blocks.append(
            Text(f"{len(records) - len(shown)} older confirmations: see `python -m search.report`.")
        )
    return Section("Confirmations", "confirmations", tuple(blocks))
