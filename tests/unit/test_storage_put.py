"""The store's PUT from a spooled image, seen at the HTTP client minio hands its requests to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from shared.images import FaxImage
from shared.settings import StorageSettings
from shared.storage import FaxStore, make_minio

REFUSED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified
did not hold</Message><Key>k</Key><BucketName>faxes</BucketName></Error>"""


@dataclass
class Answer:
    status: int
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def read(self, cache_content: bool = False) -> bytes:
        return self.data

    def release_conn(self) -> None:
        pass


@dataclass
class Http:
    """Stands in for urllib3's pool: reads each body as urllib3 would, in blocks."""

    statuses: list[int]
    sent: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def urlopen(self, method: str, url: str, body: Any, headers: Any, **_: Any) -> Answer:
        if hasattr(body, "read"):
            blocks = iter(lambda: body.read(16384), b"")
            data = b"".join(blocks)
        else:
            data = bytes(body or b"")
        self.sent.append(({k.lower(): v for k, v in headers.items()}, data))
        status = self.statuses.pop(0)
        if status == 412:
            return Answer(412, REFUSED, {"content-type": "application/xml"})
        return Answer(status, headers={"etag": '"e"'})

    def clear(self) -> None:  # minio's client clears its pool when collected
        pass


def store(http: Http) -> FaxStore:
    settings = StorageSettings(
        s3_endpoint="127.0.0.1:9",
        s3_access_key=SecretStr("a"),
        s3_secret_key=SecretStr("s"),
        s3_region="us-east-1",
    )
    client = make_minio(settings)
    client._http = http
    return FaxStore(client, "faxes")


async def test_an_image_is_sent_from_its_file_signed_with_its_own_sha256() -> None:
    data = b"%PDF-" + bytes(range(256)) * 5000
    image = FaxImage.of(data)
    http = Http([200, 200])
    faxes = store(http)
    assert await faxes.put("k", image, "application/pdf", {"sha256": image.sha256})
    assert await faxes.put("k", image, "application/pdf", {})  # a retry sends it all again
    for headers, body in http.sent:
        assert body == data
        assert headers["content-length"] == str(len(data))
        assert headers["x-amz-content-sha256"] == hashlib.sha256(data).hexdigest()
        assert "signature=" in headers["authorization"].lower()
    image.close()


async def test_a_refused_conditional_put_of_a_file_is_false() -> None:
    image = FaxImage.of(b"%PDF-1.4 fax")
    http = Http([412])
    assert not await store(http).put("k", image, "application/pdf", {}, if_absent=True)
    assert http.sent[0][0]["if-none-match"] == "*"


async def test_bytes_are_still_signed_by_minio_itself() -> None:
    http = Http([200])
    assert await store(http).put("k", b"{}", "application/json", {})
    headers, body = http.sent[0]
    assert body == b"{}"
    assert headers["x-amz-content-sha256"] == hashlib.sha256(b"{}").hexdigest()
