"""search.report: one self-contained HTML page, read as text and as headless Chromium renders it."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from pathlib import Path

import optuna
import pytest
from scipy import stats

from search import confirm as confirm_command
from search import report
from search.findings.candidates import plan_confirmation
from search.findings.confirmation import CONFIRMATIONS_ATTR, RUNS_ATTR
from search.study.settings import SETTINGS_ATTR
from search.study.storage import open_storage
from search.trials.confirming import confirm
from tests.search.test_confirm import STUDY, TOKENS, FakeObjective, copy_study, load, one_torch_thread

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
    assert 'id="fidelity"' not in text  # one budget: nothing to compare across budgets
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


def test_confirmations_trained_at_two_budgets_are_compared_in_the_report(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path, tmp_path: Path
) -> None:
    """Really trained: the tiny study confirmed at its own budget and at half of it."""
    storage = copy_study(tmp_path_factory, corpus, tmp_path)
    args = ["--study", STUDY, "--storage", str(storage), "--top", "1", "--seeds", "2"]
    short = TOKENS // 2
    with one_torch_thread():
        assert confirm_command.main(args) == 0
        assert confirm_command.main([*args, "--tokens", str(short)]) == 0
    out = tmp_path / "page.html"
    assert report.main(["--study", STUDY, "--storage", str(storage), "--out", str(out)]) == 0
    text = out.read_text()

    assert '<a href="#fidelity">short-to-long fidelity</a>' in text
    assert '<section id="fidelity"><h2>Short-to-long fidelity</h2>' in text
    # best schedules, loss by trial, two confirmations and loss against tokens
    assert text.count('<img alt="') == 5 and 'alt="loss against training tokens per schedule"' in text
    attrs = load(storage).user_attrs
    long, shorter = attrs[CONFIRMATIONS_ATTR]
    assert (long["tokens"], shorter["tokens"]) == (TOKENS, short)
    means = [[statistics.fmean(r["losses"].values()) for r in c["schedules"]] for c in (shorter, long)]
    tau = stats.kendalltau(*means).statistic
    passes = {run["tokens"]: run["passes"] for run in attrs[RUNS_ATTR]}
    assert passes[short] > 0 and passes[TOKENS] > 0
    assert (
        f"<tr><td>{short:,}</td><td>{shorter['created']}</td><td>1, 2</td><td>{passes[short]:.2f}</td>"
        f"<td>{tau:+.2f} over 3 schedules (means over seeds 1, 2)</td></tr>"
    ) in text
    assert (
        f"<tr><td>{TOKENS:,}</td><td>{long['created']}</td><td>1, 2</td><td>{passes[TOKENS]:.2f}</td>" in text
    )
    for name in (r["name"] for r in long["schedules"][1:]):
        [sentence] = re.findall(rf"<b>{name} vs uniform:</b> ([^<]*)</p>", text)
        for c in (shorter, long):
            [d] = [r["difference"] for r in c["schedules"] if r["name"] == name]
            assert f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] over 2 seeds" in sentence
