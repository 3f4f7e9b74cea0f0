"""The alert rules and the Prometheus of the compose profile, checked by promtool: the rules
parse, each alert fires when its condition is made true (alerts_test.yml), and the compose
Prometheus scrapes every service."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.grafana.dashboard import expressions
from deploy.settings_doc import SERVICES
from tests.deploy.conftest import ROOT, compose, need

pytestmark = pytest.mark.tools  # promtool and the Compose binary

PROMETHEUS = ROOT / "deploy/prometheus"


def promtool(*args: str) -> str:
    done = subprocess.run(
        [need("promtool"), *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_pass_promtool() -> None:
    assert "SUCCESS: 6 rules found" in promtool("check", "rules", "alerts.yml")


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
