"""Gateway benchmark (issue #4): accepted webhooks/s and latency, ours vs a naive receiver vs a
no-op endpoint, all on uvicorn, at fixed offered rates and open loop, in one run."""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

from bench.common import (
    Result,
    count_records,
    have_wrk,
    run_load,
    run_wrk,
    signed,
    table,
    webhook_body,
    write_bodies,
)
from faxrelay.localstack import LocalStack, free_ports, wait_for_port
from shared.contracts import WEBHOOK_RECEIVED
from shared.kafka import KafkaAdmin

NAIVE_TOPIC = "bench.naive"
PARTITIONS = 6


def run(
    rates: list[float],
    seconds: float,
    connections: int,
    targets: list[str],
    gateway_args: list[str],
) -> list[tuple[str, float, Result]]:
    with tempfile.TemporaryDirectory(prefix="faxrelay-bench-") as tmp:
        directory = Path(tmp)
        stack = LocalStack(directory, persistent=False)  # Tansu, memory storage
        try:
            stack.start()  # as `faxrelay up` does
            stack.ensure_topics(PARTITIONS)
            admin = KafkaAdmin(stack.client_settings())
            admin.ensure_topics([NAIVE_TOPIC], PARTITIONS, 1)
            admin.close()
            urls = {}
            ports = free_ports(len(targets), avoid=stack.ports.values())
            for target, port in zip(targets, ports, strict=True):
                argv = [sys.executable, "-m", "bench.servers", target, "--port", str(port)]
                argv += ["--bootstrap", stack.bootstrap_servers]
                # every server gets the services' environment as `faxrelay up` gives it (on
                # Tansu: no idempotent producer, which it cannot serve)
                env = stack.service_env()
                if target == "gateway":
                    argv += gateway_args
                if target == "gateway-2w":  # the real entry point, two worker processes
                    argv = [sys.executable, "-m", "services.gateway"]
                    env |= {
                        "FAXRELAY_GATEWAY_PORT": str(port),
                        "FAXRELAY_GATEWAY_WORKERS": "2",
                        "FAXRELAY_GATEWAY_RATE_LIMIT_PER_S": "0",  # one source, on purpose
                    }
                process = stack.spawn(target, argv, env)
                wait_for_port(port, 30, process)
                urls[target] = f"http://127.0.0.1:{port}/webhooks/efax"
            secret, app_id = "bench-secret", str(uuid.uuid4())
            bodies = signed(
                secret,
                (
                    webhook_body(app_id, str(uuid.uuid4()), str(uuid.uuid4()), "https://efax")
                    for _ in range(64)
                ),
            )
            bodies_file = write_bodies(bodies, directory)
            warm_ok = 0
            for target, url in urls.items():  # warm up: connections, broker metadata
                warm = run_load(url, bodies_file, rate=200, seconds=1, connections=8)
                warm_ok += warm["ok"] if target.startswith("gateway") else 0
            results: list[tuple[str, float, Result]] = []
            for rate in rates:
                for target, url in urls.items():
                    if rate > 0:
                        result = run_load(
                            url, bodies_file, rate=rate, seconds=seconds, connections=connections
                        )
                    elif have_wrk():
                        result = run_wrk(url, bodies, seconds=seconds, connections=connections)
                    else:
                        result = run_load(
                            url, bodies_file, rate=0, seconds=seconds, connections=connections
                        )
                    results.append((target, rate, result))
                    print(f"  {target:>13} @ {rate or 'max'}: {result['per_s']:,.0f}/s", flush=True)
            if any(t.startswith("gateway") for t in urls):
                accepted = warm_ok + sum(r["ok"] for t, _, r in results if t.startswith("gateway"))
                recorded = count_records(stack.bootstrap_servers, WEBHOOK_RECEIVED)
                print(f"\ngateway: {accepted:,} answered 200, ", end="")
                print(f"{recorded:,} records on {WEBHOOK_RECEIVED} (wrk stops with up to")
                print(f"  {connections} requests in flight: published, never counted as 200)")
            return results
        finally:
            stack.stop()
            for name in [*targets, "tansu", "seaweedfs"]:
                log = stack.log_file(name)
                text = log.read_text(errors="replace").strip() if log.exists() else ""
                if text:
                    print(f"----- {name} log (tail) -----\n" + "\n".join(text.splitlines()[-15:]))


def report(results: list[tuple[str, float, Result]]) -> str:
    rows = []
    by_rate: dict[float, dict[str, Result]] = {}
    for target, rate, r in results:
        by_rate.setdefault(rate, {})[target] = r
    for target, rate, r in results:
        peers = by_rate[rate]
        ours = peers.get("gateway")
        ratio = ours["per_s"] / r["per_s"] if ours and r["per_s"] else None
        rows.append(
            [
                f"{rate:,.0f}/s" if rate else "max (open loop)",
                target,
                r["tool"],
                r["per_s"],
                r["ok"],
                r["non200"] + r["errors"],
                r["unsent"],
                r["p50_ms"],
                r["p99_ms"],
                None if target == "gateway" or ratio is None else f"{ratio:.2f}x",
            ]
        )
    headers = ["offered", "server", "client", "accepted/s", "200s", "non-200/err", "unsent"]
    headers += ["p50 ms", "p99 ms", "gateway / this"]
    return table(headers, rows)


def main(
    rates: list[float],
    seconds: float,
    connections: int,
    targets: list[str],
    gateway_args: list[str],
) -> None:
    print(f"gateway benchmark: {seconds:g} s per point, {connections} connections", flush=True)
    results = run(rates, seconds, connections, targets, gateway_args)
    print()
    print(report(results))
    print("\n" + summary(results))


def summary(results: list[tuple[str, float, Result]]) -> str:
    """One line, as the other benchmarks end: the most each server accepted per second at any
    point of the run, and the gateway's latency at the highest fixed rate."""
    best: dict[str, float] = {}
    for target, _, r in results:
        best[target] = max(best.get(target, 0.0), r["per_s"])
    fixed = [(rate, r) for target, rate, r in results if target == "gateway" and rate > 0]
    nan = float("nan")
    rate, at_rate = max(fixed, key=lambda pair: pair[0]) if fixed else (nan, {})
    fields = {
        "gateway_per_s": best.get("gateway", nan),
        "noop_per_s": best.get("noop", nan),
        "fixed_rate": rate,
        "gateway_p50_ms": at_rate.get("p50_ms", nan),
        "gateway_p99_ms": at_rate.get("p99_ms", nan),
    }
    return "gateway summary: " + " ".join(f"{k}={v:.1f}" for k, v in fields.items())
