"""One set of blocks, three renderings: the note (Markdown), the terminal (text) and the report (HTML)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from search.findings.document import Heading, Picture, Section, Table, Text
from search.findings.markdown import to_markdown
from search.findings.page import to_html
from search.findings.text import to_text

TABLE = Table(("name", "schedule"), (("uniform", "4,4"), ("a|b", "8,0")), code_columns=frozenset({1}))
BEST = Text("trial 3, `8,0`, val loss 4.5000", label="Best")


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    return fig


PICTURE = Picture("a line", _figure)
SECTIONS = [Section("Results", "results", (Heading("latest"), TABLE, BEST, PICTURE))]


def test_markdown_marks_code_and_labels_and_leaves_pictures_out() -> None:
    note = to_markdown("Study `s`", SECTIONS)
    assert note.startswith("## Study `s`\n") and "### Results" in note and "#### latest" in note
    assert "| uniform | `4,4` |" in note and "| a\\|b | `8,0` |" in note
    assert "**Best:** trial 3, `8,0`, val loss 4.5000" in note and "a line" not in note


def test_text_aligns_the_table_and_drops_the_markup() -> None:
    text = to_text(SECTIONS[0].blocks)
    lines = text.splitlines()
    assert lines[0] == "latest" and lines[1].split() == ["name", "schedule"]
    assert lines[1].index("schedule") == lines[2].index("4,4") == lines[3].index("8,0")
    assert "Best: trial 3, 8,0, val loss 4.5000" in text and "`" not in text


def test_html_escapes_shows_code_and_inlines_the_picture() -> None:
    page = to_html("Study <s>", SECTIONS)
    assert "<title>Study &lt;s&gt;</title>" in page and '<a href="#results">results</a>' in page
    assert "<td><code>4,4</code></td>" in page and "<td>a|b</td>" in page
    assert "<b>Best:</b> trial 3, <code>8,0</code>, val loss 4.5000" in page
    assert page.count('<img alt="a line" src="data:image/png;base64,') == 1
