"""A fax image read as eFax sends it, without ever holding it whole.

eFax answers `GET /faxes/{id}/image` with a JSON object whose top-level `"image"` is the document
in base64. `ImageReader` takes the answer in chunks of any size: `shared.image_answer` finds that
string in the JSON, base64 is decoded strictly in 4-character pieces, and the bytes are capped,
checked for the format's signature, hashed and written to a spooled file (in memory up to
`SPOOL_MEMORY_BYTES`, then a temporary file). What stays in memory per image is bounded by the
chunk size and the spool's memory part, whatever the image's size.
"""

from __future__ import annotations

import binascii
import hashlib
import tempfile
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import IO, TypeVar

from shared.image_answer import AnswerError, AnswerScan

__all__ = [
    "SIGNATURES",
    "SPOOL_MEMORY_BYTES",
    "FaxImage",
    "ImageError",
    "ImageReader",
    "read_image",
]

SIGNATURES = {"PDF": (b"%PDF-",), "TIFF": (b"II*\x00", b"MM\x00*")}
SPOOL_MEMORY_BYTES = 1024 * 1024
T = TypeVar("T")


class ImageError(Exception):
    """The image eFax sent is not usable: undecodable, wrong type or too large."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class FaxImage:
    """A downloaded image in a spooled file, with its size and sha256. Close it once stored."""

    file: IO[bytes]
    size: int
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> FaxImage:
        file = tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES)  # noqa: SIM115 - closed by close()
        file.write(data)
        return cls(file, len(data), hashlib.sha256(data).hexdigest())

    @property
    def data(self) -> bytes:
        """The whole image in memory (tests, small images)."""
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        self.file.close()


def _undecodable(message: str) -> ImageError:
    return ImageError("undecodable_image", message)


class _Image:
    """Decoded bytes: capped, signature checked on the first bytes, hashed, spooled."""

    def __init__(self, image_format: str, max_bytes: int) -> None:
        self.format = image_format
        self.signatures = SIGNATURES[image_format]
        self.head_size = max(len(s) for s in self.signatures)
        self.max_bytes = max_bytes
        self.head = b""
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.file = tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ImageError("too_large", f"image exceeds the cap of {self.max_bytes} bytes")
        if len(self.head) < self.head_size:
            self.head += data[: self.head_size - len(self.head)]
            if len(self.head) == self.head_size:
                self._check_type()
        self.sha256.update(data)
        self.file.write(data)

    def _check_type(self) -> None:
        if not self.head.startswith(self.signatures):
            raise ImageError("wrong_image_type", f"image is not a {self.format} document")

    def finish(self) -> FaxImage:
        if self.size == 0:
            raise _undecodable("image is missing or not a string")
        if len(self.head) < self.head_size:
            self._check_type()
        return FaxImage(self.file, self.size, self.sha256.hexdigest())


class _Base64:
    """Strict base64 (the alphabet, `=` only at the very end, a length multiple of 4), decoded
    in whole 4-character pieces as the text arrives."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self.write = write
        self.pending = b""  # fewer than 4 characters
        self.padded = False  # a piece ended with padding: nothing may follow

    def feed(self, text: bytes) -> None:
        if self.pending:
            text = self.pending + text
        whole = len(text) - len(text) % 4
        self.pending = text[whole:]
        if whole:
            self._decode(text[:whole] if self.pending else text)

    def _decode(self, piece: bytes) -> None:
        if self.padded:
            raise _undecodable("image is not valid base64: data after padding")
        try:
            self.write(binascii.a2b_base64(piece, strict_mode=True))
        except binascii.Error as error:
            raise _undecodable(f"image is not valid base64: {error}") from None
        self.padded = piece.endswith(b"=")

    def finish(self) -> None:
        if self.pending:
            raise _undecodable("image is not valid base64: incorrect padding")


class ImageReader:
    """Reads an image answer fed in chunks of any size: `feed` each chunk, then `finish`.
    Raises `ImageError` as soon as the answer is known to be unusable (stop reading then);
    the spooled file is closed on any error."""

    def __init__(self, image_format: str, max_bytes: int) -> None:
        self._image = _Image(image_format, max_bytes)
        self._base64 = _Base64(self._image.write)
        self._scan = AnswerScan(self._base64.feed)

    def feed(self, chunk: bytes) -> None:
        if chunk:
            self._checked(self._scan.feed, chunk)

    def finish(self) -> FaxImage:
        self._checked(self._scan.finish)
        self._checked(self._base64.finish)
        return self._checked(self._image.finish)

    def _checked(self, step: Callable[..., T], *args: bytes) -> T:
        try:
            return step(*args)
        except AnswerError as error:
            self.close()
            raise _undecodable(str(error)) from None
        except ImageError:
            self.close()
            raise

    def close(self) -> None:
        self._image.file.close()


async def read_image(chunks: AsyncIterable[bytes], image_format: str, max_bytes: int) -> FaxImage:
    """The image of an answer arriving in `chunks`; reading stops at the first problem."""
    reader = ImageReader(image_format, max_bytes)
    try:
        async for chunk in chunks:
            reader.feed(chunk)
        return reader.finish()
    except BaseException:
        reader.close()
        raise
