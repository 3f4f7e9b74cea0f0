"""How Prometheus finds the services on Kubernetes: the pods' prometheus.io annotations, or the
optional Prometheus Operator component (a PodMonitor and the alert rules as a PrometheusRule).
Either way it reaches each service on the port its settings serve /metrics on."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deploy.settings_doc import SERVICES
from deploy.validate_k8s import monitor_problems, scraped_pods
from tests.deploy.conftest import ROOT
from tests.deploy.manifests import by_kind, deployment_env
from tests.deploy.settings_env import load

pytestmark = pytest.mark.tools  # kustomize (kubectl)

OPERATOR_OVERLAY = "deploy/k8s/overlays/production-prometheus-operator"


def metrics_port(
    resources: list[dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> int:
    """The port the service's settings serve /metrics on, from its Deployment's environment."""
    (container,) = by_kind(resources, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    settings = load(SERVICES[name], deployment_env(resources, container), monkeypatch)
    port: int = settings.metrics_port  # the gateway's internal port: its public one has none
    return port


def ports(pod: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c["ports"]}


def test_the_operator_component_is_built_in_an_overlay(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    with_operator = {b for b, rs in kustomize_builds.items() if by_kind(rs, "PodMonitor")}
    assert with_operator == {OPERATOR_OVERLAY}
    assert set(by_kind(kustomize_builds[OPERATOR_OVERLAY], "PrometheusRule")) == {"faxrelay"}


def test_the_pod_monitor_scrapes_every_service_on_its_metrics_port(
    kustomize_builds: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = kustomize_builds[OPERATOR_OVERLAY]
    assert not monitor_problems(resources)
    monitor = by_kind(resources, "PodMonitor")["faxrelay"]
    pods = scraped_pods(monitor, resources)
    assert set(pods) == set(SERVICES)  # the five services, not the init Job
    endpoints = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    assert {e["path"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"/metrics"}
    for name, pod in pods.items():
        (scraped,) = endpoints & set(ports(pod))  # exactly one endpoint per pod: no double scrape
        assert ports(pod)[scraped] == metrics_port(resources, name, monkeypatch), name
        assert pod["metadata"]["labels"][monitor["spec"]["jobLabel"]] == name  # job = service
        # The annotations are turned off, so an annotation-following Prometheus does not
        # scrape the pod a second time.
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "false", name


def test_without_the_component_the_annotations_name_the_metrics_port(
    kustomize_builds: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for build, resources in kustomize_builds.items():
        if build == OPERATOR_OVERLAY:
            continue
        for name, deployment in by_kind(resources, "Deployment").items():
            pod = deployment["spec"]["template"]
            annotations = pod["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true", f"{build} {name}"
            assert annotations["prometheus.io/path"] == "/metrics"
            port = int(annotations["prometheus.io/port"])
            assert port == metrics_port(resources, name, monkeypatch), f"{build} {name}"
            assert port in ports(pod).values(), f"{build} {name}"


def test_the_prometheus_rule_holds_the_rules_of_alerts_yml(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    rule = by_kind(kustomize_builds[OPERATOR_OVERLAY], "PrometheusRule")["faxrelay"]
    rule_file = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"]["groups"] == rule_file["groups"]
    assert rule["metadata"]["namespace"] == "faxrelay"


def test_a_pod_monitor_that_misses_the_pods_is_caught(
    kustomize_builds: dict[str, list[dict[str, Any]]],
) -> None:
    resources = kustomize_builds[OPERATOR_OVERLAY]
    monitor = by_kind(resources, "PodMonitor")["faxrelay"]
    others = [r for r in resources if r is not monitor]

    def variant(**spec: Any) -> list[str]:
        return monitor_problems([*others, {**monitor, "spec": {**monitor["spec"], **spec}}])

    assert variant(selector={"matchLabels": {"app.kubernetes.io/name": "fax-relay"}})
    assert variant(podMetricsEndpoints=[{"port": "metric"}, {"port": "http"}])
    assert variant(podMetricsEndpoints=[{"port": "http"}])  # the gateway's public port only
    assert variant(jobLabel="app")
