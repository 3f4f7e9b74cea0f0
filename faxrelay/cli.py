"""`faxrelay <command>`: up (the whole system on the local stack), a single service, the sandbox,
tail (watch users' topics), backfill, and the operator's verbs: status, find, replay, link.

Every verb that talks to Kafka or the store reads the services' FAXRELAY_* settings (SASL/TLS
included); without FAXRELAY_KAFKA_BOOTSTRAP_SERVERS it finds the local stack of `faxrelay up`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from faxrelay.live import USER_TOPICS, count_line, watch
from faxrelay.localstack import (
    ACCESS_KEY,
    BROKERS,
    PORT_NAMES,
    SECRET_KEY,
    SERVICES,
    LocalStack,
    free_ports,
    wait_for_port,
)
from shared.contracts import USER_TOPIC_TEMPLATE, parse_efax_timestamp
from shared.settings import ServiceSettings

DATA_DIR = Path(".faxrelay")
CONSUMERS = [name for name in SERVICES if name != "gateway"]  # the gateway serves its own port
METRICS_PORTS = [f"metrics_{name}" for name in CONSUMERS]


def demo_config(data_dir: Path) -> dict[str, Any]:
    """Ports and a demo eFax account, made once and kept so that restarts find their data."""
    path = data_dir / "config.json"
    names = [*PORT_NAMES, "sandbox", *METRICS_PORTS]
    if path.exists():
        config: dict[str, Any] = json.loads(path.read_text())
        missing = [n for n in names if n not in config["ports"]]
        if missing:  # made by an older version: ports for what it did not know yet
            taken = set(config["ports"].values())
            fresh = free_ports(len(missing), avoid=taken)
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
            metrics = (
                {"FAXRELAY_METRICS_PORT": str(ports[f"metrics_{name}"])}
                if name in CONSUMERS
                else {}
            )
            stack.start_service(name, env | metrics)
        wait_for_port(gateway_port, 30, stack.processes["gateway"])
        print(f"gateway: http://127.0.0.1:{gateway_port}/webhooks/efax  logs: {data_dir}/logs")
        print("\n".join(first_run_lines(config, stack)))
        print("\n".join(metrics_lines(ports, gateway_port)))
        print("Ctrl-C stops everything.", flush=True)
        counts: Counter[str] = Counter()
        live_line(stack, counts, lambda: stopping)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
    print("stopped: " + count_line(counts) if "counts" in locals() else "stopped")
    return 0


def first_run_lines(config: dict[str, Any], stack: LocalStack) -> list[str]:
    """What a newcomer needs next: where things are, and whose faxes to watch."""
    lines = [
        f"kafka bootstrap: {stack.bootstrap_servers}",
        f"object store (S3): http://{stack.s3_endpoint}  access key {ACCESS_KEY}  "
        f"secret key {SECRET_KEY}  (demo keys, loopback only)",
    ]
    if "FAXRELAY_APPS" not in os.environ:
        lines.append("demo users (faxrelay tail follows them all; faxrelay tail USER_ID one):")
        lines += [f"  {user_id}" for user_id in config["app"]["user_ids"]]
    lines.append("operator: faxrelay status | find FAX_ID | replay failed --dry-run | link FAX_ID")
    return lines


def metrics_lines(ports: dict[str, int], gateway_port: int) -> list[str]:
    """Where each service serves /metrics (Prometheus text), for a scrape config or curl."""
    where = [f"gateway 127.0.0.1:{gateway_port}"]
    where += [f"{name} 127.0.0.1:{ports[f'metrics_{name}']}" for name in CONSUMERS]
    return ["metrics (/metrics): " + ", ".join(where)]


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
    from faxrelay.live import USER_TOPICS
    from faxrelay.tools import tail

    settings = cli_settings(ServiceSettings)
    bootstrap = args.bootstrap_servers or settings.kafka_bootstrap_servers
    settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    users = [args.user_id] if args.user_id else demo_users()
    topics = [args.topic_template.format(user_id=user) for user in users]
    pattern = None if topics else USER_TOPICS  # no demo: every user's topic
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail(settings, topics, not args.new_only, pattern=pattern))
    return 0


AGES = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def since_arg(text: str, now: datetime | None = None) -> datetime:
    """A `--since`: an ISO 8601 time (a date alone is its midnight UTC, no offset is UTC) or an
    age back from now, `30m`, `12h`, `7d`."""
    text = text.strip()
    if age := re.fullmatch(r"(\d+)\s*([mhd])", text):
        return (now or datetime.now(UTC)) - int(age[1]) * AGES[age[2]]
    try:
        parsed = parse_efax_timestamp(text if "T" in text else text + "T00:00:00Z")
    except ValueError:
        parsed = None
    if not isinstance(parsed, datetime):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give e.g. 2026-11-01, 2026-11-01T08:00:00Z, or an age "
            "such as 30m, 12h or 7d"
        )
    return parsed


def run_backfill(args: argparse.Namespace) -> int:
    from faxrelay.tools import BackfillSettings, backfill

    settings = cli_settings(BackfillSettings)
    announced = asyncio.run(backfill(args.since, args.user, settings))
    print(f"announced {announced} undownloaded faxes on fax.notified")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from faxrelay.ops import OpsSettings, status, status_lines

    stages = status(cli_settings(OpsSettings))
    if args.json:
        print(json.dumps({"stages": {n: s.as_json() for n, s in stages.items()}}, indent=2))
    else:
        print("\n".join(status_lines(stages)))
    return 0


def run_find(args: argparse.Namespace) -> int:
    from faxrelay.ops import OpsSettings, find, reason_of, stage_of

    settings = cli_settings(OpsSettings)
    history = find(settings, args.fax_id)
    template = settings.router_user_topic_template
    if not history.records:
        print(f"fax {args.fax_id}: on no pipeline topic (older than the retention, or unknown)")
        return 1
    print(f"fax {args.fax_id}  user {history.user_id or '?'}")
    for record in history.records:
        stage = stage_of(record.topic, template)
        print(f"  {record.time:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"  {stage:<9} {reason_of(record)}")
    print(stored_line(history.stored_key))
    print(f"user events: {len(history.events)}")
    for event in history.events:
        print(f"  {event.time:%Y-%m-%d %H:%M:%S}  {event.topic}  ce_id {event.header('ce_id')}")
    print(efax_line(history))
    return 0


def stored_line(key: str | None) -> str:
    from pydantic import ValidationError

    from faxrelay.ops import OpsStoreSettings
    from shared.clients import fax_store

    if key is None:
        return "stored object: none"
    try:
        store = fax_store(cli_settings(OpsStoreSettings))
    except ValidationError as error:
        return f"stored object: {key} (store not configured: {first_error(error)})"
    found = asyncio.run(store.find(key))
    if found is None:
        return f"stored object: {key} MISSING from bucket {store.bucket}"
    o = found.stored
    return f"stored object: s3://{o.bucket}/{o.key}  {o.size} bytes  sha256 {o.sha256}"


def efax_line(history: Any) -> str:
    from uuid import UUID

    from pydantic import ValidationError

    from faxrelay.tools import BackfillSettings
    from shared.efax import EfaxClient

    notified = [r.json() for r in history.records if r.topic == "fax.notified"]
    if not notified:
        return "eFax: not checked (no verified notification names the fax's app)"
    try:
        settings = cli_settings(BackfillSettings)
    except ValidationError:
        return "eFax: not checked (no eFax settings: FAXRELAY_APPS)"
    fax = notified[0]
    client = EfaxClient(str(settings.efax_api_base_url), settings.apps, shared_tokens=None)
    since = datetime.fromisoformat(fax["completed_at"]) - timedelta(minutes=1)

    async def listed() -> bool:
        try:
            page = await client.list_received(
                UUID(fax["app_id"]), UUID(fax["user_id"]), since=since
            )
            return any(str(f.fax_id) == history.fax_id for f in page.faxes)
        finally:
            await client.aclose()

    try:
        pending = asyncio.run(listed())
    except Exception as error:
        return f"eFax: not checked ({type(error).__name__}: {error})"
    return (
        "eFax: still lists it as NOT downloaded" if pending else "eFax: not listed as undownloaded"
    )


def run_replay(args: argparse.Namespace) -> int:
    from faxrelay.ops import OpsSettings, already_stored, progress_bar, publish_replays, replays

    settings = cli_settings(OpsSettings)
    chosen = replays(settings, args.kind, reason=args.reason, since=args.since, fax_id=args.fax)
    if not args.include_stored:
        stored = already_stored(settings, chosen)
        if stored:
            chosen = [r for r in chosen if r.fax_id not in stored]
            print(f"left out {len(stored)} stored since (--include-stored replays them too)")
    target = "fax.notified" if args.kind == "failed" else "fax.webhook.received"
    by_reason = Counter(str(r.reason) for r in chosen)
    summary = ", ".join(f"{n} {reason}" for reason, n in by_reason.most_common()) or "none"
    if args.dry_run:
        print(f"would replay {len(chosen)} {args.kind} onto {target} ({summary})")
        for replay in chosen:
            print(f"  {replay.fax_id or '(no fax id)'}  {replay.reason}")
        return 0
    if chosen:
        asyncio.run(publish_replays(settings, chosen, args.kind, progress_bar(len(chosen))))
    print(f"replayed {len(chosen)} {args.kind} onto {target} ({summary})")
    return 0


def run_link(args: argparse.Namespace) -> int:
    from faxrelay.ops import OpsStoreSettings, expiry_of, find
    from shared.clients import fax_store
    from shared.contracts import now_utc

    settings = cli_settings(OpsStoreSettings)
    history = find(settings, args.fax_id)
    if history.stored_key is None:
        print(f"faxrelay: fax {args.fax_id} is not stored (see faxrelay find)", file=sys.stderr)
        return 1
    store = fax_store(settings)
    if asyncio.run(store.find(history.stored_key)) is None:
        print(f"faxrelay: {history.stored_key} is gone from the store", file=sys.stderr)
        return 1
    expiry = expiry_of(settings, args.expires_s)
    print(store.presigned_url(history.stored_key, expiry))
    print(f"expires {now_utc() + expiry:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0


def local_defaults(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Settings of the local stack `faxrelay up` made, unless FAXRELAY_KAFKA_BOOTSTRAP_SERVERS
    points elsewhere (then everything comes from the environment)."""
    config = data_dir / "config.json"
    if "FAXRELAY_KAFKA_BOOTSTRAP_SERVERS" in os.environ or not config.exists():
        return {}
    saved = json.loads(config.read_text())
    ports, app = saved["ports"], saved["app"]
    return {
        "local_stack": True,
        "kafka_bootstrap_servers": f"127.0.0.1:{ports['kafka']}",
        "kafka_idempotent_producer": False,  # Tansu has none; a few records need none
        "s3_endpoint": f"127.0.0.1:{ports['s3']}",
        "s3_access_key": ACCESS_KEY,
        "s3_secret_key": SECRET_KEY,
        "efax_api_base_url": f"http://127.0.0.1:{ports['sandbox']}",
        "apps": [{"app_id": app["app_id"], "api_key": app["api_key"], "user_ids": app["user_ids"]}],
    }


S = TypeVar("S", bound=ServiceSettings)


def cli_settings(cls: type[S]) -> S:
    """`cls` from the environment, over the local stack's settings where the environment is
    silent."""
    defaults = {
        k: v for k, v in local_defaults().items() if f"FAXRELAY_{k.upper()}" not in os.environ
    }
    return cls(**defaults)


def demo_users() -> list[str]:
    config = DATA_DIR / "config.json"
    if "FAXRELAY_APPS" in os.environ or not config.exists():
        return []
    return [str(u) for u in json.loads(config.read_text())["app"]["user_ids"]]


def first_error(error: Any) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def settings_refused() -> str | None:
    """Why the broker refused us, when it names a setting (a wrong password or CA)."""
    from shared.kafka import KafkaSettingsError, check_connection

    try:
        asyncio.run(check_connection(cli_settings(ServiceSettings), timeout_s=5))
    except KafkaSettingsError as error:
        return str(error)
    except Exception:  # only a diagnosis: the caller reports the original error
        return None
    return None


def unreachable(error: BaseException) -> str | None:
    """A one-line message for the errors an operator meets; None for a real bug."""
    from aiokafka.errors import KafkaConnectionError
    from kafka.errors import KafkaError, NoBrokersAvailable
    from minio.error import S3Error
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return f"settings: {first_error(error)}"
    if isinstance(error, NoBrokersAvailable | KafkaConnectionError):
        refused = settings_refused()
        if refused:
            return refused
        bootstrap = os.environ.get("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS") or local_defaults().get(
            "kafka_bootstrap_servers", "127.0.0.1:9092"
        )
        return (
            f"cannot reach Kafka at {bootstrap} ({type(error).__name__}); is the broker up "
            "(faxrelay up) and are FAXRELAY_KAFKA_* right?"
        )
    if isinstance(error, KafkaError):
        return f"Kafka: {type(error).__name__}: {error}"
    if isinstance(error, S3Error):
        return f"object store: {error.code}: {error.message}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return None


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("faxrelay")
    except PackageNotFoundError:
        return "unknown"


def default_bootstrap() -> str:
    config = DATA_DIR / "config.json"
    if "FAXRELAY_KAFKA_BOOTSTRAP_SERVERS" in os.environ or not config.exists():
        return os.environ.get("FAXRELAY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    return f"127.0.0.1:{json.loads(config.read_text())['ports']['kafka']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="faxrelay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"faxrelay {version()}")
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
    p_tail = commands.add_parser("tail", help="print one line per fax arriving on users' topics")
    p_tail.add_argument("user_id", nargs="?", help="one user (default: every demo user)")
    p_tail.add_argument("--bootstrap-servers", help="default: FAXRELAY_* or the local stack")
    p_tail.add_argument("--topic-template", default=USER_TOPIC_TEMPLATE)
    p_tail.add_argument("--new-only", action="store_true", help="skip faxes already on the topic")
    p_tail.set_defaults(func=run_tail)
    p_bf = commands.add_parser("backfill", help="announce undownloaded faxes since a time")
    p_bf.add_argument(
        "--since", required=True, type=since_arg, help="e.g. 2026-11-01, 2026-11-01T08:00:00Z, 12h"
    )
    p_bf.add_argument("--user", help="one user id (default: every configured user)")
    p_bf.set_defaults(func=run_backfill)
    add_operator_verbs(commands)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        code: int = args.func(args)
    except Exception as error:
        message = unreachable(error)
        if message is None:
            raise
        print(f"faxrelay {args.command}: {message}", file=sys.stderr)
        return 2
    if args.command == "up":
        print(f"ran {time.monotonic() - started:.0f} s")
    return code


def add_operator_verbs(commands: Any) -> None:
    p = commands.add_parser(
        "status", help="records, lag, oldest unprocessed record and last fax per stage"
    )
    p.add_argument("--json", action="store_true", help='one object: {"stages": {name: {...}}}')
    p.set_defaults(func=run_status)
    p = commands.add_parser("find", help="everything known of one fax, in time order")
    p.add_argument("fax_id")
    p.set_defaults(func=run_find)
    p = commands.add_parser(
        "replay",
        help="publish failed or rejected faxes again",
        description="failed: the original notifications of fax.download.failed go back to "
        "fax.notified (the downloader skips faxes already stored and announced). rejected: the "
        "original deliveries of fax.webhook.rejected go back to fax.webhook.received and are "
        "verified again (forged ones are rejected again; duplicates collapse). Rejections for "
        "'duplicate' are left out unless --reason duplicate.",
    )
    p.add_argument("kind", choices=("failed", "rejected"))
    p.add_argument("--reason", help="only this reason, e.g. gone or bad_signature")
    p.add_argument(
        "--since",
        type=since_arg,
        help="only failed/rejected since, e.g. 2026-11-01T08:00:00Z, or an age: 30m, 12h, 7d",
    )
    p.add_argument("--fax", metavar="FAX_ID", help="only this fax")
    p.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    p.add_argument(
        "--include-stored",
        action="store_true",
        help="also the faxes stored since they failed or were rejected (left out by default)",
    )
    p.set_defaults(func=run_replay)
    p = commands.add_parser("link", help="a fresh presigned download link for a stored fax")
    p.add_argument("fax_id")
    p.add_argument(
        "--expires-s", type=int, help="lifetime (default FAXRELAY_ROUTER_PRESIGN_EXPIRY_S)"
    )
    p.set_defaults(func=run_link)


if __name__ == "__main__":
    sys.exit(main())
