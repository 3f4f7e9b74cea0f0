"""Helpers of both benchmarks: bodies, load runs (our client or wrk), topic counts, tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from sandbox import sign

Result = dict[str, Any]


def webhook_body(app_id: str, user_id: str, fax_id: str, base_url: str) -> bytes:
    """A fax notification as eFax sends it (indented JSON, ~600 bytes)."""
    payload = {
        "app_id": app_id,
        "user_id": user_id,
        "notification_id": str(uuid.uuid4()),
        "direction": "INBOUND",
        "completed_timestamp": "2024-05-10T12:00:00.000+0000",
        "duration": 42,
        "pages": 2,
        "fax_id": fax_id,
        "sending_fax_number": "+15551234567",
        "receiving_fax_number": "+15557654321",
        "resource_url": f"{base_url}/faxes/{fax_id}/image",
        "originating_fax_tsid": "ACME MEDICAL GROUP",
    }
    return json.dumps(payload, indent=3).encode()


def signed(secret: str, bodies: Iterable[bytes]) -> list[list[str]]:
    return [[body.decode(), sign(secret, body)] for body in bodies]


def write_bodies(bodies: list[list[str]], directory: Path) -> Path:
    path = directory / f"bodies-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(bodies))
    return path


def run_load(
    url: str,
    bodies_file: Path,
    *,
    rate: float,
    seconds: float,
    connections: int,
    once: bool = False,
) -> Result:
    """Our fixed-rate / open-loop client in a process of its own."""
    argv = [sys.executable, "-m", "bench.load", url, str(bodies_file)]
    argv += ["--rate", str(rate), "--seconds", str(seconds), "--connections", str(connections)]
    if once:
        argv.append("--once")
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603
    result: Result = json.loads(out.stdout.strip().splitlines()[-1])
    result["tool"] = "bench.load"
    return result


WRK_DONE = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_script(bodies: Sequence[Sequence[str]]) -> str:
    """wrk Lua: round-robin over pre-formatted signed POSTs, JSON summary at the end."""
    lines = ["local reqs = {}", "local i = 0", "local bodies = {"]
    lines += [f'  {{[==[{body}]==], "{sig}"}},' for body, sig in bodies]
    lines += [
        "}",
        "init = function(args)",
        "  for k, b in ipairs(bodies) do",
        '    reqs[k] = wrk.format("POST", nil, {["Content-Type"] = "application/json",',
        '      ["X-HMAC-Signature"] = b[2]}, b[1])',
        "  end",
        "end",
        "request = function()",
        "  i = i % #reqs + 1",
        "  return reqs[i]",
        "end",
    ]
    return "\n".join(lines) + WRK_DONE


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str, bodies: Sequence[Sequence[str]], *, seconds: float, connections: int
) -> Result:
    """Open loop, as fast as the server answers: wrk, one thread, `connections` connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(bodies))
    try:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", script.name, url]
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603
    finally:
        os.unlink(script.name)
    raw = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("{")))
    elapsed = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["non2xx"]
    return {
        "offered": 0.0,
        "sent": raw["requests"] + raw["errors"],
        "ok": ok,
        "non200": raw["non2xx"],
        "errors": raw["errors"],
        "unsent": 0,
        "elapsed_s": elapsed,
        "per_s": ok / elapsed,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "tool": "wrk",
    }


def count_records(bootstrap: str, topic: str, timeout: float = 60) -> int:
    """Every record of `topic` read from the beginning, until the count stops growing."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        count, quiet_since = 0, time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 2.0:
            got = sum(len(batch) for batch in consumer.poll(timeout_ms=300).values())
            if got:
                count += got
                quiet_since = time.monotonic()
        return count
    finally:
        consumer.close()


class RecordLog:
    """Reads `topics` from the beginning as records arrive and keeps each record's timestamp.

    Counting by reading, not by end offsets: Tansu's ListOffsets(latest) answers less than the
    real end of a partition (the base offset of its last batch), so offsets undercount.
    Topics that do not exist yet are picked up once they do.
    """

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.wanted = set(topics)
        self.assigned: set[TopicPartition] = set()
        self.next_offset: dict[TopicPartition, int] = {}
        self.stamps: dict[str, list[int]] = {t: [] for t in self.wanted}
        # (fax id, timestamp ms) per topic: the CloudEvent id on user topics, else the key
        self.ids: dict[str, list[tuple[str, int]]] = {t: [] for t in self.wanted}
        self.checked = 0.0

    def _assign_new(self) -> None:
        self.checked = time.monotonic()
        found = set()
        for topic in self.wanted & self.consumer.topics():
            partitions = self.consumer.partitions_for_topic(topic) or set()
            found |= {TopicPartition(topic, p) for p in partitions}
        if found - self.assigned:
            self.assigned |= found
            self.consumer.assign(sorted(self.assigned))
            for tp in self.assigned:
                self.consumer.seek(tp, self.next_offset.get(tp, 0))

    def poll(self, timeout_ms: int = 100) -> None:
        if not self.assigned or time.monotonic() - self.checked > 1.0:
            self._assign_new()
        if not self.assigned:
            time.sleep(timeout_ms / 1000)
            return
        for tp, batch in self.consumer.poll(timeout_ms=timeout_ms).items():
            self.stamps[tp.topic].extend(r.timestamp for r in batch)
            self.ids[tp.topic].extend((fax_id(r), r.timestamp) for r in batch)
            self.next_offset[tp] = batch[-1].offset + 1

    def count(self, topics: Iterable[str]) -> int:
        return sum(len(self.stamps[t]) for t in topics)

    def close(self) -> None:
        self.consumer.close()


def fax_id(record: Any) -> str:
    """The fax a record is about: its CloudEvent id (user topics) or else its key."""
    for name, value in record.headers or ():
        if name == "ce_id":
            return str(value.decode())
    return record.key.decode() if record.key else ""


def fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, readable as plain text too."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([line, rule, *body])
