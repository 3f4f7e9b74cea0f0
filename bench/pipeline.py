"""Pipeline benchmark (issue #5): stored faxes/s end to end (webhook -> gateway -> verifier ->
downloader -> S3 -> router -> user topic) vs a baseline that downloads and stores inside the
webhook handler, one at a time; plus the downloader's memory under load and with 20 MB faxes."""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RecordLog, Result, run_load, table, write_bodies
from faxrelay.localstack import (
    Broker,
    DemoApp,
    LocalStack,
    free_ports,
    start_services,
    wait_for_port,
)
from sandbox import (
    AppConfig,
    Faults,
    RunningSandbox,
    SandboxSettings,
    run_in_thread,
    sign,
)
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    FAX_STORED,
    USER_TOPIC_TEMPLATE,
    WEBHOOK_RECEIVED,
    WEBHOOK_REJECTED,
)

USERS = 20
BUCKET = "faxes-bench"
USER_EVENTS = "user events"
STAGES = [WEBHOOK_RECEIVED, FAX_NOTIFIED, FAX_STORED, USER_EVENTS]
OTHERS = [DOWNLOAD_FAILED, WEBHOOK_REJECTED]
SERVICES = ("gateway", "verifier", "downloader", "router")
RELAY = (*SERVICES, "poller")
"""The five relay services whose CPU per fax is set against the baseline's (issue 20 §3); the
poller lists the users' faxes on eFax beside the webhooks, as in production."""
CPU_OF = "cpu ms per fax: "


@dataclass(frozen=True)
class FaultMode:
    """eFax as it behaves (issue 20): a 429 with `Retry-After` on one image call in
    `throttle_every`, a slow answer on one in `slow_every`, and a token re-issue ending the
    previous token (the sandbox's `new_token_ends_previous`, on in every run)."""

    throttle_every: int = 7
    retry_after_s: int = 1
    slow_every: int = 20
    slow_s: float = 0.5
    rate: float = 20.0
    seconds: float = 10.0

    def faults(self, api_latency_ms: float) -> Faults:
        return Faults(
            fax_delay_s=api_latency_ms / 1000,
            fax_rate_limit_rate=1 / self.throttle_every if self.throttle_every else 0.0,
            retry_after_s=self.retry_after_s,
            fax_slow_rate=1 / self.slow_every if self.slow_every else 0.0,
            fax_slow_s=self.slow_s,
        )


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_table(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    rows = [[name, after[name] - before[name], 100 * (after[name] - before[name]) / seconds]
            for name in before]  # fmt: skip
    return table(["process", "CPU s", "% of one core"], rows)


class Sampler(threading.Thread):
    """Reads every pipeline topic and the users' topics as records arrive (their timestamps
    give each stage's progress) and samples the downloader's RSS every 0.25 s."""

    def __init__(self, bootstrap: str, users: list[str], pid: int) -> None:
        super().__init__(daemon=True)
        self.topics: dict[str, list[str]] = {t: [t] for t in [*STAGES[:3], *OTHERS]}
        self.topics[USER_EVENTS] = [USER_TOPIC_TEMPLATE.format(user_id=u) for u in users]
        self.log = RecordLog(bootstrap, [t for ts in self.topics.values() for t in ts])
        self.pid = pid
        self.rss: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.log.poll(100)
                if not self.rss or time.time() - self.rss[-1][0] >= 0.25:
                    with contextlib.suppress(FileNotFoundError, KeyError):  # a restart
                        self.rss.append((time.time(), memory_kb(self.pid)["VmRSS"]))
        finally:
            self.log.close()

    def counts(self) -> dict[str, int]:
        return {stage: self.log.count(topics) for stage, topics in self.topics.items()}

    def stamps(self, stage: str, since: float) -> list[float]:
        """Record timestamps (s) of `stage` from `since` (a wall-clock time) on, sorted."""
        every = (s / 1000 for t in self.topics[stage] for s in self.log.stamps[t])
        return sorted(s for s in every if s >= since)

    def wait_for(self, stage: str, count: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while self.counts()[stage] < count:
            if time.time() > deadline:
                raise TimeoutError(f"pipeline did not finish in {timeout} s: {self.counts()}")
            time.sleep(0.05)


def notification_bodies(sandbox: RunningSandbox, faxes: list[Any]) -> list[list[str]]:
    """The exact signed bodies eFax would post for `faxes` (sent by us, not the sandbox)."""
    bodies = []
    for fax in faxes:
        notification = sandbox.sandbox.sender.fax_notification(fax)
        assert notification is not None
        body = notification.body
        bodies.append([body.decode(), sign(notification.secret, body)])
    return bodies


def inject_and_wait(
    sandbox: RunningSandbox,
    sampler: Sampler,
    url: str,
    directory: Path,
    faxes: list[Any],
    timeout: float,
) -> tuple[Result, dict[str, int]]:
    """POST the faxes' webhooks as fast as the gateway takes them; wait for every user event."""
    before = sampler.counts()
    bodies_file = write_bodies(notification_bodies(sandbox, faxes), directory)
    load = run_load(url, bodies_file, rate=0, seconds=0, connections=32, once=True)
    sampler.wait_for(USER_EVENTS, before[USER_EVENTS] + len(faxes), timeout)
    time.sleep(0.5)  # late failures or duplicates would show up now
    return load, before


def progress_table(sampler: Sampler, t0: float, end: float) -> str:
    """Per-stage progress (records since the first webhook), one row per second."""
    stamps = {stage: sampler.stamps(stage, t0 - 0.01) for stage in STAGES}
    rows = []
    steps = int(end - t0) + 1
    for k in range(1, steps + 1):
        at = min(t0 + k, end)
        row: list[object] = [f"{at - t0:.1f}"]
        row += [bisect.bisect_right(stamps[stage], at) for stage in STAGES]
        rss = [kb for t, kb in sampler.rss if t <= at]
        row.append(rss[-1] // 1024 if rss else None)
        rows.append(row)
    headers = ["t s", "webhook.received", "fax.notified", "fax.stored", "user events"]
    return table([*headers, "downloader RSS MB"], rows)


# the services' settings of every bench run (before --env), over the stack's environment
BENCH_ENV = {
    "FAXRELAY_S3_BUCKET": BUCKET,
    "FAXRELAY_KAFKA_SESSION_TIMEOUT_MS": "6000",
    "FAXRELAY_LOG_LEVEL": "WARNING",
    # the bench posts every webhook from one address, eFax from many: without this the gateway
    # answers 429 past its per-source burst (500) and the run waits for faxes that never came
    "FAXRELAY_GATEWAY_RATE_LIMIT_PER_S": "0",
}


def bench_stack(
    directory: Path, broker: Broker, page_kb: int
) -> tuple[LocalStack, SandboxSettings]:
    """The local stack as `faxrelay up` configures it, with its demo App of USERS users (none
    polled: the bench posts the webhooks, faxes made with deliver=False), and the sandbox that
    plays eFax for it."""
    app = DemoApp(user_ids=[str(uuid.uuid4()) for _ in range(USERS)], polled=0)
    stack = LocalStack(directory, persistent=False, broker=broker, app=app)
    stack.assign_ports()  # first, so that the sandbox's and the gateway's ports are none of them
    sandbox_port, stack.gateway_port = free_ports(2, avoid=stack.ports.values())
    stack.efax_url = f"http://127.0.0.1:{sandbox_port}"
    webhook_url = f"http://127.0.0.1:{stack.gateway_port}/webhooks/efax"
    settings = SandboxSettings(
        port=sandbox_port,
        apps=[AppConfig(**app.sandbox_app(webhook_url))],
        time_scale=0.002,
        page_kb=page_kb,
        unique_documents=False,
        seed=1,
    )
    return stack, settings


def main(
    faxes: int,
    baseline_faxes: int,
    page_kb: int,
    partitions: int,
    big_faxes: int,
    extra_env: dict[str, str],
    api_latency_ms: float = 0.0,
    downloaders: int = 1,
    broker: Broker = "tansu",
    exactly_once: bool = False,
    latency_rate: float = 50.0,
    latency_seconds: float = 10.0,
    fault_mode: FaultMode | None = FaultMode(),  # frozen: never changed
) -> None:
    """`api_latency_ms` slows every eFax fax call of the sandbox, as a real API over the internet
    would be; on loopback the sandbox answers in about a millisecond. After the throughput run,
    `latency_rate` faxes/s are offered for `latency_seconds` (0: no latency run); then, unless
    `fault_mode` is None, the same latency run against an eFax that throttles (`FaultMode`)."""
    if exactly_once and broker != "kafka":
        raise SystemExit("--exactly-once needs --broker kafka (Tansu has no transactions)")
    with tempfile.TemporaryDirectory(prefix="faxrelay-bench-") as tmp:
        directory = Path(tmp)
        stack, settings = bench_stack(directory, broker, page_kb)
        assert stack.app is not None
        users, url = stack.app.user_ids, f"http://127.0.0.1:{stack.gateway_port}/webhooks/efax"
        (baseline_port,) = free_ports(1, avoid=[*stack.ports.values(), settings.port])
        try:
            stack.start()
            stack.ensure_topics(partitions)
            with run_in_thread(settings) as sandbox:
                if api_latency_ms:
                    sandbox.set_faults(Faults(fax_delay_s=api_latency_ms / 1000))
                    print(f"\neFax API latency emulated: {api_latency_ms:.0f} ms per fax call")
                env = BENCH_ENV | {"FAXRELAY_KAFKA_EXACTLY_ONCE": str(exactly_once).lower()}
                env |= extra_env
                start_services(stack, env, services=RELAY)
                for copy in range(2, downloaders + 1):  # more copies in the same group
                    stack.spawn(
                        f"downloader-{copy}",
                        [sys.executable, "-m", "services.downloader"],
                        {**stack.service_env(), **env},
                    )
                if downloaders > 1:
                    print(f"\n{downloaders} downloader copies in one consumer group")
                downloader = stack.processes["downloader"].pid
                print(f"\nbroker: {broker}, exactly-once {'on' if exactly_once else 'off'}")
                names = [*RELAY, *(f"downloader-{c}" for c in range(2, downloaders + 1))]
                pids = {name: stack.processes[name].pid for name in names}
                pids[broker] = stack.processes[stack.broker_process].pid
                pids["seaweedfs"] = stack.processes["seaweedfs"].pid
                pids["bench + sandbox"] = os.getpid()
                sampler = Sampler(stack.bootstrap_servers, users, downloader)
                sampler.start()
                try:
                    ours = run_ours(sandbox, sampler, url, directory, faxes, big_faxes, pids)
                    if latency_seconds > 0:
                        count = int(latency_rate * latency_seconds)
                        latency = run_latency(sandbox, sampler, url, directory, latency_rate, count)
                        ours.update(latency)
                    if fault_mode is not None and fault_mode.seconds > 0:
                        ours.update(
                            run_faults(sandbox, sampler, url, directory, fault_mode, api_latency_ms)
                        )
                    if big_faxes:
                        ours["rss_mb_per_20mb_fax"] = run_big(
                            sandbox, sampler, url, directory, big_faxes, downloader
                        )
                finally:
                    sampler.stopping.set()
                    sampler.join(10)
                stack.stop_process("poller")  # the baseline runs without our pipeline busy
                stack.stop_process("verifier")
                stack.stop_process("router")
                stack.stop_process("downloader")
                stack.stop_process("gateway")
                base, base_cpu_ms = run_baseline(
                    stack, sandbox, baseline_port, stack.app, directory, baseline_faxes
                )
                rate = ours["faxes_per_s"]
                print("\n" + cpu_per_fax_table(ours, base_cpu_ms))
                print("\n" + table(
                    ["pipeline", "faxes", "stored faxes/s", "ours / this"],
                    [["ours (4 services, end to end)", faxes, rate, "-"],
                     ["baseline (in the handler, one at a time)", baseline_faxes, base,
                      f"{rate / base:.1f}x"]],
                ))  # fmt: skip
                summary = {
                    "faxes_per_s": rate,
                    "p50_ms": ours.get("p50_ms", float("nan")),
                    "p99_ms": ours.get("p99_ms", float("nan")),
                    "baseline_faxes_per_s": base,
                    "downloader_cpu_ms_per_fax": ours["downloader_cpu_ms_per_fax"],
                    "baseline_cpu_ms_per_fax": base_cpu_ms,
                    "cpu_ms_per_fax": ours["cpu_ms_per_fax"],
                    "rss_mb_per_20mb_fax": ours.get("rss_mb_per_20mb_fax", float("nan")),
                    "stored_p50_ms": ours.get("stored_p50_ms", float("nan")),
                    "stored_p99_ms": ours.get("stored_p99_ms", float("nan")),
                    "faults_stored_p50_ms": ours.get("faults_stored_p50_ms", float("nan")),
                    "faults_stored_p99_ms": ours.get("faults_stored_p99_ms", float("nan")),
                }
                if exactly_once and latency_seconds > 0:
                    summary["eos_p50_ms"] = summary["p50_ms"]  # at `latency_rate` (`bench eos`)
                print("\npipeline summary: " + " ".join(f"{k}={v:.1f}" for k, v in summary.items()))
        finally:
            stack.stop()


def run_ours(
    sandbox: RunningSandbox,
    sampler: Sampler,
    url: str,
    directory: Path,
    n: int,
    big: int,
    pids: dict[str, int],
) -> dict[str, float]:
    """The throughput run: `n` faxes posted as fast as the gateway takes them."""
    downloader = pids["downloader"]
    warm = sandbox.create_faxes(count=USERS, deliver=False)  # consumer groups, user topics
    inject_and_wait(sandbox, sampler, url, directory, warm, timeout=180)
    idle = memory_kb(downloader)
    print(f"warm-up: {USERS} faxes through; downloader RSS {idle['VmRSS'] // 1024} MB")

    batch = sandbox.create_faxes(count=n, deliver=False)
    cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
    load, before = inject_and_wait(sandbox, sampler, url, directory, batch, timeout=600)
    wanted = {str(f.fax_id) for f in batch}
    # by fax id, not by record count: with exactly-once a reader that cannot read_committed
    # (kafka-python-ng) also sees aborted records and transaction markers
    firsts = wait_for_faxes(sampler, wanted, timeout=120)
    cpu_after = {name: cpu_s(pid) for name, pid in pids.items()}
    after = sampler.counts()
    t0: float = load["t0_unix"]
    ends = [max(firsts[stage].values()) - t0 for stage in STAGES]
    total_s = ends[-1]
    loaded = memory_kb(downloader)
    size = len(sandbox.document(batch[0].fax_id))
    print(f"\nours: {n} faxes of {size // 1024} KB (2 pages); webhooks taken in ", end="")
    print(
        f"{load['elapsed_s']:.2f} s ({load['ok']} x 200, {load['non200'] + load['errors']} other)"
    )
    extra = {s: after[s] - before[s] - (0 if s in OTHERS else n) for s in [*STAGES, *OTHERS]}
    print(f"  records beyond one per fax (duplicates, failures, rejections): {extra}")
    print("\nprogress (records since the first webhook, from record timestamps):")
    print(progress_table(sampler, t0, t0 + total_s))
    print("\n" + table(
        ["", "webhook.received", "fax.notified", "fax.stored", "user events"],
        [["all in after (s)", *ends], ["stage rate (faxes/s)", *(n / e for e in ends)]],
    ))  # fmt: skip

    print(f"\nCPU while the {n} faxes went through (incl. 0.5 s settling):")
    print(cpu_table(cpu_before, cpu_after, total_s + 0.5))
    downloaders = [name for name in pids if name.startswith("downloader")]
    downloader_cpu = sum(cpu_after[d] - cpu_before[d] for d in downloaders)
    relay = [name for name in pids if name.split("-")[0] in RELAY]
    per_service = {CPU_OF + name: 1000 * (cpu_after[name] - cpu_before[name]) / n for name in relay}
    print("\ndownloader memory (MB):")
    print(table(["when", "VmRSS", "VmHWM (peak)"], [
        ["after warm-up", idle["VmRSS"] // 1024, idle["VmHWM"] // 1024],
        [f"after {n} faxes", loaded["VmRSS"] // 1024, loaded["VmHWM"] // 1024],
    ]))  # fmt: skip
    return {
        "faxes_per_s": n / total_s,
        "downloader_cpu_ms_per_fax": 1000 * downloader_cpu / n,
        "cpu_ms_per_fax": sum(per_service.values()),
        **per_service,
    }


def cpu_per_fax_table(ours: dict[str, float], baseline_ms: float) -> str:
    """CPU per fax of each relay service and of the five together, beside the baseline's (one
    process that downloads and stores in the webhook handler). CPU time per fax hardly moves
    with the machine's load; latency does."""
    rows: list[list[object]] = [
        [name.removeprefix(CPU_OF), ms, "-"] for name, ms in ours.items() if name.startswith(CPU_OF)
    ]
    total = ours["cpu_ms_per_fax"]
    rows.append(["the relay services together", total, f"{total / baseline_ms:.2f}x"])
    rows.append(["baseline (in the handler)", baseline_ms, "1.00x"])
    return table(["CPU per fax", "ms", "/ baseline"], rows)


def first_stamps(sampler: Sampler, wanted: set[str]) -> dict[str, dict[str, float]]:
    """Per stage, the first record timestamp (s) of each wanted fax."""
    first: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        seen: dict[str, float] = {}
        for topic in sampler.topics[stage]:
            for fax_id, stamp in list(sampler.log.ids[topic]):
                if fax_id in wanted and fax_id not in seen:
                    seen[fax_id] = stamp / 1000
        first[stage] = seen
    return first


def wait_for_faxes(
    sampler: Sampler, wanted: set[str], timeout: float
) -> dict[str, dict[str, float]]:
    deadline = time.time() + timeout
    while True:
        first = first_stamps(sampler, wanted)
        if all(len(first[stage]) == len(wanted) for stage in STAGES) or time.time() > deadline:
            return first
        time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def run_latency(
    sandbox: RunningSandbox,
    sampler: Sampler,
    url: str,
    directory: Path,
    rate: float,
    n: int,
) -> dict[str, float]:
    """`n` faxes offered at `rate`/s; per fax, webhook POST (its due time: no coordinated
    omission) to each stage's record timestamp, so the slow hop shows."""
    faxes = sandbox.create_faxes(count=n, deliver=False)
    bodies_file = write_bodies(notification_bodies(sandbox, faxes), directory)
    before = sampler.counts()
    load = run_load(url, bodies_file, rate=rate, seconds=0, connections=8, once=True)
    sampler.wait_for(USER_EVENTS, before[USER_EVENTS] + n, timeout=120)
    due = {str(f.fax_id): load["t0_unix"] + i / rate for i, f in enumerate(faxes)}
    first = wait_for_faxes(sampler, set(due), timeout=60)
    done = [f for f in due if all(f in first[stage] for stage in STAGES)]
    hops = {"POST -> webhook.received": [first[WEBHOOK_RECEIVED][f] - due[f] for f in done]}
    for a, b in itertools.pairwise(STAGES):
        hops[f"{a} -> {b}"] = [first[b][f] - first[a][f] for f in done]
    hops["POST -> user event (end to end)"] = [first[USER_EVENTS][f] - due[f] for f in done]
    print(f"\nlatency: {n} faxes offered at {rate:.0f}/s ({load['ok']} x 200, ", end="")
    print("gateway answer ", end="")
    print(f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms); per hop, record timestamps:")
    rows = [[hop, *(1000 * percentile(v, q) for q in (50, 90, 99)), 1000 * max(v, default=0)]
            for hop, v in hops.items()]  # fmt: skip
    print(table(["hop", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows))
    end_to_end = hops["POST -> user event (end to end)"]
    stored = hops[f"{FAX_NOTIFIED} -> {FAX_STORED}"]
    return {
        "p50_ms": 1000 * percentile(end_to_end, 50),
        "p99_ms": 1000 * percentile(end_to_end, 99),
        "stored_p50_ms": 1000 * percentile(stored, 50),
        "stored_p99_ms": 1000 * percentile(stored, 99),
    }


def run_faults(
    sandbox: RunningSandbox,
    sampler: Sampler,
    url: str,
    directory: Path,
    mode: FaultMode,
    api_latency_ms: float,
) -> dict[str, float]:
    """The latency run again, eFax throttling and answering slowly now and then (`FaultMode`):
    `fax.notified` -> `fax.stored` is where a fax told to wait shows, and whether it holds
    others."""
    sandbox.set_faults(mode.faults(api_latency_ms))
    before = sandbox.stats()
    print(
        f"\nfault mode: 429 (Retry-After {mode.retry_after_s} s) on one eFax fax call in "
        f"{mode.throttle_every}, {1000 * mode.slow_s:.0f} ms slower on one in {mode.slow_every}, "
        "a token re-issue ends the previous token"
    )
    try:
        result = run_latency(
            sandbox, sampler, url, directory, mode.rate, int(mode.rate * mode.seconds)
        )
    finally:
        sandbox.set_faults(Faults(fax_delay_s=api_latency_ms / 1000))
    after = sandbox.stats()
    injected = {k: after.get(k, 0) - before.get(k, 0) for k in ("injected_rate_limit",)}
    print(f"  injected: {injected}")
    return {f"faults_{k}": v for k, v in result.items()}


def run_big(
    sandbox: RunningSandbox, sampler: Sampler, url: str, directory: Path, big: int, pid: int
) -> float:
    """`big` faxes of 20 MB at once: the downloader's peak RSS above its RSS before, per fax."""
    heavy = sandbox.create_faxes(count=big, deliver=False, size_mb=20)
    size = len(sandbox.document(heavy[0].fax_id))
    before = memory_kb(pid)
    big_load, _ = inject_and_wait(sandbox, sampler, url, directory, heavy, timeout=600)
    took = time.time() - big_load["t0_unix"]
    after = memory_kb(pid)
    print(f"\n{big} faxes of {size / 2**20:.1f} MB stored and routed within {took:.1f} s")
    print(table(["when", "VmRSS MB", "VmHWM (peak) MB"], [
        ["before the 20 MB faxes", before["VmRSS"] // 1024, before["VmHWM"] // 1024],
        [f"after {big} x 20 MB", after["VmRSS"] // 1024, after["VmHWM"] // 1024],
    ]))  # fmt: skip
    return (after["VmHWM"] - before["VmRSS"]) / 1024 / big


def run_baseline(
    stack: LocalStack,
    sandbox: RunningSandbox,
    port: int,
    app: DemoApp,
    directory: Path,
    n: int,
) -> tuple[float, float]:
    argv = [sys.executable, "-m", "bench.servers", "baseline", "--port", str(port)]
    argv += ["--sandbox", sandbox.base_url, "--app-id", app.app_id, "--api-key", app.api_key]
    argv += ["--s3", stack.s3_endpoint, "--bucket", "bench-baseline"]
    process = stack.spawn("baseline", argv)
    wait_for_port(port, 30, process)
    url = f"http://127.0.0.1:{port}/webhooks/efax"
    warm = sandbox.create_faxes(count=10, deliver=False)
    warm_file = write_bodies(notification_bodies(sandbox, warm), directory)
    run_load(url, warm_file, rate=0, seconds=0, connections=8, once=True)
    batch = sandbox.create_faxes(count=n, deliver=False)
    bodies_file = write_bodies(notification_bodies(sandbox, batch), directory)
    cpu_before = cpu_s(process.pid)
    load = run_load(url, bodies_file, rate=0, seconds=0, connections=8, once=True)
    cpu_ms_per_fax = 1000 * (cpu_s(process.pid) - cpu_before) / n
    stored = sum(1 for _ in stack.minio().list_objects("bench-baseline", recursive=True))
    print(
        f"\nbaseline: {load['ok']} of {n} faxes answered 200 in {load['elapsed_s']:.2f} s; ", end=""
    )
    print(f"{stored - 10} objects stored (plus 10 warm-up); {cpu_ms_per_fax:.1f} ms CPU per fax")
    return float(load["ok"]) / float(load["elapsed_s"]), cpu_ms_per_fax
