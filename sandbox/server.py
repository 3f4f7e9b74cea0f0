"""The sandbox object and its two ways to run.

``Sandbox`` owns the state, documents, faults and webhook sender, and serves the Starlette
app with uvicorn on a socket it binds itself (so ``port=0`` works and the port is known
before the first request).  Use it inside a running loop with ``await start()`` /
``await stop()``, or from synchronous code with ``run_in_thread(settings)``, which returns a
``RunningSandbox`` whose methods hop onto the server's loop and are safe from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from datetime import timedelta
from typing import Any, Literal, TypeVar

import httpx
import uvicorn

from sandbox.documents import Documents, noise_pages_for
from sandbox.faults import Faults, FaultState, Listing
from sandbox.settings import ImageFormat, SandboxSettings
from sandbox.state import Delivery, Fax, State, utc_now
from sandbox.webhooks import WebhookSender

Order = Literal["in_order", "shuffled", "reversed"]
T = TypeVar("T")


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: the embedding program owns its signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Sandbox:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.state = State(settings)
        self.documents = Documents(settings)
        self.faults = FaultState(settings.seed)
        self.listing = self._initial_listing()
        self.sender = WebhookSender(settings, self.state, "")
        self.port = settings.port
        self._socket: socket.socket | None = None
        self._server: _QuietServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._rng = random.Random(settings.seed)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def public_base_url(self) -> str:
        return (self.settings.public_base_url or self.base_url).rstrip("/")

    async def start(self) -> None:
        from sandbox.api import create_app

        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, self.settings.port))
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.sender.base_url = self.public_base_url
        await self.sender.start()
        config = uvicorn.Config(
            create_app(self), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = _QuietServer(config)
        self._serve_task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[sock])
        )
        while not self._server.started:
            if self._serve_task.done():
                await self._serve_task
                raise RuntimeError("sandbox server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        await self.sender.stop()
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            await self._serve_task
        if self._socket is not None:
            self._socket.close()
        self._server = self._serve_task = self._socket = None

    # --- operations used by the control API and by RunningSandbox (call on the loop) ---

    def create_faxes(
        self,
        *,
        app_id: str | None = None,
        user_id: str | None = None,
        count: int = 1,
        pages: int = 2,
        deliver: bool = True,
        size_mb: float | None = None,
        order: Order = "in_order",
        disappear: bool = False,
        sending_fax_number: str | None = None,
        originating_fax_tsid: str | None = None,
        timestamp_style: str | None = None,
    ) -> list[Fax]:
        """Receive ``count`` inbound faxes; ``deliver`` posts their webhooks.

        Owners go round-robin over all configured (app, user) pairs, or over the users of
        ``app_id``.  Completed timestamps increase by one second within a batch, so
        ``order="reversed"``/``"shuffled"`` deliveries are visibly out of order (those are
        sent one at a time, in that order).  ``disappear`` deletes each fax just before
        its notification goes out, so the download answers 404.  With a listing delay
        (``set_listing``), the faxes show in ``GET /faxes/received`` only that much later.
        """
        if size_mb:
            pages = 1 + noise_pages_for(size_mb, self.settings.resolution)
        start = utc_now() - timedelta(seconds=count)
        faxes = []
        for i in range(count):
            owner_app, owner_user = self.state.next_owner(app_id, user_id)
            faxes.append(
                self.state.new_fax(
                    owner_app,
                    owner_user,
                    pages,
                    start + timedelta(seconds=i + 1),
                    size_mb=size_mb,
                    sending_fax_number=sending_fax_number,
                    originating_fax_tsid=originating_fax_tsid,
                    timestamp_style=timestamp_style,
                )
            )
        listed_from = time.time() + self.listing.delay_s * self.settings.time_scale
        for fax in faxes:
            fax.listed_from = listed_from
        if deliver:
            self.notify(faxes, order)
        if disappear:
            for fax in faxes:
                self.delete_fax(fax.fax_id)
        return [dataclasses.replace(f) for f in faxes]

    def notify(self, faxes: list[Fax], order: Order = "in_order", times: int = 1) -> int:
        """Queue the notifications of ``faxes`` (again); ``times`` > 1 duplicates each."""
        batch = [n for f in faxes if (n := self.sender.fax_notification(f)) is not None]
        batch = [n for n in batch for _ in range(times)]
        if order == "in_order":
            for notification in batch:
                self.sender.enqueue(notification)
        else:
            if order == "reversed":
                batch.reverse()
            else:
                self._rng.shuffle(batch)
            self.sender.enqueue_in_order(batch)
        return len(batch)

    def fax(self, fax_id: str) -> Fax:
        return self.state.faxes[fax_id]

    def delete_fax(self, fax_id: str) -> None:
        fax = self.state.faxes[fax_id]
        if not fax.deleted:
            fax.deleted = True
            self.state.stats["faxes_deleted"] += 1

    def document(self, fax_id: str, fmt: ImageFormat = "PDF") -> bytes:
        """The exact bytes the API serves (thread-safe; may render)."""
        return self.documents.document(self.state.faxes[fax_id], fmt)

    def set_faults(self, faults: Faults) -> None:
        self.faults.set(faults)

    def clear_faults(self) -> None:
        self.faults.clear()

    def _initial_listing(self) -> Listing:
        return Listing(
            delay_s=self.settings.listing_delay_s,
            min_completed_inclusive=self.settings.min_completed_inclusive,
        )

    def set_listing(self, listing: Listing) -> None:
        """From now on: faxes received later show in the listing after ``delay_s``."""
        self.listing = listing

    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    def stats(self) -> dict[str, Any]:
        return {**self.state.snapshot(), "webhooks_pending": self.sender.pending}

    def deliveries(self) -> list[Delivery]:
        return list(self.state.deliveries)

    def hostile_log(self) -> list[dict[str, Any]]:
        return list(self.state.hostile)

    def reset(self) -> None:
        """Forget faxes, deliveries, counters, faults, outages and listing changes (tokens
        stay valid)."""
        self.state.faxes.clear()
        self.state.deliveries.clear()
        self.state.hostile.clear()
        self.state.stats.clear()
        self.state.status_counts.clear()
        self.faults.clear()
        self.listing = self._initial_listing()
        self.sender.end_outage()


class RunningSandbox:
    """Handle of a sandbox served from a background thread (see ``run_in_thread``)."""

    def __init__(self, sandbox: Sandbox, loop: asyncio.AbstractEventLoop) -> None:
        self.sandbox = sandbox
        self.loop = loop

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    @property
    def settings(self) -> SandboxSettings:
        return self.sandbox.settings

    def _call(self, fn: Callable[[], T], timeout: float = 60) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def _await(self, make: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def create_faxes(self, **kwargs: Any) -> list[Fax]:
        """Same keywords as ``Sandbox.create_faxes``."""
        return self._call(lambda: self.sandbox.create_faxes(**kwargs))

    def fax(self, fax_id: str) -> Fax:
        return self._call(lambda: dataclasses.replace(self.sandbox.fax(fax_id)))

    def faxes(self) -> list[Fax]:
        return self._call(
            lambda: [dataclasses.replace(f) for f in self.sandbox.state.faxes.values()]
        )

    def document(self, fax_id: str, fmt: ImageFormat = "PDF") -> bytes:
        return self.sandbox.document(fax_id, fmt)

    def delete_fax(self, fax_id: str) -> None:
        self._call(lambda: self.sandbox.delete_fax(fax_id))

    def set_faults(self, faults: Faults | None = None, **fields: Any) -> None:
        """``set_faults(fax_error_rate=1.0)`` or ``set_faults(Faults(...))``; replaces all."""
        chosen = faults if faults is not None else Faults(**fields)
        self._call(lambda: self.sandbox.set_faults(chosen))

    def clear_faults(self) -> None:
        self._call(self.sandbox.clear_faults)

    def set_listing(self, listing: Listing | None = None, **fields: Any) -> None:
        """``set_listing(delay_s=30)``: faxes received from now on show in the listing 30 s
        (times ``time_scale``) late; unnamed fields go back to their defaults."""
        chosen = listing if listing is not None else Listing(**fields)
        self._call(lambda: self.sandbox.set_listing(chosen))

    def expire_tokens(self) -> None:
        self._call(self.sandbox.expire_tokens)

    def start_outage(self, seconds: float) -> None:
        self._call(lambda: self.sandbox.sender.start_outage(seconds))

    def end_outage(self) -> None:
        self._call(self.sandbox.sender.end_outage)

    def redeliver(self, fax_ids: list[str], order: Order = "in_order", times: int = 1) -> int:
        """Send the notifications of existing faxes again (``times`` copies each)."""
        return self._call(
            lambda: self.sandbox.notify([self.sandbox.fax(i) for i in fax_ids], order, times)
        )

    def duplicate(self, fax_id: str, times: int = 2) -> int:
        return self.redeliver([fax_id], times=times)

    def send_hostile(self, kind: str, fax_id: str) -> dict[str, Any]:
        return self._await(lambda: self.sandbox.sender.send_hostile(kind, self.sandbox.fax(fax_id)))

    def wait_for_deliveries(self, timeout: float = 30) -> bool:
        """Block until no webhook is pending (True) or the timeout passes (False)."""
        return self._await(lambda: self.sandbox.sender.wait_idle(timeout), timeout + 5)

    def stats(self) -> dict[str, Any]:
        return self._call(self.sandbox.stats)

    def deliveries(self) -> list[Delivery]:
        return self._call(self.sandbox.deliveries)

    def hostile_log(self) -> list[dict[str, Any]]:
        return self._call(self.sandbox.hostile_log)

    def reset(self) -> None:
        self._call(self.sandbox.reset)


@contextlib.contextmanager
def run_in_thread(settings: SandboxSettings, timeout: float = 15) -> Iterator[RunningSandbox]:
    """Serve a sandbox from a daemon thread; returns once ``/health`` answers."""
    sandbox = Sandbox(settings)
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[asyncio.Event] = concurrent.futures.Future()

    async def main() -> None:
        stop_requested = asyncio.Event()
        try:
            await sandbox.start()
        except BaseException as exc:
            ready.set_exception(exc)
            raise
        ready.set_result(stop_requested)
        await stop_requested.wait()
        await sandbox.stop()

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
        yield RunningSandbox(sandbox, loop)
    finally:
        loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout)
