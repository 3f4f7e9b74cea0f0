"""A real Prometheus scrapes every service of a stack of this module's own while faxes flow, and
PromQL over its HTTP API counts what was sent."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.tooling import tool
from faxrelay.localstack import free_ports, wait_for_port
from tests.builders import sign
from tests.e2e.conftest import SYSTEM_SERVICES, System, running_system, wait_until

pytestmark = pytest.mark.e2e

FAXES = 12
ALERTS = Path(__file__).resolve().parents[2] / "deploy/prometheus/alerts.yml"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, str]]:
    """A stack whose services serve /metrics on ports of their own (the gateway's internal port),
    and a Prometheus scraping all of them every second."""
    prometheus = tool("prometheus")  # built into .faxrelay-cache the first time (minutes)
    tmp = tmp_path_factory.mktemp("metrics")
    *ports, prometheus_port = free_ports(len(SYSTEM_SERVICES) + 1)
    per_service = {  # the gateway's is its internal port: /metrics is not on its public one
        name: {"FAXRELAY_METRICS_PORT": str(port), "FAXRELAY_METRICS_LAG_INTERVAL_S": "2"}
        for name, port in zip(SYSTEM_SERVICES, ports, strict=True)
    }
    per_service["gateway"]["FAXRELAY_GATEWAY_WORKERS"] = "2"  # counts summed over workers
    with running_system(tmp / "stack", "tansu", per_service_env=per_service) as system:
        targets = {
            name: f"127.0.0.1:{port}" for name, port in zip(SYSTEM_SERVICES, ports, strict=True)
        }
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": name, "static_configs": [{"targets": [target]}]}
                for name, target in targets.items()
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (tmp / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(prometheus_port, 30, process)
            yield system, f"http://127.0.0.1:{prometheus_port}"
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()
            print((tmp / "prometheus.log").read_text(errors="replace")[-3000:])


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def scalar(prometheus: str, promql: str) -> float:
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_scrapes_every_service(observed: tuple[System, str]) -> None:
    _, prometheus = observed

    def all_up() -> bool:
        return {r["metric"]["job"] for r in query(prometheus, "up == 1")} == set(SYSTEM_SERVICES)

    wait_until(all_up, 60, "every service is a healthy scrape target")


def test_the_counts_prometheus_sees_match_the_faxes_sent(observed: tuple[System, str]) -> None:
    system, prometheus = observed
    users = system.take_users(3)
    for i in range(FAXES):
        system.sandbox.create_faxes(app_id=system.account.app_id, user_id=users[i % 3], count=1)
    forged = json.dumps({"app_id": system.account.app_id, "fax_id": "x"}).encode()
    headers = {"content-type": "application/json", "x-hmac-signature": sign(forged, b"wrong")}
    assert httpx.post(f"{system.gateway_url}/webhooks/efax", content=forged, headers=headers)

    def routed() -> float:
        return scalar(prometheus, 'sum(faxrelay_events_routed_total{destination="user"})')

    wait_until(lambda: routed() >= FAXES, 180, "every fax routed, as Prometheus sees it")
    wait_until(
        lambda: (
            scalar(prometheus, 'sum(faxrelay_deliveries_rejected_total{reason="bad_signature"})')
            == 1
        ),
        30,
        "the forgery counted",
    )
    time.sleep(3)  # a scrape of every target after the last fax was routed
    assert scalar(prometheus, "sum(faxrelay_faxes_stored_total)") == FAXES
    assert scalar(prometheus, "sum(faxrelay_faxes_routed_total)") == FAXES
    assert scalar(prometheus, 'sum(faxrelay_faxes_notified_total{source="webhook"})') == FAXES
    assert scalar(prometheus, "sum(faxrelay_webhooks_accepted_total)") == FAXES + 1
    assert scalar(prometheus, "sum(faxrelay_downloads_failed_total)") == 0
    image = 'sum(faxrelay_efax_request_duration_seconds_count{endpoint="GET /faxes/{id}/image"})'
    assert scalar(prometheus, image) >= FAXES
    assert scalar(prometheus, "sum(faxrelay_object_store_request_duration_seconds_count)") > 0
    assert scalar(prometheus, "sum(faxrelay_fax_age_at_routing_seconds_count)") == FAXES
    assert scalar(prometheus, "sum(faststream_received_messages_total)") > 0


def test_consumer_lag_and_the_poller_cursor_are_exported(observed: tuple[System, str]) -> None:
    _, prometheus = observed

    def lag_groups() -> set[str]:
        return {r["metric"]["group"] for r in query(prometheus, "faxrelay_consumer_lag_records")}

    wanted = {"faxrelay-verifier", "faxrelay-downloader", "faxrelay-router"}
    wait_until(lambda: lag_groups() >= wanted, 60, "the lag of every pipeline group")
    wait_until(
        lambda: scalar(prometheus, "sum(faxrelay_poller_scans_total)") > 0, 60, "poller scans"
    )
    assert scalar(prometheus, "max(faxrelay_poller_interval_seconds)") == 2


def test_the_logs_are_text_on_the_local_stack_and_name_each_stored_fax(
    observed: tuple[System, str],
) -> None:
    system, _ = observed
    text = Path(system.stack.log_file("downloader")).read_text(errors="replace")
    assert "fax stored" in text
    assert "fax_id=" in text


def test_a_failed_download_fires_its_alert(observed: tuple[System, str]) -> None:
    """Last in this module: it makes a download fail."""
    system, prometheus = observed
    (user,) = system.take_users(1)
    system.sandbox.create_faxes(app_id=system.account.app_id, user_id=user, disappear=True)

    def firing() -> set[str]:
        answer = httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()
        return {
            a["labels"]["alertname"] + ":" + a["labels"].get("reason", "")
            for a in answer["data"]["alerts"]
            if a["state"] == "firing"
        }

    wait_until(lambda: "FaxrelayDownloadFailed:gone" in firing(), 120, "the alert fires")
    assert not {a for a in firing() if a.startswith("FaxrelayEfaxUnauthorized")}
