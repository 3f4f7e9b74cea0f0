"""The sandbox façade: its state and every control operation, once.

``Sandbox`` owns the state, the documents, the faults, the listing and the webhook sender.
Its operations are the control API: the ``/sandbox/...`` endpoints call them on the server's
event loop, and tests or benchmarks call the same methods from any other thread, where
``@on_loop`` hops onto the loop and waits for the answer. Serving it over HTTP is
``sandbox.server``'s job; nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from sandbox.documents import Documents, ground_truth, noise_pages_for
from sandbox.faults import Faults, FaultState, Listing
from sandbox.settings import Content, ImageFormat, Resolution, SandboxSettings
from sandbox.state import Delivery, Fax, State, utc_now
from sandbox.webhooks import HostileKind, WebhookSender

Order = Literal["in_order", "shuffled", "reversed"]
P = ParamSpec("P")
T = TypeVar("T")
CALL_TIMEOUT_S = 60.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_loop(method: Callable[Concatenate[Sandbox, P], T]) -> Callable[Concatenate[Sandbox, P], T]:
    """Run the operation on the sandbox's loop: directly when already there (or not serving),
    else from another thread by hopping onto the loop and waiting."""

    def call(self: Sandbox, /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = self.loop
        if loop is None or _running_loop() is loop:
            return method(self, *args, **kwargs)

        async def run() -> T:
            return method(self, *args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(CALL_TIMEOUT_S)

    return functools.update_wrapper(call, method)


class Sandbox:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.state = State(settings)
        self.documents = Documents(settings)
        self.faults = FaultState(settings.seed)
        self.listing = self._initial_listing()
        self.sender = WebhookSender(settings, self.state, "")
        self.port = settings.port
        self.loop: asyncio.AbstractEventLoop | None = None  # set while served
        self._rng = random.Random(settings.seed)
        self._content_rng = random.Random(f"content:{settings.seed}")

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def public_base_url(self) -> str:
        return (self.settings.public_base_url or self.base_url).rstrip("/")

    @property
    def sandbox(self) -> Sandbox:
        """Itself: ``RunningSandbox.sandbox`` of old, still used by ``bench/pipeline.py``."""
        return self

    def _blocking(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
        """Await ``make()`` on the loop from another thread (for the async operations)."""
        loop = self.loop
        if loop is None or _running_loop() is loop:
            raise RuntimeError("call this from another thread than the sandbox's loop")
        return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout)

    # --- faxes ------------------------------------------------------------------------------

    @on_loop
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
        content: Content | None = None,
        resolution: Resolution | None = None,
    ) -> list[Fax]:
        """Receive ``count`` inbound faxes; ``deliver`` posts their webhooks.

        Owners go round-robin over all configured (app, user) pairs, or over the users of
        ``app_id``.  Completed timestamps increase by one second within a batch, so
        ``order="reversed"``/``"shuffled"`` deliveries are visibly out of order (those are
        sent one at a time, in that order).  ``disappear`` deletes each fax just before
        its notification goes out, so the download answers 404.  With a listing delay
        (``set_listing``), the faxes show in ``GET /faxes/received`` only that much later.
        ``content`` ("noise" or "documents", with known text) and ``resolution`` default to
        the settings of the same names.
        """
        resolution = resolution or self.settings.resolution
        content = "noise" if size_mb else content or self.settings.content
        if size_mb:
            pages = 1 + noise_pages_for(size_mb, resolution)
        start = utc_now() - timedelta(seconds=count)
        faxes = []
        for i in range(count):
            owner_app, owner_user = self.state.next_owner(app_id, user_id)
            fax = self.state.new_fax(
                owner_app,
                owner_user,
                pages,
                start + timedelta(seconds=i + 1),
                size_mb=size_mb,
                sending_fax_number=sending_fax_number,
                originating_fax_tsid=originating_fax_tsid,
                timestamp_style=timestamp_style,
            )
            fax.content, fax.resolution = content, resolution
            fax.content_seed = self._content_rng.getrandbits(32)
            faxes.append(fax)
        listed_from = time.time() + self.listing.delay_s * self.settings.time_scale
        for fax in faxes:
            fax.listed_from = listed_from
        if deliver:
            self._notify(faxes, order)
        if disappear:
            for fax in faxes:
                self._delete(fax)
        return [dataclasses.replace(f) for f in faxes]

    @on_loop
    def fax(self, fax_id: str) -> Fax:
        """A copy of any fax, deleted or not (KeyError if unknown)."""
        return dataclasses.replace(self.state.faxes[fax_id])

    @on_loop
    def faxes(self) -> list[Fax]:
        return [dataclasses.replace(f) for f in self.state.faxes.values()]

    @on_loop
    def delete_fax(self, fax_id: str) -> None:
        self._delete(self.state.faxes[fax_id])

    def _delete(self, fax: Fax) -> None:
        if not fax.deleted:
            fax.deleted = True
            self.state.stats["faxes_deleted"] += 1

    def document(self, fax_id: str, fmt: ImageFormat = "PDF") -> bytes:
        """The exact bytes the API serves (thread-safe; may render, so not on the loop)."""
        return self.documents.document(self.state.faxes[fax_id], fmt)

    def truth(self, fax_id: str) -> dict[str, Any] | None:
        """What a reader should find in the fax: text per page, document types, fields and
        page ranges; None for a fax of noise (thread-safe)."""
        return ground_truth(self.state.faxes[fax_id])

    # --- webhooks ---------------------------------------------------------------------------

    @on_loop
    def redeliver(self, fax_ids: list[str], order: Order = "in_order", times: int = 1) -> int:
        """Send the notifications of existing faxes again (``times`` copies each)."""
        return self._notify([self.state.faxes[i] for i in fax_ids], order, times)

    def duplicate(self, fax_id: str, times: int = 2) -> int:
        return self.redeliver([fax_id], times=times)

    def _notify(self, faxes: list[Fax], order: Order = "in_order", times: int = 1) -> int:
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

    async def hostile(self, kind: HostileKind, fax_id: str) -> dict[str, Any]:
        """Post one spoofed webhook of ``kind`` about ``fax_id`` (on the loop)."""
        return await self.sender.send_hostile(kind, self.state.faxes[fax_id])

    def send_hostile(self, kind: HostileKind | str, fax_id: str) -> dict[str, Any]:
        """``hostile`` from another thread; ``kind`` may be the enum's value."""
        return self._blocking(lambda: self.hostile(HostileKind(kind), fax_id), CALL_TIMEOUT_S)

    @on_loop
    def start_outage(self, seconds: float) -> None:
        self.sender.start_outage(seconds)

    @on_loop
    def end_outage(self) -> None:
        self.sender.end_outage()

    def wait_for_deliveries(self, timeout: float = 30) -> bool:
        """Block until no webhook is pending (True) or the timeout passes (False)."""
        return self._blocking(lambda: self.sender.wait_idle(timeout), timeout + 5)

    @on_loop
    def deliveries(self) -> list[Delivery]:
        return list(self.state.deliveries)

    @on_loop
    def hostile_log(self) -> list[dict[str, Any]]:
        return list(self.state.hostile)

    # --- faults, listing, tokens, counters --------------------------------------------------

    @on_loop
    def set_faults(self, /, faults: Faults | None = None, **fields: Any) -> None:
        """``set_faults(fax_error_rate=1.0)`` or ``set_faults(Faults(...))``; replaces all."""
        self.faults.set(faults if faults is not None else Faults(**fields))

    @on_loop
    def clear_faults(self) -> None:
        self.faults.clear()

    def _initial_listing(self) -> Listing:
        return Listing(
            delay_s=self.settings.listing_delay_s,
            min_completed_inclusive=self.settings.min_completed_inclusive,
        )

    @on_loop
    def set_listing(self, /, listing: Listing | None = None, **fields: Any) -> None:
        """``set_listing(delay_s=30)``: faxes received from now on show in the listing 30 s
        (times ``time_scale``) late; unnamed fields go back to their defaults."""
        self.listing = listing if listing is not None else Listing(**fields)

    @on_loop
    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    @on_loop
    def stats(self) -> dict[str, Any]:
        return {**self.state.snapshot(), "webhooks_pending": self.sender.pending}

    @on_loop
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
