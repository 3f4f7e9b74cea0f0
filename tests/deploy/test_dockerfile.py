"""The Dockerfile: it copies only files that exist, and the production image has no sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.conftest import ROOT


def test_dockerfile_copies_only_existing_files() -> None:
    sources = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    for line in sources:
        for source in line.split():
            assert (ROOT / source).exists(), source
    assert Path(ROOT / ".dockerignore").exists()


def dockerfile_stages() -> list[tuple[str, str]]:
    """(stage name, its text) in order."""
    text = (ROOT / "Dockerfile").read_text()
    parts = re.split(r"^(?=FROM )", text, flags=re.M)[1:]
    return [(re.match(r"FROM \S+(?: AS (\S+))?", part)[1] or "", part) for part in parts]  # type: ignore[index]


def test_production_image_has_no_sandbox() -> None:
    stages = dict(dockerfile_stages())
    name, last = dockerfile_stages()[-1]
    # The default build (no --target) is the last stage; neither it nor what it is built FROM
    # copies the sandbox.
    chain = [last]
    while (base := re.match(r"FROM (\S+)", chain[-1])) and base[1] in stages:
        chain.append(stages[base[1]])
    for part in chain:
        assert not re.search(r"^COPY .*\bsandbox/", part, re.M), name
        # nor what only the sandbox needs (its extra: starlette, the fonts)
        assert "requirements-sandbox" not in part, name
    assert re.search(r"^COPY sandbox/ sandbox/$", stages["sandbox"], re.M)
    assert re.search(r"^COPY --from=sandbox-build /opt/venv /opt/venv$", stages["sandbox"], re.M)
    assert "-r /tmp/requirements-sandbox.txt" in stages["sandbox-build"]
    # Production code never imports the sandbox.
    for folder in ("shared", "services", "faxrelay"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text()
            assert not re.search(r"^\s*(from|import) sandbox\b", source, re.M), path


def test_the_base_image_is_pinned_by_digest_and_every_stage_starts_from_it() -> None:
    # A tag moves with every upstream rebuild; the digest is the exact image that was reviewed.
    text = (ROOT / "Dockerfile").read_text()
    (pin,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", pin), pin
    stages = [name for name, _ in dockerfile_stages()]
    for name, part in dockerfile_stages():
        (base,) = re.findall(r"^FROM (\S+)", part, re.M)
        assert base == "${PYTHON_IMAGE}" or base in stages, f"{name} starts from {base}"
