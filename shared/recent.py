"""Keys seen lately: the one bounded memory of the services (duplicate deliveries in the
verifier, faxes announced lately in the downloader and the poller)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Recent(Generic[K]):
    """Keys remembered for at most `seconds` (None: until pushed out) and at most `size` of
    them (None: no bound), the oldest forgotten first. `now` is the clock's reading, by
    default `time.monotonic()`; tests pass their own."""

    def __init__(
        self,
        seconds: float | None = None,
        size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds is None and size is None:
            raise ValueError("a Recent needs a time limit, a size limit or both")
        self.seconds = seconds
        self.size = size
        self._clock = clock
        self._at: OrderedDict[K, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: object) -> bool:
        return self.seen(key)  # type: ignore[arg-type]  # any key: `in` takes objects

    def seen(self, *keys: K, now: float | None = None) -> bool:
        """Whether any of `keys` was remembered within the time limit."""
        now = self._clock() if now is None else now
        for key in keys:
            at = self._at.get(key)
            if at is not None and (self.seconds is None or now - at < self.seconds):
                return True
        return False

    def remember(self, *keys: K, now: float | None = None) -> None:
        """Remember `keys` as seen now; forget what is past the time limit or the size."""
        now = self._clock() if now is None else now
        for key in keys:
            self._at[key] = now
            self._at.move_to_end(key)
        if self.seconds is not None:
            while self._at and now - next(iter(self._at.values())) >= self.seconds:
                self._at.popitem(last=False)
        if self.size is not None:
            while len(self._at) > self.size:
                self._at.popitem(last=False)
