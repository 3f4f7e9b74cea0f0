"""The operator's verbs, one typed function each: what they read, what they print, their exit
code. Settings come from `faxrelay.config`; the pipeline's logic from `faxrelay.ops`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO
from uuid import UUID

from pydantic import ValidationError

from faxrelay.config import (
    BackfillSettings,
    OpsSettings,
    OpsStoreSettings,
    cli_settings,
    demo_users,
)
from faxrelay.live import USER_TOPICS
from faxrelay.ops import (
    REPLAY_TARGET,
    FaxHistory,
    Kind,
    RefusedKey,
    Replay,
    StageStatus,
    already_stored,
    find,
    link_expiry,
    link_key,
    publish_replays,
    replays,
    stage_of,
    status,
    status_lines,
)
from faxrelay.reader import reading, reason_of, time_of, verified_fax
from faxrelay.tools import backfill, tail
from shared.clients import fax_store
from shared.contracts import now_utc
from shared.efax import EfaxClient
from shared.kafka import KafkaAdmin, header, make_broker
from shared.settings import ServiceSettings


def first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def run_service(name: str) -> int:
    completed = subprocess.run([sys.executable, "-m", f"services.{name}"], check=False)  # noqa: S603
    return completed.returncode


def run_module(module: str, argv: list[str]) -> int:
    """`python -m module argv...` in a process of its own (a service's tool, e.g. train)."""
    return subprocess.run([sys.executable, "-m", module, *argv], check=False).returncode  # noqa: S603


def run_sandbox(rest: list[str]) -> int:
    argv = [sys.executable, "-m", "sandbox", *rest]
    return subprocess.run(argv, check=False).returncode  # noqa: S603


def run_tail(user_id: str | None, bootstrap: str | None, template: str, new_only: bool) -> int:
    settings = cli_settings(ServiceSettings)
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    users = [user_id] if user_id else demo_users()
    topics = [template.format(user_id=user) for user in users]
    pattern = None if topics else USER_TOPICS  # no demo: every user's topic
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail(settings, topics, not new_only, pattern=pattern))
    return 0


def run_backfill(since: datetime, user: str | None) -> int:
    announced = asyncio.run(backfill(since, user, cli_settings(BackfillSettings)))
    print(f"announced {announced} undownloaded faxes on fax.notified")
    return 0


def run_status(as_json: bool) -> int:
    settings = cli_settings(OpsSettings)

    async def measure() -> dict[str, StageStatus]:
        admin = KafkaAdmin(settings)
        try:
            async with reading(settings) as reader:
                return await status(settings, admin, reader)
        finally:
            admin.close()

    stages = asyncio.run(measure())
    if as_json:
        print(json.dumps({"stages": {n: s.as_json() for n, s in stages.items()}}, indent=2))
    else:
        print("\n".join(status_lines(stages)))
    return 0


async def _history(settings: OpsSettings, fax_id: str) -> FaxHistory:
    async with reading(settings) as reader:
        return await find(settings, reader, fax_id)


def run_find(fax_id: str) -> int:
    settings = cli_settings(OpsSettings)
    history = asyncio.run(_history(settings, fax_id))
    if not history.records:
        print(f"fax {fax_id}: on no pipeline topic (older than the retention, or unknown)")
        return 1
    print(f"fax {fax_id}  user {history.user_id or '?'}")
    template = settings.router_user_topic_template
    for record in history.records:
        stage = stage_of(record.topic, template)
        when = f"{time_of(record):%Y-%m-%d %H:%M:%S.%f}"[:-3]
        print(f"  {when}  {stage:<9} {reason_of(record)}")
    print(stored_line(history.stored_key))
    print(f"user events: {len(history.events)}")
    for event in history.events:
        ce_id = header(event, "ce_id")
        print(f"  {time_of(event):%Y-%m-%d %H:%M:%S}  {event.topic}  ce_id {ce_id}")
    print(efax_line(history))
    return 0


def stored_line(key: str | None) -> str:
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


def efax_line(history: FaxHistory) -> str:
    notified = [f for r in history.records if r.topic == "fax.notified" if (f := verified_fax(r))]
    if not notified:
        return "eFax: not checked (no verified notification names the fax's app)"
    try:
        settings = cli_settings(BackfillSettings)
    except ValidationError:
        return "eFax: not checked (no eFax settings: FAXRELAY_APPS)"
    fax = notified[0]
    client = EfaxClient(str(settings.efax_api_base_url), settings.apps, shared_tokens=None)
    since = fax.completed_at - timedelta(minutes=1)

    async def listed() -> bool:
        try:
            page = await client.list_received(UUID(str(fax.app_id)), fax.user_id, since=since)
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


def run_replay(
    kind: Kind,
    reason: str | None,
    since: datetime | None,
    fax_id: str | None,
    dry_run: bool,
    include_stored: bool,
) -> int:
    settings = cli_settings(OpsSettings)

    async def choose() -> tuple[list[Replay], set[str]]:
        async with reading(settings) as reader:
            chosen = await replays(reader, kind, reason=reason, since=since, fax_id=fax_id)
            stored = set() if include_stored else await already_stored(reader, chosen, kind)
            return chosen, stored

    chosen, stored = asyncio.run(choose())
    if stored:
        chosen = [r for r in chosen if r.fax_id not in stored]
        print(f"left out {len(stored)} stored since (--include-stored replays them too)")
    target = REPLAY_TARGET[kind]
    by_reason = Counter(str(r.reason) for r in chosen)
    summary = ", ".join(f"{n} {reason}" for reason, n in by_reason.most_common()) or "none"
    if dry_run:
        print(f"would replay {len(chosen)} {kind} onto {target} ({summary})")
        for replay in chosen:
            print(f"  {replay.fax_id or '(no fax id)'}  {replay.reason}")
        return 0
    invalid = asyncio.run(send(settings, chosen, kind)) if chosen else []
    for replay, why in invalid:
        print(f"not replayed: {replay.fax_id or '(no fax id)'} ({why})", file=sys.stderr)
    sent = len(chosen) - len(invalid)
    print(f"replayed {sent} {kind} onto {target} ({summary})")
    return 1 if invalid else 0


async def send(settings: OpsSettings, chosen: list[Replay], kind: Kind) -> list[tuple[Replay, str]]:
    broker = make_broker(settings)
    await broker.start()

    async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        await broker.publish(value, topic, key=key, headers=headers)

    try:
        return await publish_replays(publish, chosen, kind, progress_bar(len(chosen)))
    finally:
        await broker.stop()


def progress_bar(total: int, out: IO[str] | None = None) -> Callable[[int], None]:
    """A one-line bar on stderr: done/total and the rate."""
    started = time.monotonic()
    stream = out or sys.stderr

    def show(done: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        rate = done / max(time.monotonic() - started, 1e-3)
        end = "\n" if done >= total else ""
        bar = "#" * filled + "." * (width - filled)
        print(f"\r[{bar}] {done}/{total} {rate:.0f}/s", end=end, file=stream, flush=True)

    return show


def run_link(fax_id: str, expires_s: int | None) -> int:
    settings = cli_settings(OpsStoreSettings)
    history = asyncio.run(_history(settings, fax_id))
    if history.stored is None:
        print(f"faxrelay: fax {fax_id} is not stored (see faxrelay find)", file=sys.stderr)
        return 1
    try:
        key = link_key(history.stored)
    except RefusedKey as refused:
        print(f"faxrelay: {refused}", file=sys.stderr)
        return 1
    store = fax_store(settings)
    if asyncio.run(store.find(key)) is None:
        print(f"faxrelay: {key} is gone from the store", file=sys.stderr)
        return 1
    expiry = link_expiry(settings.router_presign_expiry_s, expires_s)
    print(store.presigned_url(key, expiry))
    print(f"expires {now_utc() + expiry:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0
