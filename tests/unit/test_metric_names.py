"""The metrics table of docs/platform.md names every metric of shared/metrics.py."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import Counter

from shared import metrics

DOCS = Path(__file__).parents[2] / "docs/platform.md"


def test_every_metric_is_in_the_docs_table() -> None:
    text = DOCS.read_text()
    for name in metrics.__all__:
        metric = getattr(metrics, name)
        if not hasattr(metric, "_name"):
            continue
        documented = metric._name + ("_total" if isinstance(metric, Counter) else "")
        assert f"| `{documented}` |" in text, documented
