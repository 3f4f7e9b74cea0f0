"""Fixtures for the sandbox tests: apps, a recording webhook receiver, a sandbox factory,
an eFax client over real HTTP and a Node.js HMAC verifier (the vendor's sample)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox import AppConfig, Sandbox, SandboxSettings, run_in_thread  # noqa: E402

APP_A = "d580162d-d162-4353-bd55-c2044ab20711"
APP_B = "0b9e7c55-3f0c-4d1e-9a55-6c2d7f7e1a01"
USER_A1 = "ca4cd102-c3e7-4379-9a7e-38c61e1f7a55"
USER_A2 = "5f0d7e61-2a43-4b8e-8f0a-2b1f6a1c9d22"
USER_B1 = "9a7c3e10-6b2d-4f4e-a1c3-8e5d2b7f4c33"
SECRET_A = "secret-a"
SECRET_B = "secret-b"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Webhook endpoint in a thread: records raw bodies and headers, can fail on purpose."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    status: int = 200
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            self.seen += 1
            return 500 if self.seen <= self.fail_first else self.status

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhook posts, got {len(self.requests)}")

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = rec.answer(Received(self.path, dict(self.headers.items()), body))
            payload = b'{"status": "SUCCESS"}' if status == 200 else b'{"status": "FAILED"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/InboundFaxService/Receive"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def apps_for(webhook_url: str | None) -> list[AppConfig]:
    return [
        AppConfig(
            app_id=APP_A,
            api_key="key-a",
            hmac_secret=SECRET_A,
            webhook_url=webhook_url,
            user_ids=[USER_A1, USER_A2],
        ),
        AppConfig(
            app_id=APP_B,
            api_key="key-b",
            hmac_secret=SECRET_B,
            webhook_url=None,
            user_ids=[USER_B1],
        ),
    ]


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox(receiver: Receiver) -> Iterator[SandboxFactory]:
    """``make_sandbox(**settings)`` starts a sandbox whose app A posts to ``receiver``."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> Sandbox:
            values: dict[str, Any] = {
                "apps": apps_for(receiver.url),
                "time_scale": 0.0001,
                "seed": 1,
            }
            values.update(overrides)
            return stack.enter_context(run_in_thread(SandboxSettings(**values)))

        yield make


@pytest.fixture
def sb(make_sandbox: SandboxFactory) -> Sandbox:
    return make_sandbox()


class Efax:
    """A minimal eFax client: one token per App ID, ``user-id`` on every fax call."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
        self.tokens: dict[str, str] = {}

    def token_response(
        self, app_id: str, api_key: str, grant: str = "client_credentials"
    ) -> httpx.Response:
        return self.http.post(
            "/tokens", auth=(app_id, api_key), data={"grant_type": grant} if grant else {}
        )

    def token(self, app_id: str = APP_A, api_key: str = "key-a") -> str:
        response = self.token_response(app_id, api_key)
        response.raise_for_status()
        self.tokens[app_id] = response.json()["access_token"]
        return self.tokens[app_id]

    def headers(
        self, user_id: str, app_id: str | None = None, token: str | None = None
    ) -> dict[str, str]:
        app_id = app_id or (APP_B if user_id == USER_B1 else APP_A)
        if token is None:
            token = self.tokens.get(app_id) or self.token(
                app_id, "key-b" if app_id == APP_B else "key-a"
            )
        return {"Authorization": f"Bearer {token}", "user-id": user_id}

    def request(
        self, method: str, path: str, user_id: str = USER_A1, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers(user_id), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def received(
        self, user_id: str = USER_A1, offset: int = 0, limit: int = 100, **params: Any
    ) -> httpx.Response:
        headers = {"pagination-offset": str(offset), "pagination-limit": str(limit)}
        return self.request("GET", "/faxes/received", user_id, headers=headers, params=params)

    def image(self, fax_id: str, user_id: str = USER_A1, fmt: str = "PDF") -> bytes:
        response = self.request(
            "GET", f"/faxes/{fax_id}/image", user_id, params={"desired_format": fmt}
        )
        response.raise_for_status()
        return base64.b64decode(response.json()["image"], validate=True)


@pytest.fixture
def efax(sb: Sandbox) -> Iterator[Efax]:
    client = Efax(sb.base_url)
    yield client
    client.http.close()


NODE_VERIFY = r"""
const { createHmac, timingSafeEqual } = require('crypto');
const fs = require('fs');
const items = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const out = items.map(({ body, signature, secret }) => {
  const payload = Buffer.from(body, 'base64');
  const hmacHash = createHmac('SHA256', secret).update(payload).digest('hex');
  const given = Buffer.from(signature || '', 'utf8');
  const mine = Buffer.from(hmacHash, 'utf8');
  return given.length === mine.length && timingSafeEqual(mine, given);
});
process.stdout.write(JSON.stringify(out));
"""


def node_verify(tmp_path: Path, items: list[tuple[bytes, str, str]]) -> list[bool]:
    """Verify (raw body, X-HMAC-Signature, secret) triples with the vendor's Node sample."""
    data = [
        {"body": base64.b64encode(body).decode(), "signature": sig, "secret": secret}
        for body, sig, secret in items
    ]
    path = tmp_path / f"webhooks-{uuid.uuid4()}.json"
    path.write_text(json.dumps(data))
    done = subprocess.run(
        ["node", "-e", NODE_VERIFY, str(path)], capture_output=True, check=True, timeout=30
    )
    result: list[bool] = json.loads(done.stdout)
    return result


NODE_RECEIVER = r"""
const http = require('http');
const { createHmac, timingSafeEqual } = require('crypto');
const secret = process.argv[1];
let posts = 0, verified = 0; const faxIds = new Set();
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ posts, verified, fax_ids: [...faxIds] }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const mine = Buffer.from(createHmac('SHA256', secret).update(raw).digest('hex'), 'utf8');
    const given = Buffer.from(req.headers['x-hmac-signature'] || '', 'utf8');
    posts += 1;
    if (given.length === mine.length && timingSafeEqual(mine, given)) verified += 1;
    faxIds.add(JSON.parse(raw).fax_id);
    res.setHeader('Content-Type', 'application/json');
    res.end('{"status":"SUCCESS"}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"""


@pytest.fixture
def node_receiver() -> Iterator[str]:
    """A webhook receiver in Node (own process): GET on it answers
    ``{posts, verified, fax_ids}``, where verified counts posts whose HMAC (secret A) fits."""
    process = subprocess.Popen(
        ["node", "-e", NODE_RECEIVER, SECRET_A], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
