"""The eFax image answer read in chunks: the JSON scan, strict base64, cap, type, hash, spool."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.images import SPOOL_MEMORY_BYTES, FaxImage, ImageError, ImageReader, read_image

PDF = b"%PDF-1.7\n" + random.Random(7).randbytes(3000)
B64 = base64.b64encode(PDF).decode()
assert "/" in B64
assert "+" in B64


def answer(image: object = B64, **extra: object) -> bytes:
    return json.dumps({"fax_id": "f-1", **extra, "image": image, "file_name": "f.pdf"}).encode()


def pieces(body: bytes, sizes: Iterator[int]) -> Iterator[bytes]:
    at = 0
    while at < len(body):
        size = next(sizes)
        yield body[at : at + size]
        at += size


def feed_all(reader: ImageReader, chunks: Iterator[bytes]) -> FaxImage:
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def read(body: bytes, sizes: Iterator[int] | None = None, *, cap: int = 10**6) -> FaxImage:
    return feed_all(ImageReader("PDF", cap), pieces(body, sizes or itertools.repeat(len(body))))


def reason(body: bytes, sizes: Iterator[int] | None = None, *, cap: int = 10**6) -> str:
    with pytest.raises(ImageError) as caught:
        read(body, sizes, cap=cap)
    return caught.value.reason


def random_sizes(seed: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.choice([1, 2, 3, 4, 5, 7, 64, 1000, 4096])


def test_the_image_is_found_decoded_and_hashed_in_one_chunk() -> None:
    image = read(answer())
    assert image.data == PDF
    assert (image.size, image.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())


@pytest.mark.parametrize("seed", range(20))
def test_random_chunk_sizes_give_the_same_image(seed: int) -> None:
    assert read(answer(), random_sizes(seed)).data == PDF


def test_every_chunk_boundary_of_an_answer_full_of_escapes_gives_the_same_image() -> None:
    small = PDF[:300]
    body = json.dumps(
        {"meta": {"image": "QUJD", "list": [1, -2.5e3, True, None, 'q"\\/\u00e9'], "e": {}},
         "image": base64.b64encode(small).decode(), "after": ["image"]}
    ).encode().replace(b"/", b"\\/")  # fmt: skip  # how PHP's json_encode writes base64
    assert body.count(b"\\/") > 5
    for cut in range(1, len(body)):
        reader = ImageReader("PDF", 10**6)
        reader.feed(body[:cut])
        reader.feed(body[cut:])
        assert reader.finish().data == small, cut
    assert read(body, itertools.repeat(1)).data == small
    assert read(answer().replace(b"/", b"\\/"), itertools.repeat(1)).data == PDF


def test_unicode_escapes_of_base64_characters_are_undone() -> None:
    body = answer().replace(b"A", b"\\u0041").replace(b"/", b"\\u002F")
    assert read(body, itertools.repeat(3)).data == PDF


def test_nested_image_keys_and_an_escaped_key_name_are_told_apart() -> None:
    nested = json.dumps({"image": base64.b64encode(b"GIF89a").decode(), "deeper": [{"image": 5}]})
    body = b'{"inner": %s, "im\\u0061ge": "%s"}' % (nested.encode(), B64.encode())
    assert read(body, itertools.repeat(2)).data == PDF


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"image": "' + B64.encode(),  # cut off inside the string
        answer()[:-1],  # the object never closes
        answer() + b" {}",  # something after it
        b'{"a": 1,, "image": "QUJD"}',
        b'{"a": tru, "image": "QUJD"}',
        b'{"a": "raw \x01 control", "image": "QUJD"}',
        b'{"a": "\\x", "image": "QUJD"}',
    ],
)
def test_an_answer_that_is_not_json_is_undecodable(body: bytes) -> None:
    assert reason(body) == "undecodable_image"
    assert reason(body, itertools.repeat(1)) == "undecodable_image"


@pytest.mark.parametrize(
    "body",
    [
        b'["image"]',
        b'"image"',
        b"{}",
        answer(image=None),
        answer(image=12),
        answer(image={"image": B64}),
        answer(image=""),
        b'{"image": "QUJD", "image": "QUJD"}',
    ],
)
def test_a_missing_or_odd_image_is_undecodable(body: bytes) -> None:
    assert reason(body, itertools.repeat(1)) == "undecodable_image"


@pytest.mark.parametrize(
    "image",
    [
        B64[:100] + "!!*~" + B64[104:],  # a character outside the alphabet
        B64[:-1],  # cut off the 4-character boundary
        B64.rstrip("=") + "===",  # too much padding
        base64.b64encode(b"%PDF-").decode() + B64,  # padding in the middle
        B64[:100] + "=" + B64[101:],
        B64[:100] + "\n" + B64[100:],  # line breaks are not strict base64
        B64[:100] + "\u00e9" + B64[100:],
    ],
)
def test_invalid_base64_is_undecodable_at_every_chunk_size(image: str) -> None:
    for size in (1, 2, 3, 4, 5, 64, 10**6):
        assert reason(answer(image), itertools.repeat(size)) == "undecodable_image", size


def test_padding_at_the_end_of_one_piece_with_more_after_it_is_refused() -> None:
    padded = base64.b64encode(b"%PDF-").decode()  # ends with "="
    body = answer(padded + "QUJD")
    for cut in range(len(body)):
        reader = ImageReader("PDF", 10**6)
        with pytest.raises(ImageError) as caught:
            feed_all(reader, iter([body[:cut], body[cut:]]))
        assert caught.value.reason == "undecodable_image"


def test_a_wrong_type_is_found_on_the_first_bytes() -> None:
    gif = base64.b64encode(b"GIF89a" + bytes(5000)).decode()
    reader = ImageReader("PDF", 10**6)
    with pytest.raises(ImageError) as caught:
        reader.feed(b'{"image": "' + gif[:8].encode())
    assert caught.value.reason == "wrong_image_type"
    assert reason(answer(base64.b64encode(b"%PD").decode())) == "wrong_image_type"


def test_tiff_has_its_own_signatures() -> None:
    for head in (b"II*\x00", b"MM\x00*"):
        reader = ImageReader("TIFF", 10**6)
        reader.feed(answer(base64.b64encode(head + b"rest").decode()))
        assert reader.finish().data == head + b"rest"
    reader = ImageReader("TIFF", 10**6)
    with pytest.raises(ImageError) as caught:
        reader.feed(answer())
    assert caught.value.reason == "wrong_image_type"


def test_too_large_stops_at_the_first_chunk_beyond_the_cap() -> None:
    huge = base64.b64encode(b"%PDF-" + bytes(10**6)).decode()
    body = answer(huge)
    reader = ImageReader("PDF", 1000)
    fed: list[bytes] = []

    def counted() -> Iterator[bytes]:
        for chunk in pieces(body, itertools.repeat(512)):
            fed.append(chunk)
            yield chunk

    with pytest.raises(ImageError) as caught:
        feed_all(reader, counted())
    assert caught.value.reason == "too_large"
    assert sum(map(len, fed)) < 2000, "reading stopped soon after the cap"


def test_an_image_of_exactly_the_cap_passes() -> None:
    assert read(answer(), cap=len(PDF)).size == len(PDF)
    assert reason(answer(), cap=len(PDF) - 1) == "too_large"


def test_a_big_image_keeps_only_the_spool_bound_in_memory() -> None:
    data = b"%PDF-" + random.Random(3).randbytes(3 * SPOOL_MEMORY_BYTES)
    image = read(answer(base64.b64encode(data).decode()), itertools.repeat(65536), cap=10**8)
    assert image.file._rolled  # type: ignore[attr-defined]  # on disk, not in memory
    assert image.data == data
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    image.close()


async def test_reading_an_async_stream_closes_the_spool_on_failure() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"image": "'
        yield B64[:8].encode()
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await read_image(chunks(), "PDF", 10**6)

    async def whole() -> AsyncIterator[bytes]:
        for chunk in pieces(answer(), itertools.repeat(100)):
            yield chunk

    image = await read_image(whole(), "PDF", 10**6)
    assert image.data == PDF
