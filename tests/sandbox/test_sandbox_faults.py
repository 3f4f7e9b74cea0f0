"""Injected faults over real HTTP, set in-process and through the control API."""

from __future__ import annotations

import base64
import binascii
import time

import httpx
import pytest
from conftest import APP_A, USER_A1, Efax, SandboxFactory

from sandbox import Faults, Sandbox


def test_fax_errors_at_rate_one_answer_the_configured_5xx(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_error_rate=1.0, error_status=502)
    response = efax.received()
    assert response.status_code == 502
    assert "errors" in response.json()
    assert efax.token_response(APP_A, "key-a").status_code == 200, "token calls unaffected"
    sb.clear_faults()
    efax.token()
    assert efax.received().status_code == 200


def test_next_n_fax_calls_fail_then_recover(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_errors_next=2)
    assert [efax.received().status_code for _ in range(3)] == [503, 503, 200]
    assert sb.stats()["injected_error"] == 2


def test_rate_limits_carry_retry_after(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_rate_limit_rate=1.0, retry_after_s=7)
    response = efax.received()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    sb.set_faults(token_rate_limits_next=1, retry_after_s=None)
    limited = efax.token_response(APP_A, "key-a")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert efax.token_response(APP_A, "key-a").status_code == 200


def test_rate_limit_can_be_plain_text(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(rate_limit_plain_text=True)
    client = Efax(sb.base_url)
    sb.set_faults(token_rate_limit_rate=1.0)
    response = client.token_response(APP_A, "key-a")
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/plain")


def test_token_errors_leave_fax_calls_alone(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(token_error_rate=1.0)
    assert efax.token_response(APP_A, "key-a").status_code == 503
    assert efax.received().status_code == 200


def test_a_partial_error_rate_fails_some_calls(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_error_rate=0.5)
    codes = [efax.received().status_code for _ in range(40)]
    assert 5 < codes.count(503) < 35
    assert set(codes) == {200, 503}


def test_slow_answers_are_delayed(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_delay_s=0.3)
    started = time.monotonic()
    assert efax.received().status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        efax.request("GET", "/faxes/received", timeout=0.1)


def test_a_share_of_fax_calls_answers_slowly(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    sb.set_faults(fax_slow_rate=0.5, fax_slow_s=0.2)
    took = []
    for _ in range(20):
        started = time.monotonic()
        assert efax.received().status_code == 200
        took.append(time.monotonic() - started)
    slow = sum(1 for t in took if t >= 0.2)
    assert 2 <= slow <= 18, took


def test_garbled_and_truncated_base64_for_chosen_faxes(sb: Sandbox, efax: Efax) -> None:
    garbled, truncated, fine = sb.create_faxes(user_id=USER_A1, count=3, deliver=False)
    sb.set_faults(
        Faults(garbled_base64_fax_ids=[garbled.fax_id], truncated_base64_fax_ids=[truncated.fax_id])
    )
    for fax in (garbled, truncated):
        text = efax.request("GET", f"/faxes/{fax.fax_id}/image").json()["image"]
        with pytest.raises(binascii.Error):
            base64.b64decode(text, validate=True)
    truncated_text = efax.request("GET", f"/faxes/{truncated.fax_id}/image").json()["image"]
    assert len(truncated_text) < len(base64.b64encode(sb.document(truncated.fax_id, "PDF")))
    assert efax.image(fine.fax_id) == sb.document(fine.fax_id, "PDF")


def test_damaged_base64_at_a_rate_also_hits_pages(sb: Sandbox, efax: Efax) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=2, deliver=False)
    sb.set_faults(truncated_base64_rate=1.0)
    pages = efax.request("GET", f"/faxes/{fax.fax_id}/image/pages").json()["pages"]
    for page in pages:
        with pytest.raises(binascii.Error):
            base64.b64decode(page["image"], validate=True)


def test_faults_are_set_read_and_cleared_over_the_control_api(sb: Sandbox, efax: Efax) -> None:
    efax.token()
    control = f"{sb.base_url}/sandbox/faults"
    set_answer = httpx.post(control, json={"fax_rate_limits_next": 1, "retry_after_s": 2})
    assert set_answer.json()["fax_rate_limits_next"] == 1
    assert httpx.post(control, json={"fax_error_rate": 3}).status_code == 422
    assert efax.received().status_code == 429
    httpx.post(control, json={"fax_error_rate": 1.0})
    assert efax.received().status_code == 503
    assert httpx.delete(control).json()["fax_error_rate"] == 0
    assert efax.received().status_code == 200


def test_expiring_tokens_over_the_control_api_makes_the_client_refresh(
    sb: Sandbox, efax: Efax
) -> None:
    assert efax.received().status_code == 200
    httpx.post(f"{sb.base_url}/sandbox/tokens/expire")
    assert efax.received().status_code == 401


def test_an_injected_fault_answers_before_the_token_user_and_fax_are_checked(
    sb: Sandbox,
) -> None:
    sb.set_faults(fax_errors_next=3)
    base = sb.base_url
    unknown = "00000000-0000-0000-0000-000000000000"
    assert httpx.get(f"{base}/faxes/received").status_code == 503, "no token at all"
    assert httpx.get(f"{base}/faxes/{unknown}/image").status_code == 503, "no such fax"
    assert httpx.get(f"{base}/notifications").status_code == 503
    assert httpx.get(f"{base}/faxes/received").status_code == 401, "then the token counts"
