"""`faxrelay <command>`: up (the whole system on the local stack), a single service, the sandbox,
tail (watch a user's topic) and backfill."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from faxrelay.live import USER_TOPICS, count_line, watch
from faxrelay.localstack import BROKERS, PORT_NAMES, SERVICES, LocalStack, free_ports, wait_for_port
from shared.contracts import USER_TOPIC_TEMPLATE

DATA_DIR = Path(".faxrelay")


def demo_config(data_dir: Path) -> dict[str, Any]:
    """Ports and a demo eFax account, made once and kept so that restarts find their data."""
    path = data_dir / "config.json"
    names = [*PORT_NAMES, "sandbox"]
    if path.exists():
        config: dict[str, Any] = json.loads(path.read_text())
        missing = [n for n in names if n not in config["ports"]]
        if missing:  # made by an older version: ports for what it did not know yet
            taken = set(config["ports"].values())
            fresh = [p for p in free_ports(len(missing) + len(taken)) if p not in taken]
            config["ports"].update(zip(missing, fresh, strict=False))
            path.write_text(json.dumps(config, indent=2))
        return config
    config = {
        "ports": dict(zip(names, free_ports(len(names)), strict=True)),
        "app": {
            "app_id": str(uuid.uuid4()),
            "api_key": secrets.token_urlsafe(24),
            "hmac_secret": secrets.token_urlsafe(32),
            "user_ids": [str(uuid.uuid4()) for _ in range(3)],
        },
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return config


def up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    config = demo_config(data_dir)
    ports = dict(config["ports"])
    gateway_port = int(args.gateway_port)
    stack = LocalStack(data_dir, persistent=True, ports=ports, broker=args.broker)
    stopping = False

    def stop_on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        broker_name = "Apache Kafka" if args.broker == "kafka" else "Tansu"
        print(f"starting SeaweedFS and {broker_name} under {data_dir} ...", flush=True)
        stack.start()
        stack.ensure_topics(partitions=6)
        env = service_env(config, gateway_port, ports)
        if "FAXRELAY_APPS" not in os.environ:
            start_sandbox(stack, config, gateway_port, args.rate)
        for name in SERVICES:
            stack.start_service(name, env)
        wait_for_port(gateway_port, 30, stack.processes["gateway"])
        print(f"gateway: http://127.0.0.1:{gateway_port}/webhooks/efax  logs: {data_dir}/logs")
        print("Ctrl-C stops everything.", flush=True)
        counts: Counter[str] = Counter()
        live_line(stack, counts, lambda: stopping)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
    print("stopped: " + count_line(counts) if "counts" in locals() else "stopped")
    return 0


def service_env(config: dict[str, Any], gateway_port: int, ports: dict[str, int]) -> dict[str, str]:
    local = {
        "FAXRELAY_GATEWAY_PORT": str(gateway_port),
        "FAXRELAY_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "FAXRELAY_SHUTDOWN_TIMEOUT_S": "10",
    }
    if "FAXRELAY_APPS" in os.environ:  # real eFax accounts: the rest comes from the environment
        return local
    app = config["app"]
    apps = [
        {
            "app_id": app["app_id"],
            "api_key": app["api_key"],
            "hmac_secrets": [app["hmac_secret"]],
            "user_ids": app["user_ids"],
        }
    ]
    return {
        **local,
        "FAXRELAY_APPS": json.dumps(apps),
        "FAXRELAY_EFAX_API_BASE_URL": f"http://127.0.0.1:{ports['sandbox']}",
    }


def start_sandbox(stack: LocalStack, config: dict[str, Any], gateway_port: int, rate: str) -> None:
    app = config["app"]
    sandbox_apps = [
        {
            "app_id": app["app_id"],
            "api_key": app["api_key"],
            "hmac_secret": app["hmac_secret"],
            "webhook_url": f"http://127.0.0.1:{gateway_port}/webhooks/efax",
            "user_ids": app["user_ids"],
        }
    ]
    port = config["ports"]["sandbox"]
    argv = [sys.executable, "-m", "sandbox", "--port", str(port), "--rate", rate]
    process = stack.spawn("sandbox", argv, {"SANDBOX_APPS": json.dumps(sandbox_apps)})
    wait_for_port(port, 30, process)
    print(f"eFax sandbox (no eFax credentials configured): http://127.0.0.1:{port}  rate {rate}")


def live_line(stack: LocalStack, counts: Counter[str], stopping: Any) -> None:
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


def run_service(args: argparse.Namespace) -> int:
    completed = subprocess.run([sys.executable, "-m", f"services.{args.command}"], check=False)  # noqa: S603
    return completed.returncode


def run_sandbox(args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "sandbox", *args.rest]
    return subprocess.run(argv, check=False).returncode  # noqa: S603


def run_tail(args: argparse.Namespace) -> int:
    from faxrelay.tools import tail

    topic = args.topic_template.format(user_id=args.user_id)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail(args.bootstrap_servers, topic, not args.new_only))
    return 0


def run_backfill(args: argparse.Namespace) -> int:
    from faxrelay.tools import backfill, parse_since

    announced = asyncio.run(backfill(parse_since(args.since), args.user))
    print(f"announced {announced} undownloaded faxes on fax.notified")
    return 0


def default_bootstrap() -> str:
    config = DATA_DIR / "config.json"
    if "FAXRELAY_KAFKA_BOOTSTRAP_SERVERS" in os.environ or not config.exists():
        return os.environ.get("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    return f"127.0.0.1:{json.loads(config.read_text())['ports']['kafka']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faxrelay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p_up = commands.add_parser("up", help="run everything on the embedded local stack")
    p_up.add_argument("--data-dir", default=str(DATA_DIR))
    p_up.add_argument("--gateway-port", default=os.environ.get("FAXRELAY_GATEWAY_PORT", "8080"))
    p_up.add_argument("--rate", default="1/s", help="sandbox faxes per second (demo traffic)")
    p_up.add_argument(
        "--broker",
        choices=BROKERS,
        default="tansu",
        help="tansu (default: pip only, starts in under a second) or kafka (Apache Kafka; needs "
        "Java 17+ and Maven, fetches its jars from Maven Central once)",
    )
    p_up.set_defaults(func=up)
    for name in SERVICES:
        commands.add_parser(name, help=f"run the {name} service").set_defaults(func=run_service)
    p_sb = commands.add_parser("sandbox", help="run the eFax sandbox (python -m sandbox ...)")
    p_sb.add_argument("rest", nargs=argparse.REMAINDER)
    p_sb.set_defaults(func=run_sandbox)
    p_tail = commands.add_parser("tail", help="print one line per fax arriving on a user's topic")
    p_tail.add_argument("user_id")
    p_tail.add_argument("--bootstrap-servers", default=default_bootstrap())
    p_tail.add_argument("--topic-template", default=USER_TOPIC_TEMPLATE)
    p_tail.add_argument("--new-only", action="store_true", help="skip faxes already on the topic")
    p_tail.set_defaults(func=run_tail)
    p_bf = commands.add_parser("backfill", help="announce undownloaded faxes since a time")
    p_bf.add_argument("--since", required=True, help="e.g. 2026-11-01 or 2026-11-01T08:00:00Z")
    p_bf.add_argument("--user", help="one user id (default: every configured user)")
    p_bf.set_defaults(func=run_backfill)
    args = parser.parse_args(argv)
    started = time.monotonic()
    code: int = args.func(args)
    if args.command == "up":
        print(f"ran {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
