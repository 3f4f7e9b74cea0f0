"""`python -m bench [gateway|pipeline|eos|recovery|hop|understand|all|smoke]`: throughput and
latency against baselines, restarts and backlog drains, one Kafka hop, what the reader
understands of sandbox faxes. `smoke` runs every benchmark once with
tiny settings on Tansu (about a minute; its figures mean nothing), so none can rot unseen."""

from __future__ import annotations

import argparse
import signal
import sys

from bench import gateway, hop, pipeline, reader_stage, recovery, understand


def main() -> None:
    # A SIGTERM (timeout, CI) unwinds like Ctrl-C, so every process the stack started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    g = sub.add_parser("gateway", help="webhooks/s and latency: ours vs naive vs no-op")
    g.add_argument("--rates", default="1000,2000,5000,0", help="offered rates; 0 = open loop")
    g.add_argument("--seconds", type=float, default=5.0, help="per point")
    g.add_argument("--connections", type=int, default=64)
    g.add_argument("--targets", default="gateway,naive,noop")
    g.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        help="passed to `bench.servers gateway`, e.g. --gateway-arg=--linger-ms=5",
    )
    p = sub.add_parser("pipeline", help="stored faxes/s end to end vs a sequential baseline")
    p.add_argument("--faxes", type=int, default=1000)
    p.add_argument("--baseline-faxes", type=int, default=200)
    p.add_argument("--page-kb", type=int, default=35)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--big-faxes", type=int, default=4, help="20 MB faxes for the RSS check")
    p.add_argument("--downloaders", type=int, default=1, help="downloader copies")
    p.add_argument(
        "--api-latency-ms", type=float, default=0.0, help="emulated eFax latency per fax call"
    )
    p.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    p.add_argument(
        "--exactly-once", action="store_true", help="FAXRELAY_KAFKA_EXACTLY_ONCE (Kafka only)"
    )
    p.add_argument("--latency-rate", type=float, default=50.0, help="faxes/s of the latency run")
    p.add_argument(
        "--latency-seconds", type=float, default=10.0, help="length of the latency run (0: none)"
    )
    p.add_argument(
        "--env", action="append", default=[], help="FAXRELAY_X=Y for the services (repeatable)"
    )
    p.add_argument(
        "--fault-seconds", type=float, default=10.0, help="length of the fault run (0: none)"
    )
    p.add_argument("--fault-rate", type=float, default=20.0, help="faxes/s of the fault run")
    p.add_argument("--fault-throttle-every", type=int, default=7, help="a 429 on one call in N")
    p.add_argument("--fault-retry-after-s", type=int, default=1, help="the 429s' Retry-After")
    p.add_argument("--fault-slow-every", type=int, default=20, help="a slow answer on one in M")
    p.add_argument("--fault-slow-ms", type=float, default=500.0, help="how much slower")
    r = sub.add_parser("recovery", help="restart -> first event, and a backlog's drain rate")
    r.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    r.add_argument("--backlog", type=int, default=200, help="faxes waiting at each restart")
    r.add_argument(
        "--drain-faxes", type=int, default=2000, help="faxes waiting on fax.notified (0: none)"
    )
    r.add_argument("--steady-faxes", type=int, default=1000, help="the steady run first")
    r.add_argument("--services", default="router,verifier,downloader", help="restarted, in turn")
    r.add_argument(
        "--modes",
        default="graceful,graceful,kill",
        help="graceful (SIGTERM), kill (SIGKILL), in turn; a repeat is labelled graceful2",
    )
    r.add_argument("--partitions", type=int, default=6)
    r.add_argument(
        "--env", action="append", default=[], help="FAXRELAY_X=Y for the services (repeatable)"
    )
    h = sub.add_parser("hop", help="one Kafka hop: aiokafka vs FastStream's batch vs ours")
    h.add_argument("--broker", choices=["tansu", "kafka"], default="kafka")
    h.add_argument("--rate", type=float, default=20.0, help="records/s")
    h.add_argument("--records", type=int, default=200)
    e = sub.add_parser("eos", help="webhook -> event p50 on Apache Kafka, exactly-once on, 20/s")
    e.add_argument("--seconds", type=float, default=10.0, help="length of the 20/s run")
    rd = sub.add_parser("reader", help="the reader stage: pages/s vs the engine, stored -> read")
    rd.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    rd.add_argument("--backlog", type=int, default=20, help="1-page faxes for pages/s")
    rd.add_argument("--faxes", type=int, default=20, help="steady faxes for the latency")
    rd.add_argument("--rate", type=float, default=0.5, help="faxes/s, below capacity")
    u = sub.add_parser("understand", help="document types, fields, splits of sandbox faxes")
    u.add_argument("--faxes", type=int, default=240, help="sandbox faxes of 1 to 6 pages")
    u.add_argument("--seed", type=int, default=5000, help="content seed of the first fax")
    u.add_argument("--no-ocr", action="store_true", help="exact ground-truth text only")
    sub.add_parser("smoke", help="every benchmark once, tiny settings (CI; figures not judged)")
    args = parser.parse_args()
    command = args.command or "all"
    if command == "smoke":
        smoke()
        return
    if command in ("gateway", "all"):
        if command == "all":
            rates, seconds, connections = [1000.0, 2000.0, 5000.0, 0.0], 5.0, 64
            targets, gateway_args = ["gateway", "gateway-2w", "naive", "noop"], []
        else:
            rates = [float(r) for r in args.rates.split(",")]
            seconds, connections = args.seconds, args.connections
            targets, gateway_args = args.targets.split(","), args.gateway_arg
        gateway.main(rates, seconds, connections, targets, gateway_args)
    if command in ("pipeline", "all"):
        if command == "all":
            # with the two downloader copies that compose ships
            pipeline.main(1000, 200, 35, 6, 4, {}, downloaders=2)
            # the same against an API 100 ms away, as eFax is from a data centre
            pipeline.main(500, 40, 35, 6, 0, {}, api_latency_ms=100, downloaders=2)
        else:
            env = dict(e.split("=", 1) for e in args.env)
            pipeline.main(
                args.faxes,
                args.baseline_faxes,
                args.page_kb,
                args.partitions,
                args.big_faxes,
                env,
                api_latency_ms=args.api_latency_ms,
                downloaders=args.downloaders,
                broker=args.broker,
                exactly_once=args.exactly_once,
                latency_rate=args.latency_rate,
                latency_seconds=args.latency_seconds,
                fault_mode=pipeline.FaultMode(
                    throttle_every=args.fault_throttle_every,
                    retry_after_s=args.fault_retry_after_s,
                    slow_every=args.fault_slow_every,
                    slow_s=args.fault_slow_ms / 1000,
                    rate=args.fault_rate,
                    seconds=args.fault_seconds,
                ),
            )

    if command == "eos":  # not in "all" nor the default pipeline run: a Kafka stack of its own
        pipeline.main(100, 20, 35, 6, 0, {}, broker="kafka", exactly_once=True, latency_rate=20.0,
                      latency_seconds=args.seconds, fault_mode=None)  # fmt: skip

    if command == "reader":  # not in "all": minutes of OCR
        reader_stage.main(args.broker, args.backlog, args.faxes, args.rate)

    if command in ("understand", "all"):
        if command == "all":
            understand.main(240, 5000)
        else:
            understand.main(args.faxes, args.seed, ocr=not args.no_ocr)

    if command in ("hop", "all"):
        if command == "all":
            hop.main("kafka", 20.0, 200)
            hop.main("tansu", 20.0, 200)
        else:
            hop.main(args.broker, args.rate, args.records)

    if command in ("recovery", "all"):
        if command == "all":
            recovery.main("tansu", 200, 1000, 500, ["router", "verifier", "downloader"],
                          ["graceful", "graceful", "kill"], 6, {})  # fmt: skip
        else:
            recovery.main(
                args.broker,
                args.backlog,
                args.drain_faxes,
                args.steady_faxes,
                [name for name in args.services.split(",") if name],
                [mode for mode in args.modes.split(",") if mode],
                args.partitions,
                dict(e.split("=", 1) for e in args.env),
            )


def smoke() -> None:
    """Every benchmark end to end with the smallest settings that still run each of its steps."""
    gateway.main([100.0, 0.0], 1.0, 4, ["gateway", "noop"], [])
    pipeline.main(20, 5, 5, 2, 1, {}, latency_rate=10.0, latency_seconds=1.0)
    hop.main("tansu", 50.0, 20)
    recovery.main("tansu", 5, 10, 10, ["router"], ["graceful"], 2, {})
    understand.main(6, 5000)


if __name__ == "__main__":
    main()
