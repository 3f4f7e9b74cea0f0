"""The eFax endpoints over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import time
from datetime import datetime

import httpx
from conftest import APP_A, APP_B, USER_A1, USER_A2, USER_B1, Efax, Receiver, SandboxFactory
from PIL import Image

from sandbox import Sandbox


def test_token_is_issued_for_valid_credentials(efax: Efax) -> None:
    response = efax.token_response(APP_A, "key-a")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) > 20


def test_wrong_credentials_or_missing_grant_are_401_in_the_envelope(efax: Efax) -> None:
    for response in (
        efax.token_response(APP_A, "wrong"),
        efax.token_response("not-an-app", "key-a"),
        efax.token_response(APP_A, "key-a", grant=""),
        efax.http.post("/tokens", data={"grant_type": "client_credentials"}),
    ):
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"errors", "transaction_id"}
        assert set(body["errors"][0]) == {
            "error_code",
            "element_name",
            "developer_message",
            "user_message",
            "more_info",
        }


def test_unauthorized_is_a_bare_message_when_configured(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(unauthorized_bare_message=True)
    response = httpx.get(f"{sb.base_url}/faxes/received", headers={"user-id": USER_A1})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_new_token_ends_the_previous_one(sb: Sandbox, efax: Efax) -> None:
    first = efax.token()
    assert efax.received(headers={}).status_code == 200
    second = efax.token()
    old = efax.http.get("/faxes/received", headers=efax.headers(USER_A1, token=first))
    new = efax.http.get("/faxes/received", headers=efax.headers(USER_A1, token=second))
    assert (old.status_code, new.status_code) == (401, 200)


def test_tokens_of_one_app_do_not_end_another_apps_token(efax: Efax) -> None:
    token_a = efax.token(APP_A, "key-a")
    efax.token(APP_B, "key-b")
    response = efax.http.get("/faxes/received", headers=efax.headers(USER_A1, token=token_a))
    assert response.status_code == 200


def test_previous_token_survives_when_configured(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(new_token_ends_previous=False)
    client = Efax(sb.base_url)
    first = client.token()
    client.token()
    response = client.http.get("/faxes/received", headers=client.headers(USER_A1, token=first))
    assert response.status_code == 200


def test_expired_or_missing_tokens_are_401(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(token_lifetime_s=0)
    client = Efax(sb.base_url)
    assert client.received().status_code == 401
    missing = client.http.get("/faxes/received", headers={"user-id": USER_A1})
    unknown = client.http.get(
        "/faxes/received", headers={"user-id": USER_A1, "Authorization": "Bearer nope"}
    )
    assert missing.status_code == unknown.status_code == 401


def test_expire_tokens_mid_run_makes_calls_401_until_a_new_token(sb: Sandbox, efax: Efax) -> None:
    assert efax.received().status_code == 200
    sb.expire_tokens()
    assert efax.received().status_code == 401
    efax.token()
    assert efax.received().status_code == 200


def test_user_of_another_app_is_forbidden_and_user_id_is_required(efax: Efax) -> None:
    foreign = efax.http.get("/faxes/received", headers=efax.headers(USER_B1, app_id=APP_A))
    assert foreign.status_code == 403
    token = efax.token()
    missing = efax.http.get("/faxes/received", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["element_name"] == "user-id"


def test_fax_of_another_user_is_404(sb: Sandbox, efax: Efax) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A2, deliver=False)
    for method, path in (
        ("GET", f"/faxes/{fax.fax_id}/image"),
        ("GET", f"/faxes/{fax.fax_id}/metadata"),
        ("DELETE", f"/faxes/{fax.fax_id}"),
    ):
        response = efax.request(method, path, USER_A1)
        assert response.status_code == 404
        assert response.json()["errors"][0]["error_code"] == "FAX_NOT_FOUND"
    assert efax.request("GET", f"/faxes/{fax.fax_id}/metadata", USER_A2).status_code == 200


def test_received_lists_only_the_users_faxes_in_completed_order(sb: Sandbox, efax: Efax) -> None:
    mine = sb.create_faxes(user_id=USER_A1, count=5, deliver=False)
    sb.create_faxes(user_id=USER_A2, count=3, deliver=False)
    body = efax.received().json()
    assert [f["fax_id"] for f in body["faxes"]] == [f.fax_id for f in mine]
    assert (body["first_record"], body["last_record"]) == (1, 5)
    assert set(body["faxes"][0]) == {
        "fax_id",
        "size",
        "duration",
        "pages",
        "image_downloaded",
        "completed_timestamp",
        "originating_fax_number",
        "destination_fax_number",
        "originating_fax_tsid",
    }


def test_pagination_over_250_faxes_returns_each_exactly_once(sb: Sandbox, efax: Efax) -> None:
    created = {f.fax_id for f in sb.create_faxes(user_id=USER_A1, count=250, deliver=False)}
    seen: list[str] = []
    records = []
    offset = 0
    while True:
        body = efax.received(offset=offset, limit=100).json()
        seen += [f["fax_id"] for f in body["faxes"]]
        records.append((body["first_record"], body["last_record"]))
        if len(body["faxes"]) < 100:
            break
        offset += 100
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == created
    assert records == [(1, 100), (101, 200), (201, 250)]


def test_pagination_limit_is_capped_at_100(sb: Sandbox, efax: Efax) -> None:
    sb.create_faxes(user_id=USER_A1, count=120, deliver=False)
    assert len(efax.received(limit=500).json()["faxes"]) == 100
    assert efax.received(offset=0, limit=0).status_code == 400


def test_received_filters_by_image_downloaded_timestamp_and_search_text(
    sb: Sandbox, efax: Efax
) -> None:
    faxes = sb.create_faxes(
        user_id=USER_A1, count=4, deliver=False, sending_fax_number="13235550123"
    )
    efax.image(faxes[0].fax_id)
    pending = efax.received(image_downloaded="FALSE").json()["faxes"]
    assert [f["fax_id"] for f in pending] == [f.fax_id for f in faxes[1:]]
    done = efax.received(image_downloaded="true").json()["faxes"]
    assert [f["fax_id"] for f in done] == [faxes[0].fax_id]

    threshold = faxes[2].completed_at
    for text in (
        threshold.strftime("%Y-%m-%dT%H:%M:%SZ"),
        threshold.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        threshold.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        threshold.strftime("%Y-%m-%dT%H:%M:%S 00:00"),
    ):
        later = efax.received(min_completed_timestamp=text).json()["faxes"]
        assert [f["fax_id"] for f in later] == [f.fax_id for f in faxes[2:]], text
    assert efax.received(min_completed_timestamp="yesterday").status_code == 400

    sb.create_faxes(user_id=USER_A1, count=2, deliver=False, sending_fax_number="13105550999")
    found = efax.received(search_text="5550999").json()["faxes"]
    assert len(found) == 2
    assert (
        efax.received(search_text=faxes[3].fax_id).json()["faxes"][0]["fax_id"] == faxes[3].fax_id
    )


def test_image_download_serves_the_documents_bytes_and_marks_it_downloaded(
    sb: Sandbox, efax: Efax
) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=3, deliver=False)
    response = efax.request("GET", f"/faxes/{fax.fax_id}/image", params={"desired_format": "TIFF"})
    body = response.json()
    assert set(body) == {"fax_id", "file_name", "image"}
    assert body["file_name"] == f"{fax.fax_id}.tif"
    assert base64.b64decode(body["image"]) == sb.document(fax.fax_id, "TIFF")
    assert efax.image(fax.fax_id, fmt="PDF") == sb.document(fax.fax_id, "PDF")
    assert sb.fax(fax.fax_id).image_downloaded is True
    default = efax.request("GET", f"/faxes/{fax.fax_id}/image").json()
    assert default["file_name"].endswith(".pdf")
    bad = efax.request("GET", f"/faxes/{fax.fax_id}/image", params={"desired_format": "GIF"})
    assert bad.status_code == 400


def test_image_pages_are_single_page_documents(sb: Sandbox, efax: Efax) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=4, deliver=False)
    response = efax.request(
        "GET",
        f"/faxes/{fax.fax_id}/image/pages",
        params={"start_page": 1, "num_pages": 2, "desired_format": "TIFF"},
    )
    body = response.json()
    assert body["fax_id"] == fax.fax_id
    assert [p["page_number"] for p in body["pages"]] == [1, 2]
    for page in body["pages"]:
        image = Image.open(io.BytesIO(base64.b64decode(page["image"])))
        assert getattr(image, "n_frames", 0) == 1
        assert image.size[0] == 1728
    pdf = efax.request("GET", f"/faxes/{fax.fax_id}/image/pages", params={"desired_format": "PDF"})
    pages = pdf.json()["pages"]
    assert len(pages) == 4
    assert all(base64.b64decode(p["image"]).startswith(b"%PDF") for p in pages)


def test_metadata_can_be_read_patched_and_bulk_updated(sb: Sandbox, efax: Efax) -> None:
    faxes = sb.create_faxes(user_id=USER_A1, count=3, deliver=False)
    path = f"/faxes/{faxes[0].fax_id}/metadata"
    meta = efax.request("GET", path).json()
    for key in (
        "fax_status",
        "direction",
        "destination_fax_csid",
        "routing_data",
        "transmission_data",
        "client_tracking_data",
    ):
        assert key in meta
    assert meta["direction"] == "INBOUND"
    patched = efax.request("PATCH", path, json={"image_downloaded": True}).json()
    assert patched["image_downloaded"] is True
    assert efax.request("PATCH", path, json={"image_downloaded": "yes"}).status_code == 400
    bulk = efax.request(
        "POST",
        "/faxes/metadata",
        json=[
            {"fax_id": faxes[0].fax_id, "image_downloaded": False},
            {"fax_id": faxes[1].fax_id, "image_downloaded": True},
            {"fax_id": "00000000-0000-0000-0000-000000000000", "image_downloaded": True},
        ],
    ).json()
    assert [r["status"] for r in bulk["faxes"]] == ["SUCCESS", "SUCCESS", "NOT_FOUND"]
    assert [sb.fax(f.fax_id).image_downloaded for f in faxes] == [False, True, False]


def test_delete_answers_204_then_404(sb: Sandbox, efax: Efax) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    assert efax.request("DELETE", f"/faxes/{fax.fax_id}").status_code == 204
    assert efax.request("DELETE", f"/faxes/{fax.fax_id}").status_code == 404
    assert efax.request("GET", f"/faxes/{fax.fax_id}/image").status_code == 404
    assert efax.received().json()["faxes"] == []


def test_health_is_up(sb: Sandbox) -> None:
    assert httpx.get(f"{sb.base_url}/health").json() == {"status": "UP"}


def test_ping_answers_the_documented_list_and_posts_a_ping(
    sb: Sandbox, efax: Efax, receiver: Receiver
) -> None:
    response = efax.request("POST", "/notifications/ping", json={"fax_direction": "INBOUND"})
    (answer,) = response.json()
    assert set(answer) == {
        "app_id",
        "notify_id",
        "notify_config_id",
        "fax_direction",
        "notify_type",
        "event_type",
    }
    assert (answer["app_id"], answer["event_type"], answer["notify_type"]) == (
        APP_A,
        "PING",
        "WEBHOOK",
    )
    (posted,) = receiver.wait_for(1)
    payload = json.loads(posted.body)
    assert list(payload) == [
        "app_id",
        "notification_id",
        "direction",
        "event_type",
        "notification_config_id",
    ]
    assert payload["notification_id"] == answer["notify_id"]
    assert payload["notification_config_id"] == answer["notify_config_id"]
    no_hook = efax.request(
        "POST", "/notifications/ping", USER_B1, json={"fax_direction": "INBOUND"}
    )
    assert no_hook.status_code == 404


def test_notifications_log_lists_attempts_with_filters(
    sb: Sandbox, efax: Efax, receiver: Receiver
) -> None:
    receiver.fail_first = 1
    (fax,) = sb.create_faxes(user_id=USER_A1)
    assert sb.wait_for_deliveries()
    log = efax.request("GET", "/notifications").json()["notifications"]
    assert [(d["fax_id"], d["attempt"], d["status"]) for d in log] == [
        (fax.fax_id, 1, "FAILED"),
        (fax.fax_id, 2, "SUCCESS"),
    ]
    assert log[0]["http_status"] == 500
    failed = efax.request("GET", "/notifications", params={"status": "FAILED"}).json()
    assert len(failed["notifications"]) == 1
    future = efax.request(
        "GET", "/notifications", params={"min_timestamp": "2999-01-01T00:00:00Z"}
    ).json()
    assert future["notifications"] == []
    outbound = efax.request("GET", "/notifications", params={"direction": "OUTBOUND"}).json()
    assert outbound["notifications"] == []
    assert datetime.fromisoformat(log[0]["time"].replace("Z", "+00:00")).year >= 2024


def test_requests_by_status_are_counted(sb: Sandbox, efax: Efax) -> None:
    efax.received()
    efax.http.get("/faxes/received")
    deadline = time.monotonic() + 2
    stats = sb.stats()
    while stats["requests_by_status"].get("401", 0) < 1 and time.monotonic() < deadline:
        stats = sb.stats()
    assert stats["requests_by_status"]["200"] >= 2
    assert stats["requests_by_status"]["401"] == 1
    assert stats["tokens_issued"] == 1
