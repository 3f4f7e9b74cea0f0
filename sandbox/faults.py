"""Fault injection, set per test through ``POST /sandbox/faults`` or ``set_faults``.

Rates are probabilities (0..1) drawn per request; the ``*_next`` counters fail exactly the
next N calls, for deterministic tests.  "Fax calls" are every ``/faxes`` and
``/notifications`` endpoint; "token calls" are ``POST /tokens``.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class Faults(BaseModel):
    fax_error_rate: float = Field(0.0, ge=0, le=1)
    token_error_rate: float = Field(0.0, ge=0, le=1)
    fax_errors_next: int = 0
    token_errors_next: int = 0
    error_status: int = 503

    fax_rate_limit_rate: float = Field(0.0, ge=0, le=1)
    token_rate_limit_rate: float = Field(0.0, ge=0, le=1)
    fax_rate_limits_next: int = 0
    token_rate_limits_next: int = 0
    retry_after_s: int | None = 1

    fax_delay_s: float = 0.0
    token_delay_s: float = 0.0
    fax_slow_rate: float = Field(0.0, ge=0, le=1)  # this share of fax calls also waits...
    fax_slow_s: float = Field(0.0, ge=0)  # ...this much longer (a slow answer)

    garbled_base64_fax_ids: list[str] = Field(default_factory=list)
    truncated_base64_fax_ids: list[str] = Field(default_factory=list)
    garbled_base64_rate: float = Field(0.0, ge=0, le=1)
    truncated_base64_rate: float = Field(0.0, ge=0, le=1)


class Listing(BaseModel):
    """How ``GET /faxes/received`` lists, set through ``POST /sandbox/listing`` or
    ``set_listing``; starts from the settings of the same names."""

    delay_s: float = Field(0.0, ge=0, description="listing_delay_s: sandbox seconds, scaled.")
    min_completed_inclusive: bool = True


class FaultState:
    """The active ``Faults`` plus the countdowns and the random source."""

    def __init__(self, seed: int | None = None) -> None:
        self.faults = Faults()
        self.rng = random.Random(seed)

    def set(self, faults: Faults) -> None:
        self.faults = faults

    def clear(self) -> None:
        self.faults = Faults()

    def pick_failure(self, kind: str) -> str | None:
        """``"error"``, ``"rate_limit"`` or None for a call of kind ``fax`` or ``token``."""
        f = self.faults
        if kind == "token":
            if f.token_errors_next > 0:
                f.token_errors_next -= 1
                return "error"
            if f.token_rate_limits_next > 0:
                f.token_rate_limits_next -= 1
                return "rate_limit"
            error_rate, limit_rate = f.token_error_rate, f.token_rate_limit_rate
        else:
            if f.fax_errors_next > 0:
                f.fax_errors_next -= 1
                return "error"
            if f.fax_rate_limits_next > 0:
                f.fax_rate_limits_next -= 1
                return "rate_limit"
            error_rate, limit_rate = f.fax_error_rate, f.fax_rate_limit_rate
        if error_rate and self.rng.random() < error_rate:
            return "error"
        if limit_rate and self.rng.random() < limit_rate:
            return "rate_limit"
        return None

    def delay(self, kind: str) -> float:
        f = self.faults
        if kind == "token":
            return f.token_delay_s
        slow = f.fax_slow_rate and self.rng.random() < f.fax_slow_rate
        return f.fax_delay_s + (f.fax_slow_s if slow else 0.0)

    def base64_damage(self, fax_id: str) -> str | None:
        """``"garbled"``, ``"truncated"`` or None for an image answer of this fax."""
        f = self.faults
        if fax_id in f.garbled_base64_fax_ids:
            return "garbled"
        if fax_id in f.truncated_base64_fax_ids:
            return "truncated"
        if f.garbled_base64_rate and self.rng.random() < f.garbled_base64_rate:
            return "garbled"
        if f.truncated_base64_rate and self.rng.random() < f.truncated_base64_rate:
            return "truncated"
        return None


def damage_base64(text: str, how: str) -> str:
    """Garbled: characters outside the alphabet in the middle. Truncated: cut at 60 %,
    off the 4-character boundary, so strict decoders fail and lenient ones lose data."""
    if how == "garbled":
        middle = len(text) // 2
        return text[:middle] + "!!*~" + text[middle + 4 :]
    cut = max(1, len(text) * 6 // 10)
    if cut % 4 == 0:
        cut -= 1
    return text[:cut]
