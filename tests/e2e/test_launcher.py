"""`faxrelay up` (what `make run` starts): faxes flow, Ctrl-C stops every process it started,
and a restart finds the topics and faxes of the previous run."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from minio import Minio

from faxrelay.localstack import ACCESS_KEY, SECRET_KEY, SERVICES, free_ports
from shared.contracts import FAX_STORED
from tests.e2e.conftest import read_topic

pytestmark = pytest.mark.e2e

COUNTS = re.compile(r"received (\d+) \| verified (\d+) \| stored (\d+) \| routed (\d+)")


class Launcher:
    def __init__(self, data_dir: Path, gateway_port: int, broker: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faxrelay.cli", "up", "--data-dir", str(data_dir),
             "--gateway-port", str(gateway_port), "--rate", "5/s", "--broker", broker],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.output = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read1(4096):  # type: ignore[attr-defined]
            self.output += chunk.decode(errors="replace")

    def counts(self) -> tuple[int, ...]:
        found = COUNTS.findall(self.output)
        return tuple(int(n) for n in found[-1]) if found else (0, 0, 0, 0)

    def wait_for(self, routed: int, timeout: float, stored: int = 0) -> tuple[int, ...]:
        deadline = time.monotonic() + timeout
        while self.counts()[3] < routed or self.counts()[2] < stored:
            assert self.process.poll() is None, self.output[-2000:]
            assert time.monotonic() < deadline, self.output[-2000:]
            time.sleep(0.3)
        return self.counts()

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(60)
        self.reader.join(5)
        return code


def processes_under(data_dir: Path) -> list[str]:
    """Processes of this stack: named by the data folder (arguments or environment), or still
    listening on one of its ports."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(data_dir).encode() in text:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"pid {proc.name}: {command[:300]}")
    for name, port in ports(data_dir).items():
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                found.append(f"something still listens on the {name} port {port}")
    return found


@pytest.mark.parametrize("broker", ["tansu", pytest.param("kafka", marks=pytest.mark.kafka)])
def test_faxrelay_up_runs_stops_cleanly_keeps_its_data_and_dies_whole(
    tmp_path: Path, broker: str
) -> None:
    data_dir = tmp_path / "data"
    (port,) = free_ports(1)
    first = Launcher(data_dir, port, broker)
    try:
        before = first.wait_for(routed=5, timeout=120)
        first_run = stored_fax_ids(data_dir)
        assert len(first_run) >= 5
        assert_each_service_serves_the_metrics_it_printed(first.output)
    finally:
        assert first.interrupt() == 0
    assert "stopped: received" in first.output
    time.sleep(1)
    assert processes_under(data_dir) == [], "Ctrl-C left processes running"

    second = Launcher(data_dir, port, broker)
    try:
        second.wait_for(routed=before[3] + 5, stored=before[2] + 5, timeout=120)
        # the sandbox makes new fax ids each run: the first run's can only come from the disk
        assert first_run <= stored_fax_ids(data_dir), "fax.stored lost records in the restart"
        assert first_run <= objects_in_bucket(data_dir), "the bucket lost faxes in the restart"
    finally:
        second.process.kill()  # not even SIGKILL of the launcher leaves its stack behind
        second.process.wait(10)
    # each service's stop is cut at 10 s (the gateway's: 10 s for its connections, 10 s more
    # for its producer's flush to the dead broker)
    deadline = time.monotonic() + 45
    while processes_under(data_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_under(data_dir) == []


def assert_each_service_serves_the_metrics_it_printed(output: str) -> None:
    """`faxrelay up` prints where every service serves /metrics; each one answers there."""
    line = re.search(r"^metrics \(/metrics\): (.+)$", output, re.M)
    assert line, output[-2000:]
    served = dict(entry.split(" ") for entry in line[1].split(", "))
    assert set(served) == set(SERVICES)
    for name, address in served.items():
        text = httpx.get(f"http://{address}/metrics", timeout=10).text
        assert "faxrelay_" in text, name
    stored = httpx.get(f"http://{served['downloader']}/metrics", timeout=10).text
    assert re.search(r"^faxrelay_faxes_stored_total [1-9]", stored, re.M), "counted where printed"


def ports(data_dir: Path) -> dict[str, int]:
    ports: dict[str, int] = json.loads((data_dir / "config.json").read_text())["ports"]
    return ports


def stored_fax_ids(data_dir: Path) -> set[str]:
    bootstrap = f"127.0.0.1:{ports(data_dir)['kafka']}"
    records = read_topic(bootstrap, FAX_STORED, at_least=1, timeout=20)
    return {json.loads(r.value)["fax"]["fax_id"] for r in records}


def objects_in_bucket(data_dir: Path) -> set[str]:
    client = Minio(
        f"127.0.0.1:{ports(data_dir)['s3']}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        secure=False,
    )
    return {
        o.object_name.rsplit("/", 1)[1].split(".")[0]
        for o in client.list_objects("faxes", recursive=True)
        if not o.object_name.startswith("_")
    }
