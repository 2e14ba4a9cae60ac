"""Findings as Markdown, for the study note the dashboard shows (pictures are left out)."""

from __future__ import annotations

from collections.abc import Sequence

from search.findings.document import Block, Heading, Picture, Section, Table, Text


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    """The note: ``title`` as its heading, then each section."""
    lines = [f"## {title}", ""]
    for section in sections:
        if section.title:
            lines += [f"### {section.title}", ""]
        for block in section.blocks:
            lines += _block(block)
    return "\n".join(lines).rstrip() + "\n"


def _block(block: Block) -> list[str]:
    if isinstance(block, Table):
        return [*_table(block), ""]
    if isinstance(block, Text):
        lead = f"**{block.label}:** " if block.label else ""
        return [f"{lead}{block.text}", ""]
    if isinstance(block, Heading):
        return [f"#### {block.text}", ""]
    assert isinstance(block, Picture)
    return []


def _table(table: Table) -> list[str]:
    def cell(column: int, value: str) -> str:
        value = value.replace("|", "\\|")
        return f"`{value}`" if column in table.code_columns and value else value

    rows = [" | ".join(cell(i, v) for i, v in enumerate(row)) for row in table.rows]
    return [
        "| " + " | ".join(table.headers) + " |",
        "|" + "---|" * len(table.headers),
        *(f"| {row} |" for row in rows),
    ]
