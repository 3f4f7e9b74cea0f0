"""The listing-delay mode: faxes show in ``GET /faxes/received`` later than their completed
time, and ``min_completed_timestamp`` is applied to the completed time, never the listing time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from conftest import USER_A1, Efax, SandboxFactory

from sandbox import Sandbox

# 10000 sandbox seconds at the fixtures' time_scale of 0.0001: 1 s of real time.
DELAY_S = 10000.0


def listed(efax: Efax, **params: str) -> list[str]:
    response = efax.received(**params)
    assert response.status_code == 200
    return [f["fax_id"] for f in response.json()["faxes"]]


def wait_until_listed(efax: Efax, fax_id: str, timeout: float = 10) -> None:
    start = time.monotonic()
    while fax_id not in listed(efax):
        assert time.monotonic() - start < timeout, f"{fax_id} never showed in the listing"
        time.sleep(0.02)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_fax_shows_in_the_listing_only_after_the_delay(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(listing_delay_s=DELAY_S)
    efax = Efax(sb.base_url)
    efax.token()
    created = time.monotonic()
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    assert listed(efax) == [], "not listed yet"
    assert efax.image(fax.fax_id).startswith(b"%PDF-"), "but it exists and can be downloaded"
    wait_until_listed(efax, fax.fax_id)
    assert time.monotonic() - created >= 0.9, "shown no earlier than the delay (1 s)"
    efax.http.close()


def test_min_completed_timestamp_is_the_completed_time_even_for_a_late_fax(
    make_sandbox: SandboxFactory,
) -> None:
    sb = make_sandbox(listing_delay_s=DELAY_S)
    efax = Efax(sb.base_url)
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    # A poller that found nothing and moved its cursor to its own clock:
    cursor = datetime.now(UTC) + timedelta(seconds=1)
    wait_until_listed(efax, fax.fax_id)
    assert listed(efax, min_completed_timestamp=stamp(cursor)) == []
    assert listed(efax, min_completed_timestamp=stamp(fax.completed_at)) == [fax.fax_id]
    earlier = fax.completed_at - timedelta(seconds=1)
    assert listed(efax, min_completed_timestamp=stamp(earlier)) == [fax.fax_id]
    efax.http.close()


def test_an_exclusive_minimum_leaves_out_a_fax_completed_exactly_then(
    make_sandbox: SandboxFactory,
) -> None:
    sb = make_sandbox(min_completed_inclusive=False)
    efax = Efax(sb.base_url)
    first, second = sb.create_faxes(user_id=USER_A1, count=2, deliver=False)
    assert listed(efax, min_completed_timestamp=stamp(first.completed_at)) == [second.fax_id]
    sb.set_listing(min_completed_inclusive=True)
    assert listed(efax, min_completed_timestamp=stamp(first.completed_at)) == [
        first.fax_id,
        second.fax_id,
    ]
    efax.http.close()


def test_the_delay_is_set_through_the_control_api_for_faxes_received_afterwards(
    sb: Sandbox, efax: Efax
) -> None:
    (before,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    answer = httpx.post(f"{sb.base_url}/sandbox/listing", json={"delay_s": DELAY_S})
    assert answer.status_code == 200
    assert answer.json() == {"delay_s": DELAY_S, "min_completed_inclusive": True}
    (after,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    assert listed(efax) == [before.fax_id]
    wait_until_listed(efax, after.fax_id)
    assert httpx.get(f"{sb.base_url}/sandbox/listing").json()["delay_s"] == DELAY_S
    assert httpx.post(f"{sb.base_url}/sandbox/listing", json={"delay_s": -1}).status_code == 422


def test_reset_returns_the_listing_to_the_settings(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(listing_delay_s=DELAY_S, min_completed_inclusive=False)
    sb.set_listing(delay_s=0)
    sb.reset()
    listing = httpx.get(f"{sb.base_url}/sandbox/listing").json()
    assert listing == {"delay_s": DELAY_S, "min_completed_inclusive": False}
