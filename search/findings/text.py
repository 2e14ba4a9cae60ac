"""Findings as plain text for the terminal: aligned tables, sentences without markup."""

from __future__ import annotations

from collections.abc import Sequence

from search.findings.document import Block, Heading, Picture, Table, Text


def to_text(blocks: Sequence[Block]) -> str:
    """``blocks`` as lines of text (pictures are left out)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            lines += [*_table(block), ""]
        elif isinstance(block, Text):
            lead = f"{block.label}: " if block.label else ""
            lines.append(lead + block.text.replace("`", ""))
        elif isinstance(block, Heading):
            lines.append(block.text)
        else:
            assert isinstance(block, Picture)
    return "\n".join(lines).rstrip()


def _table(table: Table) -> list[str]:
    rows = [table.headers, *table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.headers))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
