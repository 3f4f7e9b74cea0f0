"""The /sandbox control API, the in-process handles and settings from the environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import (
    APP_A,
    APP_B,
    ROOT,
    SECRET_A,
    USER_A1,
    USER_A2,
    USER_B1,
    Efax,
    Receiver,
    apps_for,
    node_verify,
)

from sandbox import Sandbox, SandboxSettings, Server


def test_created_faxes_go_round_robin_over_apps_and_users(sb: Sandbox) -> None:
    response = httpx.post(f"{sb.base_url}/sandbox/faxes", json={"count": 6, "deliver": False})
    assert response.status_code == 201
    owners = [(f["app_id"], f["user_id"]) for f in response.json()]
    cycle = [(APP_A, USER_A1), (APP_A, USER_A2), (APP_B, USER_B1)]
    assert owners == cycle * 2
    only_a = sb.create_faxes(app_id=APP_A, count=4, deliver=False)
    assert [f.user_id for f in only_a] == [USER_A1, USER_A2] * 2
    listed = httpx.get(f"{sb.base_url}/sandbox/faxes").json()
    assert len(listed) == 10
    assert listed[0]["webhook_body"]["fax_id"] == listed[0]["fax_id"]


def test_unknown_owner_or_bad_spec_is_rejected(sb: Sandbox) -> None:
    control = f"{sb.base_url}/sandbox/faxes"
    assert httpx.post(control, json={"user_id": "nobody"}).status_code == 400
    assert httpx.post(control, json={"count": 0}).status_code == 422
    assert httpx.post(control, json={"app_id": APP_A, "user_id": USER_B1}).status_code == 400


def test_control_fax_can_be_read_and_deleted(sb: Sandbox, efax: Efax) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    url = f"{sb.base_url}/sandbox/faxes/{fax.fax_id}"
    assert httpx.get(url).json()["deleted"] is False
    assert httpx.delete(url).status_code == 204
    assert httpx.get(url).json()["deleted"] is True
    assert efax.request("GET", f"/faxes/{fax.fax_id}/metadata").status_code == 404
    assert httpx.get(f"{sb.base_url}/sandbox/faxes/nope").status_code == 404


@pytest.mark.tools
def test_control_webhook_misbehaviour_endpoints(
    sb: Sandbox, receiver: Receiver, tmp_path: Path
) -> None:
    base = f"{sb.base_url}/sandbox"
    hostile = httpx.post(f"{base}/webhooks/hostile", json={"kind": "wrong_secret", "app_id": APP_A})
    assert hostile.json()["http_status"] == 200
    assert httpx.post(f"{base}/webhooks/hostile", json={"kind": "nope"}).status_code == 422
    (post,) = receiver.wait_for(1)
    assert node_verify(tmp_path, [(post.body, post.headers["X-HMAC-Signature"], SECRET_A)]) == [
        False
    ]
    fax_id = hostile.json()["fax_id"]
    assert httpx.post(f"{base}/webhooks/duplicate", json={"fax_id": fax_id, "times": 2}).json() == {
        "queued": 2
    }
    receiver.wait_for(3)
    assert httpx.post(f"{base}/webhooks/outage", json={"seconds": 30}).status_code == 200
    httpx.post(f"{base}/webhooks/redeliver", json={"fax_ids": [fax_id]})
    assert sb.wait_for_deliveries()
    assert len(receiver.requests) == 3
    httpx.delete(f"{base}/webhooks/outage")
    httpx.post(f"{base}/webhooks/redeliver", json={"fax_ids": [fax_id], "order": "reversed"})
    receiver.wait_for(4)
    log = httpx.get(f"{base}/deliveries").json()
    assert [d["status"] for d in log["deliveries"]].count("FAILED") == 6
    assert len(log["hostile"]) == 1


def test_stats_count_tokens_downloads_and_webhooks(
    sb: Sandbox, efax: Efax, receiver: Receiver
) -> None:
    faxes = sb.create_faxes(user_id=USER_A1, count=2)
    receiver.wait_for(2)
    efax.image(faxes[0].fax_id)
    assert sb.wait_for_deliveries()
    stats = httpx.get(f"{sb.base_url}/sandbox/stats").json()
    assert stats["tokens_issued"] == 1
    assert stats["image_downloads"] == 1
    assert stats["webhooks_sent"] == 2
    assert stats["faxes_created"] == 2
    assert stats["requests_by_status"]["200"] >= 2


def test_reset_forgets_faxes_logs_and_faults(sb: Sandbox, receiver: Receiver) -> None:
    sb.create_faxes(user_id=USER_A1)
    receiver.wait_for(1)
    sb.wait_for_deliveries()
    sb.set_faults(fax_error_rate=1.0)
    assert httpx.post(f"{sb.base_url}/sandbox/reset").status_code == 200
    assert sb.faxes() == []
    assert sb.deliveries() == []
    assert sb.stats()["faxes"] == 0


def test_public_base_url_is_used_in_resource_url(receiver: Receiver) -> None:
    from sandbox import run_in_thread

    settings = SandboxSettings(
        apps=apps_for(receiver.url), public_base_url="https://api.securedocex.com/"
    )
    with run_in_thread(settings) as sb:
        (fax,) = sb.create_faxes(app_id=APP_A)
        (post,) = receiver.wait_for(1)
    assert json.loads(post.body)["resource_url"] == (
        f"https://api.securedocex.com/faxes/{fax.fax_id}/image"
    )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    apps = [a.model_dump(mode="json") for a in apps_for("http://127.0.0.1:1/x")]
    for app in apps:
        app["api_key"] = "k"
        app["hmac_secret"] = "s"
    monkeypatch.setenv("SANDBOX_APPS", json.dumps(apps))
    monkeypatch.setenv("SANDBOX_TIME_SCALE", "0.01")
    monkeypatch.setenv("SANDBOX_PORT", "8123")
    settings = SandboxSettings()
    assert settings.time_scale == 0.01
    assert settings.port == 8123
    assert [a.app_id for a in settings.apps] == [APP_A, APP_B]
    assert settings.apps[0].hmac_secret.get_secret_value() == "s"


async def test_async_start_and_stop_inside_a_running_loop(receiver: Receiver) -> None:
    sandbox = Sandbox(SandboxSettings(apps=apps_for(receiver.url), time_scale=0.0001))
    server = Server(sandbox)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
            assert (await client.get("/health")).json() == {"status": "UP"}
            created = await client.post("/sandbox/faxes", json={"app_id": APP_A})
            assert created.status_code == 201
        assert await sandbox.sender.wait_idle(5)
    finally:
        await server.stop()
    assert len(receiver.requests) == 1


def test_standalone_module_serves_and_creates_demo_traffic(receiver: Receiver) -> None:
    apps = [a.model_dump(mode="json") for a in apps_for(receiver.url)]
    apps[0]["api_key"], apps[0]["hmac_secret"] = "key-a", SECRET_A
    apps[1]["api_key"], apps[1]["hmac_secret"] = "key-b", "secret-b"
    env = {
        "SANDBOX_APPS": json.dumps(apps),
        "SANDBOX_TIME_SCALE": "0.0001",
        "PATH": "/usr/bin:/bin",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--rate", "20/s"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        base_url = line.split()[-1]
        assert base_url.startswith("http://127.0.0.1:")
        receiver.wait_for(3, timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if httpx.get(f"{base_url}/sandbox/stats").json().get("faxes_created", 0) >= 3:
                break
            time.sleep(0.05)
        assert httpx.get(f"{base_url}/health").json() == {"status": "UP"}
        faxes = httpx.get(f"{base_url}/sandbox/faxes").json()
        assert faxes
        assert {f["content"] for f in faxes} == {"documents"}, "demo sends documents"
        truth = httpx.get(f"{base_url}/sandbox/faxes/{faxes[0]['fax_id']}/truth").json()
        assert len(truth["pages"]) == faxes[0]["pages"]
    finally:
        process.terminate()
        assert process.wait(10) == 0
        if process.stdout is not None:
            process.stdout.close()
