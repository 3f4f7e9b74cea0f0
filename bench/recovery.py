"""Recovery benchmark (issue #12): how soon a restarted service delivers again, and how fast a
backlog drains.

- **restarts**: the router, the verifier and the downloader in turn are stopped, gracefully
  (SIGTERM: the consumer leaves its group) and killed (SIGKILL: the broker keeps the dead member
  until its session times out); while one is down `backlog` faxes are posted and wait on its
  input topic; then it is started again. Its own log (aiokafka at INFO, text format, ms) gives
  when it found the group coordinator, joined the group and got its partitions; the record
  timestamps on its output topic give its first output and when the backlog was through.
- **drain**: the downloader is stopped, `drain` faxes are posted and wait on `fax.notified`, the
  downloader is started again: the rate at which `fax.stored` and the user events progress,
  beside the pipeline's steady rate measured first in the same run.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import run_load, table, write_bodies
from bench.pipeline import (
    BENCH_ENV,
    SERVICES,
    USER_EVENTS,
    Sampler,
    bench_stack,
    cpu_s,
    first_stamps,
    notification_bodies,
    run_ours,
    wait_for_faxes,
)
from faxrelay.localstack import Broker, LocalStack, start_services
from sandbox import RunningSandbox, run_in_thread
from shared.contracts import FAX_NOTIFIED, FAX_STORED, WEBHOOK_RECEIVED

INPUT = {"verifier": WEBHOOK_RECEIVED, "downloader": FAX_NOTIFIED, "router": FAX_STORED}
OUTPUT = {"verifier": FAX_NOTIFIED, "downloader": FAX_STORED, "router": USER_EVENTS}
MODES = {"graceful": signal.SIGTERM, "kill": signal.SIGKILL}
# What the restarted service logs on its way to consuming (FastStream, then aiokafka at INFO).
MARKS = {
    "first log line": "",
    "app starting": "FastStream app starting",
    "coordinator": "Discovered coordinator",
    "join sent": "(Re-)joining group",
    "joined": "Joined group",
    "assigned": "Setting newly assigned partitions {",
}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
SESSION_TIMEOUT_MS = 6000  # the bench's FAXRELAY_KAFKA_SESSION_TIMEOUT_MS (bench/pipeline.py)


@dataclass
class Run:
    """What every scenario needs: the stack, the sandbox, the services' settings, the reader."""

    stack: LocalStack
    sandbox: RunningSandbox
    sampler: Sampler
    env: dict[str, str]
    url: str
    directory: Path

    def start(self, name: str) -> None:
        process = self.stack.start_service(name, self.env)
        if name == "downloader":
            self.sampler.pid = process.pid

    def post(self, count: int) -> tuple[set[str], dict[str, Any]]:
        """`count` new faxes' webhooks, posted as fast as the gateway takes them."""
        faxes = self.sandbox.create_faxes(count=count, deliver=False)
        bodies = write_bodies(notification_bodies(self.sandbox, faxes), self.directory)
        load = run_load(self.url, bodies, rate=0, seconds=0, connections=32, once=True)
        return {str(f.fax_id) for f in faxes}, load

    def wait_on(self, stage: str, wanted: set[str], timeout: float) -> dict[str, float]:
        """Each wanted fax's first record timestamp on `stage`, once all are there."""
        deadline = time.time() + timeout
        while True:
            seen = first_stamps(self.sampler, wanted)[stage]
            if len(seen) == len(wanted):
                return seen
            if time.time() > deadline:
                raise TimeoutError(f"{len(seen)} of {len(wanted)} faxes on {stage} in {timeout} s")
            time.sleep(0.1)


def load1() -> float:
    return os.getloadavg()[0]


def log_marks(path: Path, offset: int) -> dict[str, float]:
    """Wall-clock time of the first line of each MARKS entry written after `offset`."""
    found: dict[str, float] = {}
    with path.open("rb") as log:
        log.seek(offset)
        for raw in log:
            line = raw.decode(errors="replace")
            stamp = STAMP.match(line)
            if stamp is None:
                continue
            at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            for mark, text in MARKS.items():
                if mark not in found and text in line:
                    found[mark] = at
    return found


def restart(run: Run, name: str, mode: str, backlog: int) -> dict[str, float]:
    """Stop `name`, let `backlog` faxes wait on its input, start it: where the time goes."""
    load_before = load1()
    down_at = time.time()
    run.stack.stop_process(name, MODES[mode])
    stopped_s = time.time() - down_at
    wanted, _ = run.post(backlog)
    run.wait_on(INPUT[name], wanted, timeout=120)
    log = run.stack.log_file(name)
    offset = log.stat().st_size
    started = time.time()
    run.start(name)
    first = wait_for_faxes(run.sampler, wanted, timeout=180)
    out = sorted(first[OUTPUT[name]].values())
    if len(out) < backlog:
        raise TimeoutError(f"{name} ({mode}): {len(out)} of {backlog} faxes through")
    time.sleep(0.3)  # the log lines of the last batch
    marks = {m: at - started for m, at in log_marks(log, offset).items()}
    assigned = marks.get("assigned", float("nan"))
    return {
        **marks,
        "load1 before": load_before,
        "load1 after": load1(),
        "stop took": stopped_s,
        "down for": started - down_at,
        "first output": out[0] - started,
        "first output after assigned": out[0] - started - assigned,
        "backlog through": out[-1] - started,
        "backlog rate": backlog / max(out[-1] - out[0], 1e-3),
    }


def restarts_table(results: dict[tuple[str, str], dict[str, float]]) -> str:
    loads = [f"{r['load1 before']:.1f} / {r['load1 after']:.1f}" for r in results.values()]
    rows: list[list[object]] = [["load average (1 min) before / after", *loads]]
    lines = {
        "stop took (SIGTERM: graceful stop; SIGKILL: wait)": "stop took",
        "down for (stop -> start)": "down for",
        **{f"start -> {mark}": mark for mark in [*MARKS, "first output"]},
        "assigned -> first output": "first output after assigned",
        "start -> backlog through": "backlog through",
        "backlog rate (faxes/s, first -> last output)": "backlog rate",
    }
    for title, key in lines.items():
        rows.append([title, *(_s(r.get(key)) for r in results.values())])
    return table(["seconds", *(f"{name} {mode}" for name, mode in results)], rows)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def drain(run: Run, n: int) -> dict[str, float]:
    """The downloader stopped while `n` faxes pile up on fax.notified, then started."""
    load_before = load1()
    run.stack.stop_process("downloader")
    wanted, load = run.post(n)
    took = load["elapsed_s"]
    print(f"\ndrain: {load['ok']} of {n} webhooks answered 200 in {took:.1f} s ", end="")
    run.wait_on(FAX_NOTIFIED, wanted, timeout=300)
    print(f"and all {n} are waiting on {FAX_NOTIFIED} (the downloader stopped)")
    log = run.stack.log_file("downloader")
    offset = log.stat().st_size
    started = time.time()
    run.start("downloader")
    pid = run.sampler.pid
    loads: list[tuple[float, float]] = []  # (time, load average) while it drains
    deadline = started + max(600.0, n / 10)
    while True:
        loads.append((time.time(), load1()))
        first = wait_for_faxes(run.sampler, wanted, timeout=1.0)
        if len(first[USER_EVENTS]) == n or time.time() > deadline:
            break
    cpu = cpu_s(pid)
    stored = sorted(first[FAX_STORED].values())
    events = sorted(first[USER_EVENTS].values())
    if len(events) < n:
        raise TimeoutError(f"drain: {len(events)} of {n} faxes through")
    time.sleep(0.3)
    assigned = log_marks(log, offset).get("assigned", float("nan")) - started
    step = max(5, round((events[-1] - started) / 15 / 5) * 5)
    rows, previous = [], 0
    for k in range(step, int(events[-1] - started) + step + 1, step):
        at = started + k
        done = bisect.bisect_right(events, at)
        load_at = [value for t, value in loads if t <= at][-1]
        rows.append([k, bisect.bisect_right(stored, at), done, (done - previous) / step, load_at])
        previous = done
    print(f"downloader started; partitions assigned after {assigned:.2f} s; progress:")
    print(
        table(
            ["s since start", "fax.stored", "user events", "events/s in step", "load average"],
            rows,
        )
    )
    return {
        "load1 before": load_before,
        "load1 after": load1(),
        "assigned": assigned,
        "first stored": stored[0] - started,
        "all stored": stored[-1] - started,
        "all events": events[-1] - started,
        "stored rate": n / max(stored[-1] - stored[0], 1e-3),  # a small drain: one batch
        "events rate": n / max(events[-1] - events[0], 1e-3),
        "events rate from start": n / (events[-1] - started),
        "cpu ms per fax": 1000 * cpu / n,
    }


def check(services: list[str], modes: list[str]) -> None:
    for name in services:
        if name not in INPUT:
            raise SystemExit(f"--services: {name!r} is none of {', '.join(INPUT)}")
    for mode in modes:
        if mode not in MODES:
            raise SystemExit(f"--modes: {mode!r} is none of {', '.join(MODES)}")


def main(
    broker: Broker,
    backlog: int,
    drain_faxes: int,
    steady_faxes: int,
    services: list[str],
    modes: list[str],
    partitions: int,
    extra_env: dict[str, str],
) -> None:
    check(services, modes)
    with tempfile.TemporaryDirectory(prefix="faxrelay-bench-") as tmp:
        directory = Path(tmp)
        stack, settings = bench_stack(directory, broker, 35)
        assert stack.app is not None
        users, url = stack.app.user_ids, f"http://127.0.0.1:{stack.gateway_port}/webhooks/efax"
        load_start = load1()
        try:
            stack.start()
            stack.ensure_topics(partitions)
            with run_in_thread(settings) as sandbox:
                # INFO (the services' default): the restarted service's log says when it got
                # its partitions (aiokafka), and the steady run logs as much as the drain.
                env = BENCH_ENV | {"FAXRELAY_LOG_LEVEL": "INFO", **extra_env}
                start_services(stack, env, services=SERVICES)
                session = env.get("FAXRELAY_KAFKA_SESSION_TIMEOUT_MS", str(SESSION_TIMEOUT_MS))
                print(
                    f"\nrecovery on {broker}, {partitions} partitions, consumer session timeout "
                    f"{session} ms, services logging at {env['FAXRELAY_LOG_LEVEL']}; "
                    f"load average (1 min) {load_start:.2f} at start"
                )
                pids = {name: stack.processes[name].pid for name in SERVICES}
                pids[broker] = stack.processes[stack.broker_process].pid
                pids["seaweedfs"] = stack.processes["seaweedfs"].pid
                pids["bench + sandbox"] = os.getpid()
                sampler = Sampler(stack.bootstrap_servers, users, pids["downloader"])
                sampler.start()
                run = Run(stack, sandbox, sampler, env, url, directory)
                try:
                    print(f"\nsteady: {steady_faxes} faxes through the running pipeline first")
                    steady_load = load1()
                    steady = run_ours(sandbox, sampler, url, directory, steady_faxes, 0, pids)
                    steady["load1"] = steady_load
                    results = {}
                    for k, mode in enumerate(modes):
                        label = mode + (str(modes[:k].count(mode) + 1) if mode in modes[:k] else "")
                        for name in services:
                            results[name, label] = restart(run, name, mode, backlog)
                            print(f"{name} {label}: backlog of {backlog} through", flush=True)
                    if results:
                        print(f"\nrestarts, {backlog} faxes waiting on the input topic; seconds")
                        print("from the process start (Popen) unless said otherwise:")
                        print(restarts_table(results))
                    drained = drain(run, drain_faxes) if drain_faxes else {}
                finally:
                    sampler.stopping.set()
                    sampler.join(10)
                report(broker, steady, results, drained, drain_faxes, load_start)
        finally:
            stack.stop()
            kept = Path(tempfile.gettempdir()) / f"faxrelay-recovery-logs-{broker}-{os.getpid()}"
            shutil.copytree(directory / "logs", kept, dirs_exist_ok=True)
            print(f"services' and broker's logs kept in {kept}")


def report(
    broker: str,
    steady: dict[str, float],
    results: dict[tuple[str, str], dict[str, float]],
    drained: dict[str, float],
    drain_faxes: int,
    load_start: float,
) -> None:
    nan = float("nan")
    summary: dict[str, float] = {}
    if drained:
        rate = steady["faxes_per_s"]
        print(
            "\n"
            + table(
                ["faxes/s (user events)", "faxes", "rate", "load before", "vs steady"],
                [
                    ["steady (pipeline running)", "-", rate, steady["load1"], "-"],
                    [
                        "drain (first -> last event)",
                        drain_faxes,
                        drained["events rate"],
                        drained["load1 before"],
                        f"{drained['events rate'] / rate:.2f}x",
                    ],
                    [
                        "drain (downloader start -> last event)",
                        drain_faxes,
                        drained["events rate from start"],
                        drained["load1 before"],
                        f"{drained['events rate from start'] / rate:.2f}x",
                    ],
                ],
            )
        )
        print(
            f"downloader CPU per fax: {steady['downloader_cpu_ms_per_fax']:.1f} ms steady, "
            f"{drained['cpu ms per fax']:.1f} ms draining (incl. its start)"
        )
        summary |= {
            "drain_faxes": drain_faxes,
            "drain_faxes_per_s": drained["events rate"],
            "drain_from_start_faxes_per_s": drained["events rate from start"],
            "drain_stored_faxes_per_s": drained["stored rate"],
            "steady_faxes_per_s": rate,
            "drain_over_steady": drained["events rate"] / rate,
            "drain_downloader_assigned_s": drained["assigned"],
        }
    for (name, label), r in results.items():
        prefix = f"{name}_{label}"
        summary |= {
            f"{prefix}_assigned_s": r.get("assigned", nan),
            f"{prefix}_first_event_s": r["first output"],
            f"{prefix}_first_event_after_assignment_s": r["first output after assigned"],
            f"{prefix}_backlog_through_s": r["backlog through"],
        }
    summary |= {"load1_start": load_start, "load1_end": load1()}
    line = " ".join(
        f"{k}={v:.0f}" if k == "drain_faxes" else f"{k}={v:.2f}" for k, v in summary.items()
    )
    print(f"\nrecovery summary: broker={broker} " + line, file=sys.stdout, flush=True)
