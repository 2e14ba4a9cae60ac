"""Do studies of one setup agree? ``python -m bench.agree A.db B.db --retrained A.json B.json``

The trial-recipe issue's check that two fresh studies of the same command, on the same data and
recipe, find the same things. Each storage (a study file or URL) holds one study, or names it as
``STORAGE::STUDY``. For each study it prints its noise floor (the reference baseline's sd across
seeds, with its 95% interval), the model's pick (``search.best --rule model``: the
trial, its loss in the study, the loss the model expects of it) and, from ``--retrained`` (the
results JSON of ``search.train --config`` on that export), the retrained loss against the expected
one; the goal is within 0.5%. For each baseline run (a baseline at a seed, trained once by every
study), it prints each study's loss, and pools those runs into the repeat sd between studies with
its 95% interval: every such run is one config at one seed trained once per study. ``--repeat-sd``
(``bench.noise``'s) adds how many runs agree within it, and within the 95% band of a difference of
two runs (1.96 x sqrt(2) x sd). A retrained pick that is no baseline is also set against every run
of the reference baseline at the study's seed (each study's, and a retrained pick that is that
baseline), with a 95% t interval from the repeat sd between studies: a same-seed difference, so it
leaves out how the gap moves with the seed. Prints the tables, then one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from bench.panel import pooled_spread
from search.findings.contents import StudyFindings, gather_findings
from search.study import record
from search.study.storage import load_existing_study

# The goal for a pick retrained from its export, against the loss the model expected.
MAX_RETRAIN_GAP = 0.005
_BAND_Z = 1.96


def study_source(text: str) -> tuple[str, str | None]:
    """``STORAGE`` or ``STORAGE::STUDY`` as (storage, study name or None)."""
    storage, _, name = text.partition("::")
    return storage, name or None


def open_study(text: str) -> optuna.Study:
    """The study ``text`` names; its storage's only study when no name is given."""
    storage, name = study_source(text)
    return load_existing_study(storage, name)


def baseline_runs(findings: StudyFindings) -> dict[str, float]:
    """Each completed baseline run (``record.completed`` leaves repeats out), as
    "<baseline> seed <s>": its loss."""
    return {
        f"{record.baseline(t)} seed {record.seed(t)}": record.value(t)
        for t in record.completed(findings.trials)
        if record.baseline(t) is not None
    }


def retrained_losses(paths: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``search.train`` results of exported configs, by the study they were exported from: the
    trial, and the retrained loss."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        origin = report.get("config", {}).get("origin")
        loss = report.get("result", {}).get("val_loss")
        if origin is None or loss is None:
            raise ValueError(f"{path}: not the results of search.train on a config search.best exported")
        found[origin["study"]] = {"trial": origin["trial"], "val_loss": loss, "file": path}
    return found


def noise_floor(findings: StudyFindings) -> dict[str, Any] | None:
    """The study's noise floor (its reference baseline's sd across seeds) with its interval."""
    reference = findings.summary.reference
    spread = None if reference is None else pooled_spread([list(reference.losses.values())])
    return None if spread is None else {"baseline": reference.baseline, **spread}


def pick_figures(findings: StudyFindings, retrained: dict[str, Any] | None) -> dict[str, Any]:
    """The model's pick of ``findings`` and, if given, its retrained loss against the expected;
    and the study's noise floor."""
    pick = findings.pick
    completed = len(record.completed(findings.trials))
    floor = noise_floor(findings)
    if pick is None:
        return {"study": findings.name, "completed": completed, "noise_floor": floor, "pick": None}
    figures: dict[str, Any] = {
        "study": findings.name,
        "completed": completed,
        "noise_floor": floor,
        "pick": pick.trial.number,
        "mults": list(record.mults(pick.trial)),
        "baseline": record.baseline(pick.trial),
        "observed": record.value(pick.trial),
        "expected": pick.expected,
        "better_than_best_baseline": pick.better,
    }
    if retrained is not None:
        if retrained["trial"] != pick.trial.number:
            raise ValueError(
                f"{retrained['file']} retrained trial {retrained['trial']} of {findings.name}, but the model "
                f"now picks trial {pick.trial.number}: export and retrain the pick again"
            )
        gap = retrained["val_loss"] / pick.expected - 1
        figures |= {
            "retrained": retrained["val_loss"],
            "retrained_gap": gap,
            "gap_met": abs(gap) <= MAX_RETRAIN_GAP,
        }
    return figures


def against_reference(
    found: Sequence[StudyFindings],
    runs_by_study: Sequence[dict[str, float]],
    picks: Sequence[dict[str, Any]],
    spread: dict[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """By study: its retrained pick (no baseline) less the mean of every run of its reference
    baseline at its seed (``runs_by_study``: each study's :func:`baseline_runs`), with a 95%
    interval from ``spread`` (the repeat sd between studies)."""
    from scipy.stats import t as student  # here: scipy is slow to import and --help needs none of it

    compared: dict[str, dict[str, Any]] = {}
    for findings, pick in zip(found, picks, strict=True):
        reference = findings.summary.reference
        if reference is None or "retrained" not in pick or pick["baseline"] is not None:
            continue
        key = f"{reference.baseline} seed {findings.seed}"
        runs = [r[key] for r in runs_by_study if key in r]
        runs += [p["retrained"] for p in picks if "retrained" in p and p["baseline"] == reference.baseline]
        difference = pick["retrained"] - sum(runs) / len(runs)
        figures: dict[str, Any] = {"reference": key, "runs": len(runs), "difference": difference}
        if spread is not None:
            half = student.ppf(0.975, spread["df"]) * spread["sd"] * math.sqrt(1 + 1 / len(runs))
            figures |= {"low": difference - half, "high": difference + half, "df": spread["df"]}
        compared[findings.name] = figures
    return compared


def between_studies(runs: Sequence[dict[str, float]], repeat_sd: float | None) -> dict[str, Any]:
    """The baseline runs every study trained, their losses and spread, pooled into the repeat sd
    between studies; with ``repeat_sd``, how many runs agree within it and within the band of a
    difference of two runs."""
    shared = [key for key in runs[0] if all(key in r for r in runs[1:])]
    rows = {key: [r[key] for r in runs] for key in shared}
    figures: dict[str, Any] = {
        "runs": {key: {"losses": losses, "range": max(losses) - min(losses)} for key, losses in rows.items()},
        "repeat_sd_between_studies": pooled_spread(list(rows.values())),
    }
    if repeat_sd is not None:
        band = _BAND_Z * math.sqrt(2) * repeat_sd
        ranges = [row["range"] for row in figures["runs"].values()]
        figures |= {
            "repeat_sd": repeat_sd,
            "within_repeat_sd": sum(r <= repeat_sd for r in ranges),
            "band": band,
            "within_band": sum(r <= band for r in ranges),
        }
    return figures


def tables(
    picks: Sequence[dict[str, Any]], agreement: dict[str, Any], compared: dict[str, dict[str, Any]]
) -> str:
    """The picks and the baseline runs as two markdown tables, and the pooled spread."""
    names = [p["study"] for p in picks]
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    lines.append("| completed trials | " + " | ".join(str(p["completed"]) for p in picks) + " |")
    lines.append("| noise floor: seed sd [95%] | " + " | ".join(_floor_cell(p) for p in picks) + " |")
    lines.append("| model's pick | " + " | ".join(_pick_cell(p) for p in picks) + " |")
    lines.append("| its loss in the study / expected | " + " | ".join(_loss_cell(p) for p in picks) + " |")
    lines.append("| retrained (against expected) | " + " | ".join(_retrained_cell(p) for p in picks) + " |")
    if compared:
        cells = [_compared_cell(compared.get(p["study"])) for p in picks]
        lines.append("| retrained against the reference at the seed [95%] | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| baseline run | " + " | ".join(names) + " | range |",
        "| --- |" + " --- |" * (len(names) + 1),
    ]
    for key, row in agreement["runs"].items():
        lines.append(
            f"| {key} | " + " | ".join(f"{v:.4f}" for v in row["losses"]) + f" | {row['range']:.4f} |"
        )
    spread = agreement["repeat_sd_between_studies"]
    if spread is not None:
        lines += [
            "",
            f"repeat sd between studies, pooled over the baseline runs: {spread['sd']:.4f} "
            f"[{spread['low']:.4f}, {spread['high']:.4f}] ({spread['df']} df)",
        ]
    if "repeat_sd" in agreement:
        count = len(agreement["runs"])
        lines.append(
            f"runs whose studies agree within the repeat sd {agreement['repeat_sd']:.4f}: "
            f"{agreement['within_repeat_sd']} of {count}; within the band of a difference of two runs "
            f"{agreement['band']:.4f}: {agreement['within_band']} of {count}"
        )
    return "\n".join(lines)


def _compared_cell(c: dict[str, Any] | None) -> str:
    if c is None:
        return "–"
    interval = f" [{c['low']:+.4f}, {c['high']:+.4f}]" if "low" in c else ""
    return f"{c['difference']:+.4f}{interval} ({c['reference']}, {c['runs']} runs)"


def _floor_cell(p: dict[str, Any]) -> str:
    floor = p["noise_floor"]
    if floor is None:
        return "–"
    return (
        f"{floor['baseline']} {floor['sd']:.4f} [{floor['low']:.4f}, {floor['high']:.4f}] ({floor['df']} df)"
    )


def _pick_cell(p: dict[str, Any]) -> str:
    if p["pick"] is None:
        return "none yet (too few trials)"
    name = f"{p['baseline']} (trial {p['pick']})" if p["baseline"] else f"trial {p['pick']}"
    return f"{name}, `{','.join(map(str, p['mults']))}`"


def _loss_cell(p: dict[str, Any]) -> str:
    return "–" if p["pick"] is None else f"{p['observed']:.4f} / {p['expected']:.4f}"


def _retrained_cell(p: dict[str, Any]) -> str:
    if "retrained" not in p:
        return "–"
    return f"{p['retrained']:.4f} ({p['retrained_gap']:+.2%}{'' if p['gap_met'] else ', goal missed'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="+", help="STORAGE or STORAGE::STUDY, two or more")
    parser.add_argument(
        "--retrained", nargs="*", default=[], help="search.train results of the exported picks"
    )
    parser.add_argument("--repeat-sd", type=float, help="bench.noise's repeat sd, to count runs within it")
    args = parser.parse_args(argv)
    if len(args.studies) < 2:
        parser.error("give two studies or more")
    try:
        found = [gather_findings(open_study(text)) for text in args.studies]
        retrained = retrained_losses(args.retrained)
        unknown = sorted(set(retrained) - {f.name for f in found})
        if unknown:
            raise ValueError(
                f"--retrained: runs exported from {', '.join(unknown)}, which are not among the studies"
            )
        picks = [pick_figures(f, retrained.get(f.name)) for f in found]
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs_by_study = [baseline_runs(f) for f in found]
    agreement = between_studies(runs_by_study, args.repeat_sd)
    compared = against_reference(found, runs_by_study, picks, agreement["repeat_sd_between_studies"])
    print(tables(picks, agreement, compared))
    print(json.dumps({"picks": picks, "agreement": agreement, "against_reference": compared}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
