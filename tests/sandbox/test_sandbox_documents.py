"""Fax documents: real PDFs and group-4 TIFFs at fax resolution, stable bytes per fax."""

from __future__ import annotations

import base64
import hashlib
import io
import re

import httpx
from conftest import USER_A1, Efax, SandboxFactory
from PIL import Image

from sandbox import Sandbox


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_pdf_starts_with_the_magic_and_has_one_page_object_per_page(sb: Sandbox) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=3, deliver=False)
    data = sb.document(fax.fax_id, "PDF")
    assert data.startswith(b"%PDF-")
    assert pdf_page_count(data) == 3
    assert b"/CCITTFaxDecode" in data
    assert b"/Count 3" in data


def test_tiff_is_bilevel_group4_multipage_at_fax_resolution(sb: Sandbox) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=4, deliver=False)
    data = sb.document(fax.fax_id, "TIFF")
    image = Image.open(io.BytesIO(data))
    assert getattr(image, "n_frames", 1) == 4
    for frame in range(4):
        image.seek(frame)
        assert image.mode == "1"
        assert image.info["compression"] == "group4"
        assert image.size == (1728, 2156)
        assert image.info["dpi"] == (204, 196)
        assert image.getextrema() == (0, 255), "page has ink"
    assert 4 * 10_000 < len(data) < 4 * 120_000


def test_standard_resolution_halves_the_page_height(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(resolution="standard")
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=1, deliver=False)
    image = Image.open(io.BytesIO(sb.document(fax.fax_id, "TIFF")))
    assert image.size == (1728, 1078)


def test_documents_differ_per_fax_and_are_identical_across_requests(
    sb: Sandbox, efax: Efax
) -> None:
    faxes = sb.create_faxes(user_id=USER_A1, count=3, pages=2, deliver=False)
    for fmt in ("PDF", "TIFF"):
        digests = {hashlib.sha256(sb.document(f.fax_id, fmt)).hexdigest() for f in faxes}
        assert len(digests) == 3
        first = efax.image(faxes[0].fax_id, fmt=fmt)
        assert first == efax.image(faxes[0].fax_id, fmt=fmt) == sb.document(faxes[0].fax_id, fmt)


def test_rendering_is_deterministic_so_a_fresh_cache_rebuilds_the_same_bytes(
    sb: Sandbox,
) -> None:
    from sandbox.documents import Documents

    (fax,) = sb.create_faxes(user_id=USER_A1, pages=2, deliver=False)
    record = sb.fax(fax.fax_id)
    fresh = Documents(sb.settings)
    for fmt in ("PDF", "TIFF"):
        assert fresh.document(record, fmt) == sb.document(fax.fax_id, fmt)


def test_page_kb_scales_the_page_size(make_sandbox: SandboxFactory) -> None:
    sizes = []
    for page_kb in (10, 60):
        sb = make_sandbox(page_kb=page_kb)
        (fax,) = sb.create_faxes(user_id=USER_A1, pages=2, deliver=False)
        sizes.append(len(sb.document(fax.fax_id, "TIFF")) / 2 / 1024)
    assert sizes[0] < 25 < 40 < sizes[1] < 110


def test_template_mode_serves_shared_bytes_for_speed(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(unique_documents=False)
    faxes = sb.create_faxes(user_id=USER_A1, count=3, pages=2, deliver=False)
    assert len({sb.document(f.fax_id, "PDF") for f in faxes}) == 1
    other = sb.create_faxes(user_id=USER_A1, pages=3, deliver=False)[0]
    assert sb.document(other.fax_id, "PDF") != sb.document(faxes[0].fax_id, "PDF")


def test_a_20_mb_fax_is_served_and_a_cap_answers_413(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(max_image_bytes=25 * 1024 * 1024)
    (big,) = sb.create_faxes(user_id=USER_A1, size_mb=20, deliver=False)
    (small,) = sb.create_faxes(user_id=USER_A1, size_mb=2, deliver=False)
    client = Efax(sb.base_url)
    data = client.image(big.fax_id, fmt="TIFF")
    assert 20 * 1024 * 1024 <= len(data) < 26 * 1024 * 1024
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == big.pages
    capped = make_sandbox(max_image_bytes=1024 * 1024)
    (fax,) = capped.create_faxes(user_id=USER_A1, size_mb=2, deliver=False)
    response = Efax(capped.base_url).request("GET", f"/faxes/{fax.fax_id}/image")
    assert response.status_code == 413
    assert response.json()["errors"][0]["error_code"] == "IMAGE_TOO_LARGE"
    assert small.pages < big.pages


def test_control_document_serves_raw_bytes_with_their_sha256(sb: Sandbox) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=2, deliver=False)
    response = httpx.get(
        f"{sb.base_url}/sandbox/faxes/{fax.fax_id}/document", params={"desired_format": "TIFF"}
    )
    assert response.headers["content-type"] == "image/tiff"
    assert response.headers["X-Sha256"] == hashlib.sha256(response.content).hexdigest()
    assert response.content == sb.document(fax.fax_id, "TIFF")
    served = Efax(sb.base_url).request(
        "GET", f"/faxes/{fax.fax_id}/image", params={"desired_format": "tiff"}
    )
    assert base64.b64decode(served.json()["image"]) == response.content
