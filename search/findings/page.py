"""Findings as one self-contained HTML page: inline CSS, pictures as base64 PNG, nothing fetched."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence

from search.findings.document import Block, Heading, Picture, Section, Table, Text
from search.training.pictures import pyplot

_CSS = (
    "body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; } "
    "h1 { font-size: 1.6em; } "
    "h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; } "
    "table { border-collapse: collapse; margin: 1em 0; font-size: .9em; } "
    "th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; } "
    "th { background: #f4f4f4; } code { font-size: .95em; } td { font-variant-numeric: tabular-nums; } "
    "img { max-width: 100%; display: block; margin: 1em 0; } "
    ".note { color: #555; } .warning { color: #a00; font-weight: bold; } "
    ".better { background: #e6f4e6; } .worse { background: #fbe9e9; }"
)
_CODE = re.compile(r"`([^`]+)`")


def to_html(title: str, sections: Sequence[Section]) -> str:
    """The whole page: ``title``, a navigation line to the titled sections, then each section."""
    links = " · ".join(f'<a href="#{s.anchor}">{_e(s.title.lower())}</a>' for s in sections if s.title)
    body = "\n".join(_section(s) for s in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n<nav>{links}</nav>\n"
        f"{body}\n</body></html>\n"
    )


def _section(section: Section) -> str:
    heading = f"<h2>{_e(section.title)}</h2>\n" if section.title else ""
    blocks = "".join(_block(b) for b in section.blocks)
    return f'<section id="{section.anchor}">{heading}{blocks}\n</section>'


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Text):
        lead = f"<b>{_e(block.label)}:</b> " if block.label else ""
        anchor = f" id='{block.anchor}'" if block.anchor else ""
        return f"<p class='{block.kind}'{anchor}>{lead}{_inline(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{_e(block.text)}</h3>"
    assert isinstance(block, Picture)
    return _image(block)


def _table(table: Table) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    rows = []
    for i, row in enumerate(table.rows):
        cells = "".join(
            f"<td><code>{_e(c)}</code></td>" if j in table.code_columns and c else f"<td>{_e(c)}</td>"
            for j, c in enumerate(row)
        )
        style = f" class='{_e(table.row_classes[i])}'" if table.row_classes else ""
        rows.append(f"<tr{style}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _image(picture: Picture) -> str:
    """The figure as an inline PNG (no file beside the page, nothing fetched)."""
    fig = picture.draw()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    pyplot().close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{_e(picture.alt)}" src="data:image/png;base64,{data}">'


def _inline(text: str) -> str:
    """Escaped text with its `code` spans as <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", _e(text))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
