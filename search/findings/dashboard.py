"""The study's pictures as the dashboard shows them with no artifact store: every trial's schedule
and loss curve as two figures on the study's page.

``optuna-dashboard studies.db``, typed as it is, has no artifact store, so pictures stored as
artifacts answer "Cannot access to the artifacts". Figures saved with the dashboard's own
``save_plotly_graph_object`` live in the study's storage instead. It asks a figure only for its
plotly JSON (``to_json``), so the figures are built here as that JSON, without plotly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from search.findings.formatting import mults_text
from search.study import record

# Points kept of each loss curve: enough for its shape, few enough for hundreds of trials.
CURVE_POINTS = 100


@dataclass(frozen=True)
class PlotlyJson:
    """A figure as plotly's JSON (traces and layout), which is all the dashboard reads of it."""

    data: list[dict[str, Any]]
    layout: dict[str, Any]

    def to_json(self) -> str:
        """Plotly's figure JSON."""
        return json.dumps({"data": self.data, "layout": self.layout})


def schedules_figure(trials: Sequence[FrozenTrial]) -> PlotlyJson:
    """A heatmap: one row per trial (lowest loss at the top), its MLP multiplier per layer."""
    ranked = sorted(trials, key=lambda t: (record.value(t), t.number), reverse=True)
    rows = [f"trial {t.number} ({record.value(t):.4f})" for t in ranked]
    trace = {
        "type": "heatmap",
        "z": [list(record.mults(t)) for t in ranked],
        "y": rows,
        "x": list(range(len(record.mults(ranked[0])))) if ranked else [],
        "text": [[mults_text(record.mults(t))] * len(record.mults(t)) for t in ranked],
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "MLP width / d_model"}},
        "hovertemplate": "%{y}<br>layer %{x}: %{z}<extra>%{text}</extra>",
    }
    layout = {
        "title": {"text": "Schedules of the completed trials (lowest loss at the top)"},
        "xaxis": {"title": {"text": "layer"}, "dtick": 1},
        "height": min(2000, 200 + 14 * len(rows)),
    }
    return PlotlyJson([trace], layout)


def curves_figure(trials: Sequence[FrozenTrial], tokens_per_step: int) -> PlotlyJson:
    """Each trial's per-step training loss, one line per trial (up to ``CURVE_POINTS`` points)."""
    data = []
    for t in sorted(trials, key=lambda t: t.number):
        curve = t.user_attrs.get(record.LOSS_CURVE) or []
        stride = max(1, len(curve) // CURVE_POINTS)
        steps = range(stride - 1, len(curve), stride)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"trial {t.number}: {mults_text(record.mults(t))}",
                "x": [(s + 1) * tokens_per_step for s in steps],
                "y": [curve[s] for s in steps],
                "line": {"width": 1},
            }
        )
    layout = {
        "title": {"text": "Training loss of every completed trial"},
        "xaxis": {"title": {"text": "tokens"}},
        "yaxis": {"title": {"text": "loss (nats/token)"}},
    }
    return PlotlyJson(data, layout)


def save_dashboard_figures(study: optuna.Study, tokens_per_step: int) -> None:
    """Write both figures to the study, replacing the earlier ones."""
    trials = record.completed(study.get_trials(deepcopy=False))
    if not trials:
        return
    from optuna_dashboard import save_plotly_graph_object  # scikit-learn: see update_study_note

    save_plotly_graph_object(study, schedules_figure(trials), graph_object_id="schedules")
    save_plotly_graph_object(study, curves_figure(trials, tokens_per_step), graph_object_id="loss-curves")
