"""In-memory stand-ins for the fast lane: the object store, eFax, the Kafka admin, and a
collector of what a handler published (through FastStream's TestKafkaBroker)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import MagicMock, patch

from faststream import FastStream, TestApp
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaAckableMessage

from shared.contracts import StoredObject
from shared.efax import PAGE_LIMIT, EfaxError, FaxImage, ReceivedFax, ReceivedPage
from shared.kafka import raw_bodies, records
from shared.storage import ExistingObject, Upload

PDF = b"%PDF-1.4 fake"


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


class Collector:
    """Every record published to `topics` (or to topics matching `pattern`), in order."""

    def __init__(self, broker: KafkaBroker, *topics: str, pattern: str | None = None) -> None:
        self.sent: list[Sent] = []

        async def collect(message: KafkaMessage) -> None:
            for r in records(message):
                headers = {k: v.decode() for k, v in r.headers}
                self.sent.append(Sent(r.topic, r.key or None, r.value or b"", headers))

        options: dict[str, Any] = {"decoder": raw_bodies}
        if pattern is not None:
            broker.subscriber(pattern=pattern, **options)(collect)
        else:
            broker.subscriber(*topics, **options)(collect)

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class FakeStore:
    """The FaxStore methods services use, in a dict."""

    bucket: str = "faxes"
    objects: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    fail_puts: int = 0

    def ensure_bucket(self) -> None:
        pass

    async def find(self, key: str) -> ExistingObject | None:
        if key not in self.objects:
            return None
        stored = StoredObject(
            bucket=self.bucket,
            key=key,
            size=len(self.objects[key]),
            sha256=self.metadata[key].get("sha256", ""),
            content_type="application/pdf",
        )
        meta = self.metadata[key]
        return ExistingObject(
            stored=stored,
            source=meta.get("stored-by"),
            fax_id=meta.get("fax-id"),
            user_id=meta.get("user-id"),
        )

    async def put(
        self,
        key: str,
        data: bytes | Upload,
        content_type: str,
        metadata: dict[str, str],
        *,
        if_absent: bool = False,
    ) -> bool:
        if not isinstance(data, bytes):
            data.file.seek(0)
            data = data.file.read()
        if self.fail_puts:
            self.fail_puts -= 1
            raise OSError("store down")
        if if_absent and key in self.objects:
            return False
        self.objects[key] = data
        self.metadata[key] = metadata
        return True

    def presigned_url(self, key: str, expires: timedelta) -> str:
        return f"https://s3.example/{self.bucket}/{key}?expires={int(expires.total_seconds())}"

    async def read_or_none(self, key: str) -> bytes | None:
        return self.objects.get(key)


@dataclass
class FakeEfax:
    """The EfaxClient methods services use; images are `PDF` unless told otherwise."""

    apps: set[uuid.UUID]
    images: dict[uuid.UUID, bytes | EfaxError] = field(default_factory=dict)
    fetched: list[uuid.UUID] = field(default_factory=list)
    deleted: list[uuid.UUID] = field(default_factory=list)
    listings: dict[uuid.UUID, list[ReceivedFax]] = field(default_factory=dict)  # by user
    listed: list[tuple[uuid.UUID, datetime | None, int]] = field(default_factory=list)
    failed_deliveries: list[Any] = field(default_factory=list)

    async def list_received(
        self, app_id: uuid.UUID, user_id: uuid.UUID, *, since: datetime | None, offset: int = 0
    ) -> ReceivedPage:
        self.listed.append((user_id, since, offset))
        faxes = self.listings.get(user_id, [])
        return ReceivedPage(faxes=faxes[offset : offset + PAGE_LIMIT], skipped=0)

    async def list_failed_deliveries(self, app_id: uuid.UUID, since: datetime) -> list[Any]:
        return list(self.failed_deliveries)

    def knows(self, app_id: uuid.UUID) -> bool:
        return app_id in self.apps

    async def get_image(
        self, app_id: uuid.UUID, user_id: uuid.UUID, fax_id: uuid.UUID, fmt: str, cap: int
    ) -> FaxImage:
        self.fetched.append(fax_id)
        image = self.images.get(fax_id, PDF)
        if isinstance(image, EfaxError):
            raise image
        return FaxImage.of(image)

    async def set_image_downloaded(
        self, app_id: uuid.UUID, user_id: uuid.UUID, fax_id: uuid.UUID, value: bool
    ) -> None:
        pass

    async def delete_fax(self, app_id: uuid.UUID, user_id: uuid.UUID, fax_id: uuid.UUID) -> None:
        self.deleted.append(fax_id)

    async def aclose(self) -> None:
        pass


@dataclass
class FakeAdmin:
    """KafkaAdmin's topic calls, counted."""

    existing: set[str] = field(default_factory=set)
    requests: list[list[str]] = field(default_factory=list)
    configs: list[dict[str, str]] = field(default_factory=list)
    closed: bool = False

    def topics(self) -> set[str]:
        return set(self.existing)

    def ensure_topics(
        self,
        names: Iterable[str],
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str] | None = None,
    ) -> list[str]:
        missing = sorted(set(names) - self.existing)
        self.requests.append(missing)
        self.configs.append(dict(configs or {}))
        self.existing |= set(missing)
        return missing

    def close(self) -> None:
        self.closed = True


@contextlib.contextmanager
def settlements() -> Iterator[tuple[MagicMock, MagicMock]]:
    """The acks and nacks of consumed messages (an ack commits the batch's offsets)."""
    with (
        patch.object(KafkaAckableMessage, "ack") as ack,
        patch.object(KafkaAckableMessage, "nack") as nack,
    ):
        yield ack, nack


@contextlib.contextmanager
def failing_outputs(broker: KafkaBroker, *inputs: str) -> Iterator[None]:
    """Publishing to any topic but `inputs` fails, as when the broker stops acknowledging."""
    real = broker.publish

    async def publish(message: Any, topic: str = "", **kwargs: Any) -> Any:
        if topic not in inputs:
            raise ConnectionError("the broker did not acknowledge")
        return await real(message, topic, **kwargs)

    broker.publish = publish  # type: ignore[method-assign]
    try:
        yield
    finally:
        broker.publish = real  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def running(app: FastStream, broker: KafkaBroker) -> AsyncIterator[KafkaBroker]:
    """`app` started in memory with its lifespan hooks (a stop that ends disarms its watchdog)."""
    async with TestKafkaBroker(broker) as br, TestApp(app):
        yield br
