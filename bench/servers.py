"""The servers under test, each in its own process: `python -m bench.servers KIND --port P ...`.

gateway   our gateway, exactly as `python -m services.gateway` builds it (create_app + uvicorn),
          its settings from the environment the bench gives it (the local stack's);
          `--linger-ms`, `--http`, `--loop` and `--workers` try changes without editing services/
naive     Starlette endpoint, kafka-python-ng KafkaProducer(acks="all"), `.send(...).get()` per
          request, blocking the event loop (one delivery at a time)
naive-threads  the same send in Starlette's thread pool (what a sync FastAPI endpoint does)
noop      plain ASGI answering 200 {"status":"SUCCESS"}: the ceiling of the server stack
baseline  pipeline baseline: per webhook, fetch the image from eFax, decode, put it in S3, 200;
          one webhook at a time
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging
from typing import Any

import httpx
import uvicorn
from faststream.kafka import KafkaBroker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faxrelay.localstack import ACCESS_KEY, SECRET_KEY
from services.gateway.app import create_app
from services.gateway.asgi import Gateway
from services.gateway.settings import GatewaySettings
from shared.kafka import producer_options

WEBHOOK_PATH = "/webhooks/efax"
Scope = dict[str, Any]
SUCCESS = b'{"status":"SUCCESS"}'


async def noop_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(SUCCESS))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": SUCCESS})


def naive_app(bootstrap: str, topic: str, threads: bool) -> Starlette:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def publish(body: bytes) -> None:
        key = str(json.loads(body).get("fax_id", "")).encode() or None
        producer.send(topic, value=body, key=key).get(timeout=10)

    async def webhook(request: Request) -> Response:
        body = await request.body()
        if threads:
            await run_in_threadpool(publish, body)
        else:
            publish(body)
        return JSONResponse({"status": "SUCCESS"})

    return Starlette(routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"])])


def baseline_app(sandbox_url: str, app_id: str, api_key: str, s3: str, bucket: str) -> Starlette:
    from minio import Minio

    minio = Minio(s3, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
    if not minio.bucket_exists(bucket):
        minio.make_bucket(bucket)
    http = httpx.Client(base_url=sandbox_url, timeout=60)
    answer = http.post("/tokens", auth=(app_id, api_key), data={"grant_type": "client_credentials"})
    token = answer.raise_for_status().json()["access_token"]
    lock = asyncio.Lock()

    async def webhook(request: Request) -> Response:
        payload = json.loads(await request.body())
        async with lock:  # one webhook at a time, blocking calls as usually written
            image = http.get(  # noqa: ASYNC212 - the naive way, on purpose
                f"/faxes/{payload['fax_id']}/image",
                headers={"Authorization": f"Bearer {token}", "user-id": payload["user_id"]},
            )
            data = base64.b64decode(image.raise_for_status().json()["image"])
            key = f"{payload['user_id']}/{payload['fax_id']}.pdf"
            minio.put_object(bucket, key, io.BytesIO(data), len(data), "application/pdf")
        return JSONResponse({"status": "SUCCESS"})

    return Starlette(routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"])])


def gateway_app(port: int, linger_ms: int | None) -> Gateway:
    """Our gateway with the local stack's environment (`LocalStack.service_env`), as the
    services get it; one source at thousands a second: no per-source limit."""
    settings = GatewaySettings(gateway_port=port, gateway_rate_limit_per_s=0)
    if linger_ms is None:
        return create_app(settings)
    idempotent = settings.kafka_idempotent_producer
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        **producer_options(enable_idempotence=idempotent, linger_ms=linger_ms),
        log_level=logging.WARNING,
    )
    return create_app(settings, broker=broker)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("kind", choices=["gateway", "naive", "naive-threads", "noop", "baseline"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap", default="")
    parser.add_argument("--topic", default="bench.naive")
    parser.add_argument("--linger-ms", type=int, default=None)
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--sandbox", default="")
    parser.add_argument("--app-id", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--s3", default="")
    parser.add_argument("--bucket", default="bench-baseline")
    args = parser.parse_args()
    app: Any
    if args.kind == "gateway":
        app = gateway_app(args.port, args.linger_ms)
    elif args.kind == "noop":
        app = noop_app
    elif args.kind == "baseline":
        app = baseline_app(args.sandbox, args.app_id, args.api_key, args.s3, args.bucket)
    else:
        app = naive_app(args.bootstrap, args.topic, threads=args.kind == "naive-threads")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=args.http,
        loop=args.loop,
        access_log=False,
        log_level="warning",
        lifespan="on" if args.kind == "gateway" else "off",
    )


if __name__ == "__main__":
    main()
