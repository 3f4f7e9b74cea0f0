"""The object store (any S3 endpoint) through the minio SDK, in the shape the pipeline needs."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import IO, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.credentials.credentials import Credentials
from minio.error import S3Error
from minio.helpers import DictType, genheaders
from minio.sse import SseS3

from shared.contracts import FaxNotified, StoredObject
from shared.metrics import timed_store_call
from shared.settings import StorageSettings
from shared.tracing import store_span

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPES = {"PDF": "application/pdf", "TIFF": "image/tiff"}
EXTENSIONS = {"PDF": "pdf", "TIFF": "tif"}


def object_key(fax: FaxNotified, image_format: str) -> str:
    """Deterministic: the same fax always lands on the same key, whoever announced it."""
    day = fax.completed_at.strftime("%Y/%m/%d")
    return f"{fax.user_id}/{day}/{fax.fax_id}.{EXTENSIONS[image_format]}"


def object_keys(fax: FaxNotified) -> set[str]:
    """The keys a fax can have been stored under, one per image format."""
    return {object_key(fax, image_format) for image_format in EXTENSIONS}


def text_key(fax: FaxNotified) -> str:
    """Where a fax's text is stored: next to its image, derived the same way (whatever the
    image's format, one text per fax)."""
    day = fax.completed_at.strftime("%Y/%m/%d")
    return f"{fax.user_id}/{day}/{fax.fax_id}.text.json"


@dataclass(frozen=True)
class ExistingObject:
    stored: StoredObject
    source: str | None = None  # the record that stored it (`stored_by` metadata)
    fax_id: str | None = None  # the fax and its owner, as the downloader wrote them
    user_id: str | None = None


MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
# The store refusing this very request, not being unavailable: sending it again cannot help.
REQUEST_AT_FAULT = {
    "InvalidArgument",
    "InvalidRequest",
    "InvalidObjectName",
    "KeyTooLongError",
    "MetadataTooLarge",
    "EntityTooLarge",
    "BadRequest",
}


def refused_for_good(error: BaseException) -> bool:
    """True for an object the store will never take as it is: a request that cannot even be
    formed (a header value that is not ASCII, or holds a line break) or one it refuses as bad."""
    if isinstance(error, S3Error):
        return error.code in REQUEST_AT_FAULT
    return isinstance(error, ValueError)


class Upload(Protocol):
    """A body sent from a file, its size and sha256 known beforehand (a downloaded image)."""

    file: IO[bytes]
    size: int
    sha256: str


class _FileBody:
    """An `Upload` as urllib3 sends it: read in blocks, rewound for each of its retries."""

    def __init__(self, upload: Upload) -> None:
        self.file, self.size, self.sha256 = upload.file, upload.size, upload.sha256
        self.file.seek(0)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()


class _Minio(Minio):
    """minio, signing a `_FileBody` with the length and sha256 it carries: the SDK itself
    signs only bytes, hashing the whole body (over plain HTTP) each time it sends one."""

    def _build_headers(
        self,
        host: str,
        headers: DictType | None = None,
        body: bytes | _FileBody | None = None,
        creds: Credentials | None = None,
    ) -> tuple[DictType, datetime]:
        if not isinstance(body, _FileBody):
            return super()._build_headers(host, headers, body, creds)
        built, date = super()._build_headers(host, headers, None, creds)
        built["Content-Length"] = str(body.size)
        if creds:  # signed over HTTPS too, where minio would send UNSIGNED-PAYLOAD
            built["x-amz-content-sha256"] = body.sha256
        return built, date


def make_minio(settings: StorageSettings, *, connections: int = 10) -> Minio:
    """A client whose pool keeps `connections` connections (minio's default keeps 10): one per
    worker thread, so no thread waits for or discards a connection."""
    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=300, read=300),
        maxsize=connections,
        blocksize=256 * 1024,  # a file body is sent in blocks of this size (urllib3's: 16 KiB)
        ssl_context=ssl.create_default_context() if settings.s3_secure else None,
        retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return _Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
        http_client=pool,
    )


def make_signer(settings: StorageSettings) -> Minio | None:
    """A client that only signs links for `s3_public_endpoint` (same keys and region, so signing
    needs no request to it), or None when links are signed for the services' own endpoint."""
    public = settings.s3_public_endpoint
    if not public:
        return None
    secure = settings.s3_secure
    if "://" in public:
        url = urlsplit(public)
        secure, public = url.scheme == "https", url.netloc
    return Minio(
        public,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=secure,
        region=settings.s3_region,
    )


class FaxStore:
    """Fax images in one bucket. Blocking SDK calls run in worker threads: `threads` of its own
    (sized to the downloads at once), or asyncio's default pool. Links are signed by `signer`
    when given (another endpoint than the one the services use)."""

    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        encrypt: bool = False,
        threads: int | None = None,
        signer: Minio | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.sse = SseS3() if encrypt else None
        self.signer = signer or client
        self._pool = ThreadPoolExecutor(threads, "faxstore") if threads else None

    async def _run(self, operation: str, call: Callable[..., T], *args: Any) -> T:
        """A blocking store call on the store's own threads, timed by operation."""
        loop = asyncio.get_running_loop()
        with store_span(operation):
            result: T = await timed_store_call(
                operation, partial(call, *args), run=lambda c: loop.run_in_executor(self._pool, c)
            )
        return result

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as error:
                if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    async def find(self, key: str) -> ExistingObject | None:
        return await self._run("stat", self._find, key)

    def _find(self, key: str) -> ExistingObject | None:
        """One HEAD: the object's size, checksum and the metadata the downloader wrote."""
        try:
            stat = self.client.stat_object(self.bucket, key)
        except S3Error as error:
            if error.code in MISSING:
                return None
            raise
        metadata = {k.lower(): v for k, v in (stat.metadata or {}).items()}
        stored = StoredObject(
            bucket=self.bucket,
            key=key,
            size=stat.size or 0,
            sha256=metadata.get("x-amz-meta-sha256", ""),
            content_type=stat.content_type or "application/octet-stream",
        )
        return ExistingObject(
            stored=stored,
            source=metadata.get("x-amz-meta-stored-by"),
            fax_id=metadata.get("x-amz-meta-fax-id"),
            user_id=metadata.get("x-amz-meta-user-id"),
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
        """Write the object in one request, from bytes or from a file (`Upload`, sent as it is
        read, rewound for each attempt). With `if_absent`, only if the key is free
        (`If-None-Match: *`, which AWS S3, MinIO and SeaweedFS honour): False when it was not."""
        return await self._run("put", self._put, key, data, content_type, metadata, if_absent)

    def _put(
        self,
        key: str,
        data: bytes | Upload,
        content_type: str,
        metadata: dict[str, str],
        if_absent: bool,
    ) -> bool:
        headers = genheaders(metadata, self.sse, None, None, False)  # type: ignore[arg-type]
        headers["Content-Type"] = content_type
        if if_absent:
            headers["If-None-Match"] = "*"
        body: bytes | _FileBody
        if isinstance(data, bytes):
            body = data
        elif isinstance(self.client, _Minio):
            body = _FileBody(data)
        else:  # a plain minio client (tests) signs bytes only
            data.file.seek(0)
            body = data.file.read()
        try:
            # minio's put_object takes no precondition header; its single-part PUT does
            self.client._put_object(self.bucket, key, body, headers)  # type: ignore[arg-type]
        except S3Error as error:
            if if_absent and error.code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def presigned_url(self, key: str, expires: timedelta) -> str:
        return str(self.signer.presigned_get_object(self.bucket, key, expires=expires))

    def read(self, key: str) -> bytes:
        response = self.client.get_object(self.bucket, key)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    async def read_or_none(self, key: str) -> bytes | None:
        return await self._run("get", self._read_or_none, key)

    def _read_or_none(self, key: str) -> bytes | None:
        try:
            return self.read(key)
        except S3Error as error:
            if error.code in MISSING:
                return None
            raise
