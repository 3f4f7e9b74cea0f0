"""Serving the sandbox over HTTP: the Starlette app and uvicorn, in a running loop or a thread.

``create_app`` mounts the eFax API (``sandbox.efax_api``) and the control API
(``sandbox.control_api``) over one ``Sandbox``.  ``Server`` serves it with uvicorn on a socket
it binds itself (so ``port=0`` works and the port is known before the first request):
``await Server(sandbox).start()`` inside a running loop.  ``run_in_thread(settings)`` serves
from a daemon thread and yields the ``Sandbox``, whose operations are safe from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Generator, Iterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.control_api import CONTROL_ROUTES
from sandbox.core import Sandbox
from sandbox.efax_api import EFAX_ROUTES
from sandbox.settings import SandboxSettings
from sandbox.web import ApiError, envelope, sandbox_of

# The handle ``run_in_thread`` used to return; now the façade itself.
RunningSandbox = Sandbox


class StatusCounter:
    """ASGI middleware counting answers by status code for ``/sandbox/stats``."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.sandbox.state.status_counts[int(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401 and sandbox_of(request).settings.unauthorized_bare_message:
        return JSONResponse({"message": "Unauthorized"}, 401)
    return JSONResponse(envelope(exc.code, exc.message, exc.element), exc.status)


def create_app(sandbox: Sandbox) -> Starlette:
    app = Starlette(
        routes=[*EFAX_ROUTES, *CONTROL_ROUTES], exception_handlers={ApiError: on_api_error}
    )
    app.state.sandbox = sandbox
    app.add_middleware(StatusCounter, sandbox=sandbox)
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: the embedding program owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Server:
    """Serves one ``Sandbox`` from the running loop, which becomes the sandbox's loop."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._socket: socket.socket | None = None
        self._server: _QuietServer | None = None
        self._serve_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sandbox, settings = self.sandbox, self.sandbox.settings
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.set_inheritable(True)
        self._socket = sock
        sandbox.port = sock.getsockname()[1]
        sandbox.loop = asyncio.get_running_loop()
        sandbox.sender.base_url = sandbox.public_base_url
        await sandbox.sender.start()
        config = uvicorn.Config(
            create_app(sandbox), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = _QuietServer(config)
        self._serve_task = sandbox.loop.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serve_task.done():
                await self._serve_task
                raise RuntimeError("sandbox server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.sandbox.sender.stop()
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            await self._serve_task
        if self._socket is not None:
            self._socket.close()
        self._server = self._serve_task = self._socket = None
        self.sandbox.loop = None


@contextlib.contextmanager
def run_in_thread(settings: SandboxSettings, timeout: float = 15) -> Iterator[Sandbox]:
    """Serve a sandbox from a daemon thread; returns once ``/health`` answers."""
    sandbox = Sandbox(settings)
    server = Server(sandbox)
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()

    async def main() -> None:
        stop_requested = asyncio.Event()
        try:
            await server.start()
        except BaseException as exc:
            ready.set_exception(exc)
            raise
        ready.set_result(stop_requested)
        await stop_requested.wait()
        await server.stop()

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=thread_main, name="efax-sandbox", daemon=True)
    thread.start()
    stop_requested = ready.result(timeout)
    try:
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            client.get(f"{sandbox.base_url}/health").raise_for_status()
        yield sandbox
    finally:
        loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout)
