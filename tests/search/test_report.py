"""search.report: one self-contained HTML page, read as text and as headless Chromium renders it."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from pathlib import Path

import optuna
import pytest

from search import report
from search.findings.candidates import plan_confirmation
from search.study.settings import SETTINGS_ATTR
from search.study.storage import open_storage
from search.trials.confirming import confirm
from tests.search.test_confirm import STUDY, FakeObjective, copy_study, load

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",  # let the load handlers run before the DOM is dumped
]
# Added to a copy of the page: what the browser decoded, and what it fetched (nothing, we expect).
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.images = String(images.length);
  document.body.dataset.imagesShown = String(images.filter(i => i.complete && i.naturalWidth > 0).length);
  document.body.dataset.fetched = performance.getEntriesByType("resource").map(e => e.name).join(" ");
});
</script>"""


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A copy of the tiny study with one confirmation, its missing runs scored without training."""
    storage = copy_study(tmp_path_factory, corpus, tmp_path_factory.mktemp("report"))
    study = load(storage)
    plan = plan_confirmation(study, top=1, seeds=3, tokens=None)
    losses = {
        (c.key, s): 5.4 - 0.002 * i + 0.0005 * s for i, c in enumerate(plan.candidates) for s in plan.seeds
    }
    confirm(study, plan, FakeObjective(losses), lambda line: None)
    return storage


@pytest.fixture(scope="module")
def page(confirmed: Path) -> Path:
    """The report of the confirmed study, written where ``--out`` says."""
    out = confirmed.parent / "out" / "page.html"
    assert report.main(["--study", STUDY, "--storage", str(confirmed), "--out", str(out)]) == 0
    return out


def expected_content(storage: Path) -> dict[str, str]:
    """What the page must show, computed from the study without the report's code."""
    study = load(storage)
    at_seed_0 = {
        t.user_attrs["schedule_key"]: t.value for t in study.get_trials() if t.user_attrs["seed"] == 0
    }
    best = min((v, k) for k, v in at_seed_0.items() if v is not None)[1]
    uniform = [
        t.value
        for t in study.get_trials()
        if t.user_attrs.get("baseline") == "uniform" and t.value is not None
    ]
    return {
        "best": best.split("@")[0],
        "noise": f"mean {statistics.fmean(uniform):.4f} ± sd {statistics.stdev(uniform):.4f} over 2 seeds",
    }


def test_the_page_holds_everything_inline(page: Path, confirmed: Path) -> None:
    text = page.read_text()
    expected = expected_content(confirmed)
    assert f"<title>Hourglass study {STUDY}</title>" in text
    assert expected["best"] in text
    assert expected["noise"] in text
    assert "<h2>Confirmations</h2>" in text and "<th>95% interval</th>" in text
    assert "importance needs at least 20 completed trials at the study&#x27;s seed; this study has 4" in text
    # best schedules, loss by trial, one confirmation: three pictures, all inline
    assert text.count('<img alt="') == 3
    assert text.count('src="data:image/png;base64,') == 3
    assert not re.findall(r"""(?:src|href)\s*=\s*["'](?!data:image/png;base64,|#)""", text)
    assert "<script" not in text and "<link" not in text and "url(" not in text


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"
)
def test_the_page_renders_in_headless_chromium(page: Path, confirmed: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", f"{PROBE}</body>"))
    dumped = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    expected = expected_content(confirmed)
    assert f"<h1>Hourglass study {STUDY}</h1>" in dumped
    assert expected["best"] in dumped
    assert expected["noise"] in dumped
    assert "<th>95% interval</th>" in dumped and "Verdict:" in dumped
    assert 'data-images="3"' in dumped and 'data-images-shown="3"' in dumped
    assert 'data-fetched=""' in dumped


def test_the_default_output_is_reports_slash_study(confirmed: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert report.main(["--study", STUDY, "--storage", str(confirmed)]) == 0
    assert (tmp_path / "reports" / f"{STUDY}.html").is_file()


@pytest.mark.parametrize(("name", "message"), [("../escape", "must be 1-100 letters"), ("nope", "no study")])
def test_bad_study_names_write_nothing(
    confirmed: Path, tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert report.main(["--study", name, "--storage", str(confirmed)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_study_without_results_still_renders(confirmed: Path, tmp_path: Path) -> None:
    storage = tmp_path / "empty.db"
    empty = optuna.create_study(study_name="empty", storage=open_storage(str(storage)))
    empty.set_user_attr(SETTINGS_ATTR, load(confirmed).user_attrs[SETTINGS_ATTR])
    text = report.render_report(empty)
    assert "No completed trials yet." in text and "No baseline has finished yet." in text
    assert "<h2>Confirmations</h2>" in text and "None yet" in text
