"""The faxrelay Grafana dashboard, built from code (a drift test keeps the JSON current):

python -m deploy.grafana.dashboard > deploy/grafana/dashboards/faxrelay.json
"""

from __future__ import annotations

import json
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
WIDTH, HEIGHT = 12, 8

# (title, unit, [(legend, PromQL)]): two panels a row, in this order.
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Faxes per stage per minute",
        "short",
        [
            ("received", "sum(rate(faxrelay_webhooks_accepted_total[5m])) * 60"),
            (
                "notified ({{source}})",
                "sum by (source) (rate(faxrelay_faxes_notified_total[5m])) * 60",
            ),
            ("stored", "sum(rate(faxrelay_faxes_stored_total[5m])) * 60"),
            ("routed", "sum(rate(faxrelay_faxes_routed_total[5m])) * 60"),
        ],
    ),
    (
        "Consumer lag per stage (records; reads low on Tansu)",
        "short",
        [("{{group}}", "sum by (group) (faxrelay_consumer_lag_records)")],
    ),
    (
        "Rejected deliveries by reason (per minute)",
        "short",
        [
            ("{{reason}}", "sum by (reason) (rate(faxrelay_deliveries_rejected_total[5m])) * 60"),
            ("duplicate", "sum(rate(faxrelay_deliveries_duplicate_total[5m])) * 60"),
            (
                "refused: {{reason}}",
                "sum by (reason) (rate(faxrelay_webhooks_refused_total[5m])) * 60",
            ),
        ],
    ),
    (
        "Failed downloads by reason (per minute)",
        "short",
        [("{{reason}}", "sum by (reason) (rate(faxrelay_downloads_failed_total[5m])) * 60")],
    ),
    (
        "eFax API latency, p95 by endpoint",
        "s",
        [
            (
                "{{endpoint}}",
                "histogram_quantile(0.95, sum by (endpoint, le) "
                "(rate(faxrelay_efax_request_duration_seconds_bucket[5m])))",
            )
        ],
    ),
    (
        "eFax API errors per minute (4xx, 5xx, no answer) and 401s after refresh",
        "short",
        [
            (
                "{{endpoint}} {{status}}",
                "sum by (endpoint, status) (rate(faxrelay_efax_request_duration_seconds_count"
                '{status=~"4..|5..|error"}[5m])) * 60',
            ),
            (
                "401 after refresh",
                "sum(rate(faxrelay_efax_unauthorized_after_refresh_total[5m])) * 60",
            ),
        ],
    ),
    (
        "Object store latency, p95 by operation",
        "s",
        [
            (
                "{{operation}}",
                "histogram_quantile(0.95, sum by (operation, le) "
                "(rate(faxrelay_object_store_request_duration_seconds_bucket[5m])))",
            )
        ],
    ),
    (
        "Age of faxes at routing (completion on eFax to event)",
        "s",
        [
            (
                f"p{q}",
                f"histogram_quantile(0.{q}, sum by (le) "
                "(rate(faxrelay_fax_age_at_routing_seconds_bucket[5m])))",
            )
            for q in (50, 95)
        ],
    ),
    (
        "Reader: pages read and failed faxes by reason (per minute)",
        "short",
        [
            ("pages: {{kind}}", "sum by (kind) (rate(faxrelay_pages_read_total[5m])) * 60"),
            (
                "failed: {{reason}}",
                "sum by (reason) (rate(faxrelay_reads_failed_total[5m])) * 60",
            ),
        ],
    ),
    (
        "Reader: seconds per page (p50, p95) and page confidence (p10)",
        "short",
        [
            *(
                (
                    f"seconds p{q}",
                    f"histogram_quantile(0.{q}, sum by (le) "
                    "(rate(faxrelay_page_read_duration_seconds_bucket[5m])))",
                )
                for q in (50, 95)
            ),
            (
                "confidence p10",
                "histogram_quantile(0.10, sum by (le) (rate(faxrelay_page_confidence_bucket[5m])))",
            ),
        ],
    ),
]


def panel(number: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": number + 1,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {
            "x": (number % 2) * WIDTH,
            "y": (number // 2) * HEIGHT,
            "w": WIDTH,
            "h": HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (legend, expr) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    return {
        "uid": "faxrelay",
        "title": "faxrelay",
        "tags": ["faxrelay"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [panel(i, *spec) for i, spec in enumerate(PANELS)],
    }


def expressions() -> list[str]:
    return [expr for _, _, targets in PANELS for _, expr in targets]


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    print(render(), end="")
