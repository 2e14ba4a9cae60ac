"""A study's findings as renderer-neutral blocks: sections of tables, sentences and pictures.

One set of builders (``search.findings.contents``) makes the blocks; the dashboard note
(Markdown), the terminal (plain text) and the report (HTML) only lay them out. Text may hold
`code` spans in backticks; each renderer shows them its own way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Table:
    """Rows of cells under headers; ``code_columns`` hold schedules (shown as code), ``row_classes``
    tag rows for styling (e.g. better, worse)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    code_columns: frozenset[int] = frozenset()
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Text:
    """A sentence or paragraph, with an optional bold lead-in (``label``)."""

    text: str
    label: str | None = None
    kind: Literal["plain", "note", "warning", "verdict"] = "plain"
    anchor: str | None = None


@dataclass(frozen=True)
class Picture:
    """A figure, drawn only by a renderer that shows pictures (the HTML page)."""

    alt: str
    draw: Callable[[], Figure]


@dataclass(frozen=True)
class Heading:
    """A heading inside a section (one confirmation among several, say)."""

    text: str


Block = Table | Text | Picture | Heading


@dataclass(frozen=True)
class Section:
    """A titled part of the findings; ``anchor`` names it in the page's navigation."""

    title: str
    anchor: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)
