"""The alert rules and the Prometheus of the compose profile, checked by promtool: the rules
parse, each alert fires when its condition is made true (alerts_test.yml), and the compose
Prometheus scrapes every service."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from deploy.grafana.dashboard import expressions
from deploy.prometheus.alerts import BusinessHours, render, render_prometheus_rule
from deploy.settings_doc import SERVICES
from deploy.tooling import PROMETHEUS_RELEASE
from deploy.validate_k8s import build
from tests.deploy.conftest import ROOT, compose, need

pytestmark = pytest.mark.tools  # promtool and the Compose binary

PROMETHEUS = ROOT / "deploy/prometheus"


def promtool(*args: str) -> str:
    done = subprocess.run(
        [need("promtool"), *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_is_of_the_prometheus_release_compose_runs() -> None:
    image = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["prometheus"]
    assert image["image"] == f"prom/prometheus:v{PROMETHEUS_RELEASE}"
    assert f"version {PROMETHEUS_RELEASE}" in promtool("--version")


def test_the_alert_rules_pass_promtool() -> None:
    assert "SUCCESS: 7 rules found" in promtool("check", "rules", "alerts.yml")


def test_each_alert_fires_when_its_condition_is_made_true() -> None:
    promtool("test", "rules", "alerts_test.yml")
    tested = {
        t["alertname"]
        for group in yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
        for t in group["alert_rule_test"]
        if t["exp_alerts"]
    }
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    assert tested == {r["alert"] for r in rules}


def test_the_prometheus_rule_of_the_operator_component_passes_promtool(tmp_path: Path) -> None:
    resource = yaml.safe_load(
        (ROOT / "deploy/k8s/components/prometheus-operator/prometheusrule.yaml").read_text()
    )
    path = tmp_path / "prometheusrule-spec.yml"
    path.write_text(yaml.safe_dump(resource["spec"]))
    assert "SUCCESS: 7 rules found" in promtool("check", "rules", str(path))


# Other settings than the defaults, run by promtool: a minute since 1970-01-01 00:00 UTC (a
# Thursday) for a local day and time, and whether the alert fires then.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minute_at(day: str, clock: str, utc_offset: str) -> int:
    """The first minute after the epoch that is `day` `clock` at `utc_offset` ('sun' .. 'sat')."""
    sign = -1 if utc_offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(utc_offset[1:3]), minutes=int(utc_offset[4:])))
    hour, minute = (int(x) for x in clock.split(":"))
    for days in range(8):
        moment = (EPOCH + timedelta(days=days)).astimezone(zone)
        moment = moment.replace(hour=hour, minute=minute)
        if moment >= EPOCH and moment.strftime("%a").lower() == day:
            return int((moment - EPOCH).total_seconds() // 60)
    raise AssertionError((day, clock))


CASES = [
    # Sydney in winter: local Monday morning is Sunday night in UTC, local Saturday morning is
    # Friday night in UTC, so the local days must be counted, not UTC's.
    (
        BusinessHours(days="mon-fri", start=8, end=18, utc_offset="+10:00", quiet_hours=1),
        [
            ("mon", "09:30", True),
            ("sat", "09:30", False),
            ("fri", "17:50", True),
            ("fri", "08:45", False),
            ("thu", "18:05", False),
        ],
    ),
    # Tuesday to Saturday, 09:00-17:00 at UTC-05:00, 3 quiet hours: from 12:00 local on.
    (
        BusinessHours(days="tue-sat", start=9, end=17, utc_offset="-05:00", quiet_hours=3),
        [
            ("thu", "12:30", True),
            ("thu", "11:30", False),
            ("thu", "17:30", False),
            ("sat", "13:30", True),
            ("sun", "13:30", False),
            ("mon", "13:30", False),
        ],
    ),
    # Half-hour offsets and scattered days: India, Monday, Wednesday and Friday.
    (
        BusinessHours(days="mon,wed,fri", start=10, end=19, utc_offset="+05:30", quiet_hours=2),
        [
            ("fri", "12:30", True),
            ("fri", "11:45", False),
            ("sat", "12:30", False),
            ("mon", "18:45", True),
            ("tue", "15:00", False),
        ],
    ),
]


def alert(hours: BusinessHours) -> dict[str, object]:
    return {
        "exp_labels": {"severity": "warning"},
        "exp_annotations": {
            "summary": f"no fax routed for {hours.quiet_hours} hours during business hours",
            "description": "Is eFax reaching the gateway, and is every stage running? "
            f"(Business hours: {hours.describe()}.)",
        },
    }


@pytest.mark.parametrize(("hours", "moments"), CASES, ids=lambda c: getattr(c, "utc_offset", ""))
def test_other_business_hours_fire_inside_them_only(
    tmp_path: Path, hours: BusinessHours, moments: list[tuple[str, str, bool]]
) -> None:
    (tmp_path / "alerts.yml").write_text(render(hours))
    checks = [
        {
            "eval_time": f"{minute_at(day, clock, hours.utc_offset)}m",
            "alertname": "FaxrelayNoFaxRoutedInBusinessHours",
            "exp_alerts": [alert(hours)] if fires else [],
        }
        for day, clock, fires in moments
    ]
    # No fax ever, then the last fax routed at a local time inside the hours: quiet for N
    # hours plus the 10 minutes pending, and not before.
    last = minute_at(moments[0][0], f"{hours.start + 1:02d}:00", hours.utc_offset)
    quiet = hours.quiet_hours * 60
    at_n = [
        {
            "eval_time": f"{last + quiet + later}m",
            "alertname": "FaxrelayNoFaxRoutedInBusinessHours",
            "exp_alerts": [alert(hours)] if fires else [],
        }
        for later, fires in ((-5, False), (5, False), (15, True))
    ]
    routed = 'faxrelay_faxes_routed_total{job="router"}'
    tests = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "5m",  # a week at 1m takes promtool half a minute
        "tests": [
            {
                "interval": "5m",
                "input_series": [{"series": routed, "values": "7x2100"}],
                "alert_rule_test": checks,
            },
            {
                "interval": "5m",
                "input_series": [
                    {"series": routed, "values": f"0+1x{last // 5} {last // 5}x{(quiet + 60) // 5}"}
                ],
                "alert_rule_test": at_n,
            },
        ],
    }
    (tmp_path / "alerts_test.yml").write_text(json.dumps(tests))
    done = subprocess.run(
        [need("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_customised_prometheus_rule_replaces_the_default_in_an_overlay(tmp_path: Path) -> None:
    """The documented way to other hours on Kubernetes: a generated PrometheusRule as a patch."""
    need("kubectl")
    hours = BusinessHours(utc_offset="+01:00", quiet_hours=3)
    (tmp_path / "prometheusrule.yaml").write_text(render_prometheus_rule(hours))
    overlay = ROOT / "deploy/k8s/overlays/production-prometheus-operator"
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(overlay, tmp_path)],
                "patches": [{"path": "prometheusrule.yaml"}],
            }
        )
    )
    (resource,) = [r for r in build(tmp_path) if r["kind"] == "PrometheusRule"]
    assert resource["metadata"]["namespace"] == "faxrelay"
    assert resource["spec"]["groups"] == yaml.safe_load(render(hours))["groups"]


def test_the_compose_prometheus_is_valid_and_scrapes_every_service() -> None:
    promtool("check", "config", "prometheus.yml")
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == set(SERVICES)
    out = compose("--profile", "observability", "config", "prometheus")
    assert "deploy/prometheus/alerts.yml" in out


def test_every_dashboard_query_parses_as_promql(tmp_path: Path) -> None:
    """promtool parses the dashboard's queries as recording rules (Grafana is not run here)."""
    rules = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(expressions())]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in promtool("check", "rules", str(path))


def test_the_compose_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    out = compose("--profile", "observability", "config", "grafana")
    assert "deploy/grafana/provisioning" in out
    assert "deploy/grafana/dashboards" in out
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
