"""A fax image read as eFax sends it, without ever holding it whole.

eFax answers `GET /faxes/{id}/image` with a JSON object whose top-level `"image"` is the document
in base64. `ImageReader` takes the answer in chunks of any size: a small JSON scanner finds that
string (other keys before or after it, `"image"` keys in nested objects ignored, JSON escapes
such as `\\/` undone), base64 is decoded strictly in 4-character pieces, and the bytes are capped,
checked for the format's signature, hashed and written to a spooled file (in memory up to
`SPOOL_MEMORY_BYTES`, then a temporary file). What stays in memory per image is bounded by the
chunk size and the spool's memory part, whatever the image's size.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import tempfile
from collections.abc import AsyncIterable, Callable, Generator
from dataclasses import dataclass
from typing import IO, NoReturn

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


# --- the JSON scanner: a generator fed one chunk at a time --------------------------------------


class _Input:
    """The chunk being scanned; the scanner yields when it has consumed all of it."""

    def __init__(self) -> None:
        self.buf = b""
        self.pos = 0
        self.eof = False


Scan = Generator[None, None, None]
MAX_DEPTH = 64
MAX_SCALAR = 1024
_SPACE = re.compile(rb"[ \t\r\n]*")
_SCALAR = re.compile(rb"[0-9A-Za-z+\-.]*")
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_CONTROL = re.compile(rb"[\x00-\x1f]")
_ESCAPE = re.compile(rb"\\(?!/)")  # any escape but `\/` (base64 meets that one often)
_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\b",
    ord("f"): b"\f",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
}
_NOT_JSON = "image answer is not JSON"


def _end_of(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> int:
    """Where a run of `pattern` (which matches the empty run too) starting at `pos` ends."""
    run = pattern.match(buf, pos)
    assert run is not None
    return run.end()


def _more(inp: _Input) -> Generator[None, None, bool]:
    """Waits for unread input; False at the end of the answer."""
    while inp.pos >= len(inp.buf):
        if inp.eof:
            return False
        yield
    return True


def _peek(inp: _Input) -> Generator[None, None, int]:
    """The next byte that is not whitespace, left unread; the answer must go on."""
    while True:
        if not (yield from _more(inp)):
            raise _undecodable(_NOT_JSON)
        inp.pos = _end_of(_SPACE, inp.buf, inp.pos)
        if inp.pos < len(inp.buf):
            return inp.buf[inp.pos]


def _byte(inp: _Input) -> Generator[None, None, int]:
    if not (yield from _more(inp)):
        raise _undecodable(_NOT_JSON)
    inp.pos += 1
    return inp.buf[inp.pos - 1]


def _expect(inp: _Input, wanted: bytes) -> Scan:
    if (yield from _peek(inp)) != wanted[0]:
        raise _undecodable(_NOT_JSON)
    inp.pos += 1


def _string(inp: _Input, emit: Callable[[bytes], None] | None, *, controls: bool = True) -> Scan:
    """The rest of a string whose opening quote was read; its unescaped bytes go to `emit`.
    Runs without escapes but `\\/` are found with `bytes.find` and undone with one `replace`.
    `controls=False`: `emit` refuses raw control characters itself (strict base64 does)."""
    while True:
        if not (yield from _more(inp)):
            raise _undecodable(_NOT_JSON)
        buf, start = inp.buf, inp.pos
        quote = buf.find(b'"', start)
        end = len(buf) if quote < 0 else quote
        escape = None
        if buf.find(b"\\", start, end) >= 0:  # `\"` too: the search ends before the quote
            escape = _ESCAPE.search(buf, start, end)
            end = end if escape is None else escape.start()
        if controls and _CONTROL.search(buf, start, end):
            raise _undecodable(_NOT_JSON)
        if emit is not None and end > start:
            run = buf[start:end]
            emit(run.replace(b"\\/", b"/") if b"\\" in run else run)
        inp.pos = end + 1
        if escape is None:
            if quote >= 0:
                return
            inp.pos = end
            continue
        char = yield from _byte(inp)  # the escape may go on in the next chunk
        if char == ord("u"):
            digits = b""
            while len(digits) < 4:
                digits += bytes([(yield from _byte(inp))])
            if not _HEX4.fullmatch(digits):
                raise _undecodable(_NOT_JSON)
            text = chr(int(digits, 16)).encode("utf-8", "surrogatepass")
        elif char in _ESCAPES:
            text = _ESCAPES[char]
        else:
            raise _undecodable(_NOT_JSON)
        if emit is not None:
            emit(text)


def _key(inp: _Input) -> Generator[None, None, bytes]:
    """An object key (its opening quote read), unescaped; long keys are cut: never "image"."""
    key = bytearray()

    def keep(text: bytes) -> None:
        if len(key) <= 16:
            key.extend(text[:17])

    yield from _string(inp, keep)
    return bytes(key)


def _scalar(inp: _Input) -> Scan:
    """A number, true, false or null, checked by the json module."""
    token = b""
    while (yield from _more(inp)):
        end = _end_of(_SCALAR, inp.buf, inp.pos)
        token += inp.buf[inp.pos : end]
        inp.pos = end
        if len(token) > MAX_SCALAR:
            raise _undecodable(_NOT_JSON)
        if end < len(inp.buf):
            break
    try:
        json.loads(token)
    except ValueError:
        raise _undecodable(_NOT_JSON) from None


def _value(inp: _Input, depth: int) -> Scan:
    """Any JSON value, checked and skipped."""
    char = yield from _peek(inp)
    if char == ord('"'):
        inp.pos += 1
        yield from _string(inp, None)
    elif char in b"{[":
        if depth >= MAX_DEPTH:
            raise _undecodable(_NOT_JSON)
        inp.pos += 1
        yield from _container(inp, depth + 1, closing=b"}" if char == ord("{") else b"]")
    else:
        yield from _scalar(inp)


def _container(inp: _Input, depth: int, closing: bytes) -> Scan:
    if (yield from _peek(inp)) == closing[0]:
        inp.pos += 1
        return
    while True:
        if closing == b"}":
            yield from _expect(inp, b'"')
            yield from _string(inp, None)
            yield from _expect(inp, b":")
        yield from _value(inp, depth)
        char = yield from _peek(inp)
        inp.pos += 1
        if char == closing[0]:
            return
        if char != ord(","):
            raise _undecodable(_NOT_JSON)


def _answer(inp: _Input, image: Callable[[bytes], None]) -> Generator[None, None, bool]:
    """The whole answer: an object whose top-level "image" string goes to `image`, nothing
    after it but whitespace. True when the image was there."""
    found = False
    if (yield from _peek(inp)) != ord("{"):
        yield from _value(inp, 0)
        raise _undecodable("image answer is not an object")
    inp.pos += 1
    closed = (yield from _peek(inp)) == ord("}")
    inp.pos += closed
    while not closed:
        yield from _expect(inp, b'"')
        key = yield from _key(inp)
        yield from _expect(inp, b":")
        if key == b"image":
            if found:
                raise _undecodable("image answer has two images")
            if (yield from _peek(inp)) != ord('"'):
                raise _undecodable("image is missing or not a string")
            inp.pos += 1
            yield from _string(inp, image, controls=False)
            found = True
        else:
            yield from _value(inp, 1)
        char = yield from _peek(inp)
        inp.pos += 1
        closed = char == ord("}")
        if not closed and char != ord(","):
            raise _undecodable(_NOT_JSON)
    while (yield from _more(inp)):
        inp.pos = _end_of(_SPACE, inp.buf, inp.pos)
        if inp.pos < len(inp.buf):
            raise _undecodable(_NOT_JSON)
    return found


class ImageReader:
    """Reads an image answer fed in chunks of any size: `feed` each chunk, then `finish`.
    Raises `ImageError` as soon as the answer is known to be unusable (stop reading then);
    the spooled file is closed on any error."""

    def __init__(self, image_format: str, max_bytes: int) -> None:
        self._image = _Image(image_format, max_bytes)
        self._base64 = _Base64(self._image.write)
        self._input = _Input()
        self._scan = _answer(self._input, self._base64.feed)
        self._scan.send(None)  # runs to its first wait for input

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._input.buf, self._input.pos = chunk, 0
        self._step()

    def finish(self) -> FaxImage:
        self._input.buf, self._input.pos, self._input.eof = b"", 0, True
        try:
            self._step()
        except StopIteration as done:
            if not done.value:
                self._fail(_undecodable("image is missing or not a string"))
        else:
            raise AssertionError("the scan ended before the answer")
        try:
            self._base64.finish()
            return self._image.finish()
        except ImageError as error:
            self._fail(error)

    def _step(self) -> None:
        try:
            self._scan.send(None)
        except ImageError as error:
            self._fail(error)

    def _fail(self, error: ImageError) -> NoReturn:
        self.close()
        raise error

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
