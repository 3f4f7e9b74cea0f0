"""`faxrelay up`: the whole system on the local stack, with the eFax sandbox as its eFax unless
the environment names real eFax Apps, and a live count of what flows until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from faxrelay.config import LOCAL_ENV, from_environment
from faxrelay.live import USER_TOPICS, count_line, watch
from faxrelay.localstack import SERVICES, LocalStack, start_services
from faxrelay.ports import free_ports, wait_for_port
from faxrelay.stack_config import ACCESS_KEY, PORT_NAMES, SECRET_KEY, Broker, DemoApp
from shared.settings import EfaxSettings, ServiceSettings

# /metrics of every service on a port of its own (the gateway's internal port: also /healthz,
# /readyz; its public port serves only webhooks)
METRICS_PORTS = [f"metrics_{name}" for name in SERVICES]
CONFIG = "config.json"
QUICK = {  # a laptop's stack: a restarted service rejoins and Ctrl-C ends within seconds
    "FAXRELAY_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "FAXRELAY_SHUTDOWN_TIMEOUT_S": "10",
}


class _Apps(ServiceSettings, EfaxSettings):
    """Only to ask whether the environment names the eFax Apps."""


def real_efax() -> bool:
    """Whether the environment names real eFax Apps (then no sandbox, no demo App)."""
    return "apps" in from_environment(_Apps)


def saved_stack(data_dir: Path, broker: Broker, gateway_port: int) -> LocalStack:
    """The stack of `data_dir`: ports and the demo App made once and kept in config.json, so
    that restarts find their data; an older file gets ports for what it did not know yet."""
    path = data_dir / CONFIG
    names = [*PORT_NAMES, "sandbox", *METRICS_PORTS]
    saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"ports": {}}
    missing = [n for n in names if n not in saved["ports"]]
    if missing:
        fresh = free_ports(len(missing), avoid=set(saved["ports"].values()))
        saved["ports"].update(zip(missing, fresh, strict=True))
    app = DemoApp(**saved.get("app", {}))
    saved["app"] = asdict(app)
    if missing or not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
    ports: dict[str, int] = saved["ports"]
    demo = not real_efax()
    return LocalStack(
        data_dir,
        persistent=True,
        ports=dict(ports),
        broker=broker,
        app=app if demo else None,
        efax_url=f"http://127.0.0.1:{ports['sandbox']}" if demo else None,
        gateway_port=gateway_port,
    )


def write_local_env(stack: LocalStack) -> Path:
    """The stack's environment, for the operator's verbs (`faxrelay.config`)."""
    path = stack.data_dir / LOCAL_ENV
    path.write_text("".join(f"{k}={v}\n" for k, v in stack.service_env().items()))
    path.chmod(0o600)
    return path


def up(data_dir: Path, gateway_port: int, rate: str, broker: Broker) -> int:
    stack = saved_stack(data_dir.resolve(), broker, gateway_port)
    stopping = False

    def stop_on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    counts: Counter[str] = Counter()
    try:
        broker_name = "Apache Kafka" if broker == "kafka" else "Tansu"
        print(f"starting SeaweedFS and {broker_name} under {stack.data_dir} ...", flush=True)
        stack.start()
        stack.ensure_topics(partitions=6)
        write_local_env(stack)
        if stack.app is not None:
            start_sandbox(stack, stack.app, rate)
        start_services(stack, QUICK, per_service=metrics_env(stack.ports))
        print(
            f"gateway: http://127.0.0.1:{gateway_port}/webhooks/efax  logs: {stack.data_dir}/logs"
        )
        print("\n".join(first_run_lines(stack)))
        print("\n".join(metrics_lines(stack.ports)))
        print("Ctrl-C stops everything.", flush=True)
        live_line(stack, counts, lambda: stopping)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
    print("stopped: " + count_line(counts))
    return 0


def metrics_env(ports: dict[str, int]) -> dict[str, dict[str, str]]:
    return {name: {"FAXRELAY_METRICS_PORT": str(ports[f"metrics_{name}"])} for name in SERVICES}


def first_run_lines(stack: LocalStack) -> list[str]:
    """What a newcomer needs next: where things are, and whose faxes to watch."""
    lines = [
        f"kafka bootstrap: {stack.bootstrap_servers}",
        f"object store (S3): http://{stack.s3_endpoint}  access key {ACCESS_KEY}  "
        f"secret key {SECRET_KEY}  (demo keys, loopback only)",
    ]
    if stack.app is not None:
        lines.append("demo users (faxrelay tail follows them all; faxrelay tail USER_ID one):")
        lines += [f"  {user_id}" for user_id in stack.app.user_ids]
    lines.append("operator: faxrelay status | find FAX_ID | replay failed --dry-run | link FAX_ID")
    return lines


def metrics_lines(ports: dict[str, int]) -> list[str]:
    """Where each service serves /metrics (Prometheus text), for a scrape config or curl."""
    where = [f"{name} 127.0.0.1:{ports[f'metrics_{name}']}" for name in SERVICES]
    gateway = f"http://127.0.0.1:{ports['metrics_gateway']}"
    return [
        "metrics (/metrics): " + ", ".join(where),
        f"gateway health: {gateway}/healthz, {gateway}/readyz",
    ]


def start_sandbox(stack: LocalStack, app: DemoApp, rate: str) -> None:
    webhook_url = f"http://127.0.0.1:{stack.gateway_port}/webhooks/efax"
    port = stack.ports["sandbox"]
    argv = [sys.executable, "-m", "sandbox", "--port", str(port), "--rate", rate]
    apps = json.dumps([app.sandbox_app(webhook_url)])
    process = stack.spawn("sandbox", argv, {"SANDBOX_APPS": apps})
    wait_for_port(port, 30, process)
    print(f"eFax sandbox (no eFax credentials configured): http://127.0.0.1:{port}  rate {rate}")


def live_line(stack: LocalStack, counts: Counter[str], stopping: Callable[[], bool]) -> None:
    async def run() -> None:
        watcher = asyncio.create_task(watch(stack.bootstrap_servers, counts, USER_TOPICS))
        while not stopping():
            if watcher.done():
                watcher.result()
            dead = [n for n, p in stack.processes.items() if p.poll() is not None]
            status = f" | exited: {','.join(dead)}" if dead else ""
            print(f"\r{count_line(counts)}{status}   ", end="", flush=True)
            await asyncio.sleep(0.5)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    asyncio.run(run())
