"""A study as one self-contained HTML page: ``python -m search.report --study hourglass``

The page needs nothing but itself (inline CSS, pictures as base64 PNG): it can be mailed,
archived or opened offline. It shows the best schedules as MLP width per layer, the loss of
every trial against the baselines' seed-noise band, which layers matter (parameter importance),
the baselines by seed, and the confirmations made by ``python -m search.confirm``; with
confirmations at several token budgets, whether their findings hold from the shortest to the
longest (short-to-long fidelity).
"""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
from pydantic import ValidationError

from search.findings.contents import gather_findings, page_sections
from search.findings.page import to_html
from search.options.study_options import read_report_options
from search.study.storage import load_existing_study
from space.errors import describe

REPORTS_DIR = Path("reports")


def render_report(study: optuna.Study) -> str:
    """The whole page for ``study``; raises ValueError for a study not made by Hourglass."""
    findings = gather_findings(study)
    return to_html(f"Hourglass study {findings.name}", page_sections(findings))


def main(argv: list[str] | None = None) -> int:
    """Parse, load the study, render it, write the page."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        options = read_report_options(__doc__, argv)
        out = Path(options.out) if options.out else REPORTS_DIR / f"{options.study}.html"
        page = render_report(load_existing_study(options.storage, options.study))
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out} ({len(page) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
