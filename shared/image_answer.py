"""The scan of eFax's image answer, a JSON object, as it arrives in chunks of any size.

`AnswerScan` finds the top-level `"image"` string and hands its bytes on as they come, JSON
escapes such as `\\/` undone; other keys before or after it, and `"image"` keys in nested
objects, are checked as JSON and skipped. It knows nothing of base64 or image formats
(`shared.images` does): it raises `AnswerError` when the answer is not such an object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator

__all__ = ["AnswerError", "AnswerScan"]


class AnswerError(ValueError):
    """The answer is not a JSON object with one top-level "image" string."""


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
            raise AnswerError(_NOT_JSON)
        inp.pos = _end_of(_SPACE, inp.buf, inp.pos)
        if inp.pos < len(inp.buf):
            return inp.buf[inp.pos]


def _byte(inp: _Input) -> Generator[None, None, int]:
    if not (yield from _more(inp)):
        raise AnswerError(_NOT_JSON)
    inp.pos += 1
    return inp.buf[inp.pos - 1]


def _expect(inp: _Input, wanted: bytes) -> Scan:
    if (yield from _peek(inp)) != wanted[0]:
        raise AnswerError(_NOT_JSON)
    inp.pos += 1


def _string(inp: _Input, emit: Callable[[bytes], None] | None, *, controls: bool = True) -> Scan:
    """The rest of a string whose opening quote was read; its unescaped bytes go to `emit`.
    Runs without escapes but `\\/` are found with `bytes.find` and undone with one `replace`.
    `controls=False`: `emit` refuses raw control characters itself (strict base64 does)."""
    while True:
        if not (yield from _more(inp)):
            raise AnswerError(_NOT_JSON)
        buf, start = inp.buf, inp.pos
        quote = buf.find(b'"', start)
        end = len(buf) if quote < 0 else quote
        escape = None
        if buf.find(b"\\", start, end) >= 0:  # `\"` too: the search ends before the quote
            escape = _ESCAPE.search(buf, start, end)
            end = end if escape is None else escape.start()
        if controls and _CONTROL.search(buf, start, end):
            raise AnswerError(_NOT_JSON)
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
                raise AnswerError(_NOT_JSON)
            text = chr(int(digits, 16)).encode("utf-8", "surrogatepass")
        elif char in _ESCAPES:
            text = _ESCAPES[char]
        else:
            raise AnswerError(_NOT_JSON)
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
            raise AnswerError(_NOT_JSON)
        if end < len(inp.buf):
            break
    try:
        json.loads(token)
    except ValueError:
        raise AnswerError(_NOT_JSON) from None


def _value(inp: _Input, depth: int) -> Scan:
    """Any JSON value, checked and skipped."""
    char = yield from _peek(inp)
    if char == ord('"'):
        inp.pos += 1
        yield from _string(inp, None)
    elif char in b"{[":
        if depth >= MAX_DEPTH:
            raise AnswerError(_NOT_JSON)
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
            raise AnswerError(_NOT_JSON)


def _answer(inp: _Input, image: Callable[[bytes], None]) -> Generator[None, None, bool]:
    """The whole answer: an object whose top-level "image" string goes to `image`, nothing
    after it but whitespace. True when the image was there."""
    found = False
    if (yield from _peek(inp)) != ord("{"):
        yield from _value(inp, 0)
        raise AnswerError("image answer is not an object")
    inp.pos += 1
    closed = (yield from _peek(inp)) == ord("}")
    inp.pos += closed
    while not closed:
        yield from _expect(inp, b'"')
        key = yield from _key(inp)
        yield from _expect(inp, b":")
        if key == b"image":
            if found:
                raise AnswerError("image answer has two images")
            if (yield from _peek(inp)) != ord('"'):
                raise AnswerError("image is missing or not a string")
            inp.pos += 1
            yield from _string(inp, image, controls=False)
            found = True
        else:
            yield from _value(inp, 1)
        char = yield from _peek(inp)
        inp.pos += 1
        closed = char == ord("}")
        if not closed and char != ord(","):
            raise AnswerError(_NOT_JSON)
    while (yield from _more(inp)):
        inp.pos = _end_of(_SPACE, inp.buf, inp.pos)
        if inp.pos < len(inp.buf):
            raise AnswerError(_NOT_JSON)
    return found


class AnswerScan:
    """Scans an answer fed in chunks: `feed` each chunk, then `finish`. The image string's bytes
    go to `image` as they are found; whatever `image` raises goes through unchanged."""

    def __init__(self, image: Callable[[bytes], None]) -> None:
        self._input = _Input()
        self._scan = _answer(self._input, image)
        self._scan.send(None)  # runs to its first wait for input

    def feed(self, chunk: bytes) -> None:
        self._input.buf, self._input.pos = chunk, 0
        self._scan.send(None)

    def finish(self) -> None:
        """The answer ended: raises `AnswerError` unless it was whole and had the image."""
        self._input.buf, self._input.pos, self._input.eof = b"", 0, True
        try:
            self._scan.send(None)
        except StopIteration as done:
            if not done.value:
                raise AnswerError("image is missing or not a string") from None
        else:
            raise AssertionError("the scan ended before the answer")
