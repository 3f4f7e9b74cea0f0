"""Faxes of healthcare documents with known text: both resolutions, both formats, the ground
truth over the control API, deterministic for a seed."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from conftest import USER_A1, SandboxFactory
from PIL import Image

from sandbox import Sandbox, corpus, render
from sandbox.settings import Resolution
from sandbox.wording import REFERRAL_OPENING
from shared.npi import luhn_digit

TYPES = {
    "cover_sheet",
    "referral",
    "lab_result",
    "imaging_report",
    "prior_authorization",
    "prescription_refill",
    "medical_records_request",
    "insurance_claim",
    "other",
    "junk",
}
HEIGHTS = {"fine": 2156, "standard": 1078}
VERTICAL_DPI = {"fine": 196, "standard": 98}


@pytest.mark.parametrize("resolution", ["fine", "standard"])
def test_tiff_of_documents_decodes_to_group4_pages_at_the_fax_resolution(
    sb: Sandbox, resolution: Resolution
) -> None:
    (fax,) = sb.create_faxes(
        user_id=USER_A1, pages=3, deliver=False, content="documents", resolution=resolution
    )
    data = sb.document(fax.fax_id, "TIFF")
    image = Image.open(io.BytesIO(data))
    assert getattr(image, "n_frames", 1) == 3
    for frame in range(3):
        image.seek(frame)
        assert image.mode == "1"
        assert image.info["compression"] == "group4"
        assert image.size == (1728, HEIGHTS[resolution])
        assert image.info["dpi"] == (204, VERTICAL_DPI[resolution])
        assert image.getextrema() == (0, 255), "page has ink"
    assert 3 * 4_000 < len(data) < 3 * 80_000, "tens of KB a page, as real faxes"


@pytest.mark.parametrize("resolution", ["fine", "standard"])
def test_pdf_of_documents_has_one_ccitt_image_per_page_eleven_inches_tall(
    sb: Sandbox, resolution: Resolution
) -> None:
    # Pillow writes PDFs but cannot read them: read the structure it wrote.
    (fax,) = sb.create_faxes(
        user_id=USER_A1, pages=2, deliver=False, content="documents", resolution=resolution
    )
    data = sb.document(fax.fax_id, "PDF")
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) == 2
    assert data.count(b"/CCITTFaxDecode") >= 2
    heights = re.findall(rb"/Height (\d+)", data)
    assert heights
    assert {int(h) for h in heights} == {HEIGHTS[resolution]}
    boxes = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert len(boxes) == 2
    for width, height in boxes:
        assert float(width) == pytest.approx(1728 / 204 * 72, abs=0.5)
        assert float(height) == pytest.approx(792, abs=0.5), "11 inches at its dpi"


def test_ground_truth_is_served_by_the_control_api(sb: Sandbox) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=4, deliver=False, content="documents")
    answer = httpx.get(f"{sb.base_url}/sandbox/faxes/{fax.fax_id}/truth", trust_env=False)
    assert answer.status_code == 200
    truth = answer.json()
    assert truth == sb.truth(fax.fax_id)
    assert truth["resolution"] == "fine"
    assert truth["dpi"] == [204, 196]
    pages, documents = truth["pages"], truth["documents"]
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert all(p["text"].startswith(p["header"] + "\n") for p in pages)
    assert all(f"P. {n:03d}/004" in p["header"] for n, p in enumerate(pages, start=1))
    covered = [n for d in documents for n in range(d["first_page"], d["last_page"] + 1)]
    assert covered == [1, 2, 3, 4], "documents split the fax without gap or overlap"
    for index, document in enumerate(documents):
        assert document["type"] in TYPES
        fields = document["fields"]
        if "patient_name" in fields:
            first = pages[document["first_page"] - 1]
            assert first["document"] == index
            assert fields["patient_name"] in first["text"]
        if "npi" in fields:
            assert corpus.npi_valid(fields["npi"])


def test_a_fax_of_noise_has_no_ground_truth(sb: Sandbox) -> None:
    (fax,) = sb.create_faxes(user_id=USER_A1, deliver=False)
    answer = httpx.get(f"{sb.base_url}/sandbox/faxes/{fax.fax_id}/truth", trust_env=False)
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["error_code"] == "NO_GROUND_TRUTH"


def test_content_setting_makes_documents_the_default(make_sandbox: SandboxFactory) -> None:
    sb = make_sandbox(content="documents", resolution="standard")
    (fax,) = sb.create_faxes(user_id=USER_A1, pages=1, deliver=False)
    truth = sb.truth(fax.fax_id)
    assert truth is not None
    assert truth["resolution"] == "standard"


def test_the_same_seed_gives_the_same_documents_and_pixels() -> None:
    first, again, other = corpus.compose(11, 3), corpus.compose(11, 3), corpus.compose(12, 3)
    assert first == again
    assert first != other
    doc = first[0]
    pixels = [
        render.render(render.layout(doc.pages[0], doc.font, doc.body_px), "H", "fine", "s:0")
        for _ in range(2)
    ]
    assert pixels[0].tobytes() == pixels[1].tobytes()


def test_sandboxes_with_the_same_seed_serve_the_same_content(
    make_sandbox: SandboxFactory,
) -> None:
    def contents(sb: Sandbox) -> list[object]:
        faxes = sb.create_faxes(
            user_id=USER_A1, count=3, pages=2, deliver=False, content="documents"
        )
        truths = [sb.truth(f.fax_id) for f in faxes]
        return [
            (t["documents"], [p["text"].split("\n", 1)[1] for p in t["pages"]]) for t in truths if t
        ]

    assert contents(make_sandbox(seed=5)) == contents(make_sandbox(seed=5))


def test_corpus_varies_types_layouts_fonts_and_wording() -> None:
    documents = [d for seed in range(80) for d in corpus.compose(seed, 3)]
    assert {d.type for d in documents} == TYPES
    assert {d.layout for d in documents} == {"letter", "form", "table"}
    assert len({d.font for d in documents}) == 4
    texts = [
        render.layout(d.pages[0], d.font, d.body_px).text().replace("\n", " ")
        for d in documents
        if d.type == "referral"
    ]
    openings = {t.split("{")[0] for t in REFERRAL_OPENING}
    used = {o for o in openings for text in texts if o in text}
    assert used == openings, "each wording of the opening sentence is used"


def test_npis_carry_a_valid_luhn_check_digit() -> None:
    assert corpus.npi_valid("1234567893"), "the CMS example NPI"
    assert not corpus.npi_valid("1234567890")
    assert luhn_digit("7992739871") == "3"
    npis = [d.fields["npi"] for s in range(30) for d in corpus.compose(s, 2) if "npi" in d.fields]
    assert npis
    assert all(corpus.npi_valid(n) for n in npis)


def test_a_page_of_text_is_tens_of_kilobytes_and_quick_to_render(sb: Sandbox) -> None:
    faxes = sb.create_faxes(user_id=USER_A1, count=4, pages=1, deliver=False, content="documents")
    sizes = [len(sb.document(f.fax_id, "TIFF")) for f in faxes]
    assert all(3_000 < size < 80_000 for size in sizes), sizes


def test_every_type_comes_in_several_titles_and_label_sets() -> None:
    """So that a rule tuned to one template does not pass: each type has several headings, and
    the types that are letters or forms come as both."""
    documents = [d for seed in range(400) for d in corpus.compose(seed, 3)]
    titles: dict[str, set[str]] = {}
    layouts: dict[str, set[str]] = {}
    for d in documents:
        first = render.layout(d.pages[0], d.font, d.body_px).text().split("\n")
        titles.setdefault(d.type, set()).add("\n".join(first[:3]))
        layouts.setdefault(d.type, set()).add(d.layout)
    assert set(titles) == TYPES
    assert all(len(t) >= 3 for t in titles.values()), {k: len(v) for k, v in titles.items()}
    for kind in ("referral", "imaging_report", "prior_authorization", "medical_records_request",
                 "prescription_refill", "other"):  # fmt: skip
        assert len(layouts[kind]) == 2, kind


def test_the_new_types_have_exact_fields_in_their_text() -> None:
    seen = set()
    for seed in range(300):
        for d in corpus.compose(seed, 3):
            if d.type not in ("insurance_claim", "other"):
                continue
            seen.add(d.type)
            text = render.layout(d.pages[0], d.font, d.body_px).text()
            for name in ("patient_name", "mrn", "npi", "provider", "phone", "fax"):
                if name in d.fields:
                    assert d.fields[name] in text, (seed, name)
            if d.type == "insurance_claim":
                assert corpus.npi_valid(d.fields["npi"])
                assert set(d.fields) == {
                    "patient_name", "dob", "mrn", "provider", "npi", "date_of_service"
                }  # fmt: skip
            else:  # a notice's date, the letterhead's numbers, maybe a patient
                patient = {"patient_name", "dob", "mrn"}
                letterhead = {"phone", "fax"} if d.layout == "letter" else set()
                assert set(d.fields) in ({"date"} | letterhead, {"date"} | letterhead | patient)
    assert seen == {"insurance_claim", "other"}


def test_every_field_of_the_truth_is_printed_on_the_document() -> None:
    """Names, numbers and identifiers as printed (dates and phones are printed in many forms)."""
    for seed in range(200):
        for d in corpus.compose(seed, 4):
            text = "\n".join(render.layout(page, d.font, d.body_px).text() for page in d.pages)
            for name in ("patient_name", "mrn", "npi", "provider", "to", "from", "re"):
                if name in d.fields:
                    assert d.fields[name] in text, (seed, d.type, name)


def test_a_number_printed_as_an_accession_or_specimen_number_is_not_the_patients_mrn() -> None:
    printed_as = {"with": 0, "without": 0}
    for seed in range(200):
        for d in corpus.compose(seed, 2):
            if d.type not in ("lab_result", "imaging_report"):
                continue
            text = render.layout(d.pages[0], d.font, d.body_px).text()
            specimen = re.search(r"^(Accession|Accession #|Specimen ID):", text, re.M) is not None
            assert ("mrn" in d.fields) != specimen, seed
            printed_as["without" if specimen else "with"] += 1
    assert min(printed_as.values()) >= 10, printed_as


def test_a_document_after_its_first_page_says_it_goes_on() -> None:
    """Pages after a document's first carry a page number or 'continued', as offices print."""
    checked = 0
    for seed in range(200):
        for d in corpus.compose(seed, 6):
            for n, blocks in enumerate(d.pages[1:], start=2):
                text = render.layout(blocks, d.font, d.body_px).text()
                if d.type == "junk":
                    continue
                assert f"Page {n}" in text or "continued" in text.lower(), (seed, d.type)
                checked += 1
    assert checked > 50
