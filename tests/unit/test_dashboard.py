"""The committed Grafana dashboard is the one deploy/grafana/dashboard.py builds, and shows the
metrics shared/metrics.py exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Counter, Histogram

from deploy.grafana.dashboard import dashboard, expressions, render
from shared import metrics

COMMITTED = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/faxrelay.json"


def test_the_committed_dashboard_matches_the_builder() -> None:
    assert COMMITTED.read_text() == render(), (
        "stale: python -m deploy.grafana.dashboard > deploy/grafana/dashboards/faxrelay.json"
    )


def series_of(metric: object) -> set[str]:
    name = metric._name  # type: ignore[attr-defined]
    if isinstance(metric, Counter):
        return {f"{name}_total"}
    if isinstance(metric, Histogram):
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}


def test_every_series_the_dashboard_reads_is_exported() -> None:
    exported: set[str] = set()
    for name in metrics.__all__:
        if hasattr(getattr(metrics, name), "_name"):
            exported |= series_of(getattr(metrics, name))
    for expr in expressions():
        for name in re.findall(r"\b(faxrelay_[a-z_]+)", expr):
            assert name in exported, name


def test_panels_do_not_overlap_and_read_prometheus() -> None:
    board = json.loads(render())
    assert board == dashboard()
    places = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"]]
    assert len(set(places)) == len(places)
    assert all(p["datasource"]["uid"] == "prometheus" for p in board["panels"])
