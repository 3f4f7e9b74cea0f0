"""The committed alert rules are the ones deploy/prometheus/alerts.py builds (the rule file and
the Prometheus Operator's PrometheusRule), and its settings say what an operator means by them.
promtool runs them in tests/deploy/test_prometheus.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.prometheus.alerts import (
    BusinessHours,
    business_hours_expr,
    day_numbers,
    main,
    offset_seconds,
    render,
    render_prometheus_rule,
)

ROOT = Path(__file__).resolve().parents[2]
RULE_FILE = "deploy/prometheus/alerts.yml"
PROMETHEUS_RULE = "deploy/k8s/components/prometheus-operator/prometheusrule.yaml"


def test_the_committed_rule_file_matches_the_builder() -> None:
    assert (ROOT / RULE_FILE).read_text() == render(output=RULE_FILE), (
        f"stale: python -m deploy.prometheus.alerts -o {RULE_FILE}"
    )


def test_the_committed_prometheus_rule_matches_the_builder() -> None:
    assert (ROOT / PROMETHEUS_RULE).read_text() == render_prometheus_rule(output=PROMETHEUS_RULE), (
        f"stale: python -m deploy.prometheus.alerts --prometheus-rule -o {PROMETHEUS_RULE}"
    )


def test_both_forms_hold_the_same_rules() -> None:
    hours = BusinessHours(days="sun-thu", start=7, end=15, utc_offset="+03:00", quiet_hours=3)
    rule_file = yaml.safe_load(render(hours))
    resource = yaml.safe_load(render_prometheus_rule(hours))
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == rule_file["groups"]
    assert len(rule_file["groups"][0]["rules"]) == 7


def test_the_header_is_the_command_that_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "alerts.local.yml"
    argv = ["--days", "tue-sat", "--hours", "9-17", "--utc-offset=-05:00", "--quiet-hours", "3"]
    assert main([*argv, "-o", str(out)]) == 0
    text = out.read_text()
    assert f"python -m deploy.prometheus.alerts {' '.join(argv)} -o {out}" in text.splitlines()[1]
    rule = yaml.safe_load(text)["groups"][0]["rules"][-1]
    assert rule["alert"] == "FaxrelayNoFaxRoutedInBusinessHours"
    assert "[3h]" in rule["expr"]
    assert rule["annotations"]["summary"] == "no fax routed for 3 hours during business hours"
    assert "tue-sat 09:00-17:00 UTC-05:00" in rule["annotations"]["description"]


def test_days_are_ranges_or_lists_and_ranges_wrap_over_the_weekend() -> None:
    assert day_numbers("mon-fri") == [1, 2, 3, 4, 5]
    assert day_numbers("sun-thu") == [0, 1, 2, 3, 4]
    assert day_numbers("fri-mon") == [0, 1, 5, 6]
    assert day_numbers("mon,wed, sat") == [1, 3, 6]
    assert day_numbers("mon-sun") == list(range(7))


def test_the_offset_shifts_the_clock_that_hour_and_day_of_week_read() -> None:
    assert offset_seconds("+05:30") == 19800
    assert offset_seconds("-05:00") == -18000
    expr = business_hours_expr(BusinessHours(utc_offset="+05:30"))
    assert "hour(vector(time() + 19800)) >= 10" in expr
    assert "day_of_week(vector(time() + 19800)) <= 5" in expr
    assert "hour() >= 10 and hour() < 18" in business_hours_expr(BusinessHours())


def test_every_day_leaves_the_day_out_and_scattered_days_are_alternatives() -> None:
    assert "day_of_week" not in business_hours_expr(BusinessHours(days="mon-sun"))
    expr = business_hours_expr(BusinessHours(days="mon,wed-thu"))
    assert expr.splitlines()[1] == (
        "and on () (day_of_week() == 1 or (day_of_week() >= 3 and day_of_week() <= 4))"
    )


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"days": "weekdays"}, "days"),
        ({"days": "mon-fri-sat"}, "days"),
        ({"utc_offset": "CET"}, "UTC offset"),
        ({"utc_offset": "+1"}, "UTC offset"),
        ({"start": 18, "end": 8}, "hours"),
        ({"end": 25}, "hours"),
        ({"quiet_hours": 0}, "quiet hours"),
        ({"start": 9, "end": 11, "quiet_hours": 2}, "never fire"),
    ],
)
def test_settings_that_cannot_work_are_refused(settings: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        BusinessHours(**settings)  # type: ignore[arg-type]
