"""deploy/requirements.txt is written by `make lock` and holds exactly what the project needs."""

from __future__ import annotations

import re

from packaging.requirements import Requirement

from tests.deploy.conftest import ROOT

# deploy/requirements.txt is written by `make lock` (uv pip compile, with hashes). Offline these
# tests cannot resolve again (that is `make lock`'s job; on a current lock it changes nothing):
# they catch a hand edit, i.e. a pin without its hashes or its `# via`, a dependency missing,
# out of its range or left over, and a lock made for another Python than the image's.
LOCK = ROOT / "deploy/requirements.txt"
OURS = "faxrelay (pyproject.toml)"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries() -> dict[str, tuple[str, list[str], set[str]]]:
    """name -> (version, sha256 hashes, what it is needed by) of each pin in the lock."""
    entries: dict[str, tuple[str, list[str], set[str]]] = {}
    blocks = re.split(r"^(?=[A-Za-z0-9])", LOCK.read_text(), flags=re.M)
    for block in blocks:
        pin = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if pin is None:
            continue
        via_one = re.findall(r"^    # via (\S.*)$", block, re.M)
        via_many = re.findall(r"^    #   (\S.*)$", block, re.M)
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        entries[normalized(pin[1])] = (pin[2], hashes, set(via_one + via_many))
    return entries


def direct_dependencies() -> list[Requirement]:
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def test_the_lock_is_written_by_make_lock_for_the_images_python() -> None:
    assert LOCK.read_text().splitlines()[1] == "#    make lock", "regenerate it: make lock"
    target = re.search(r"^lock:.*?(?=^\S|\Z)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert target is not None
    recipe = target[0]
    assert "uv pip compile pyproject.toml" in recipe
    assert "--generate-hashes" in recipe  # the Dockerfile installs with --require-hashes
    image = re.search(r"ARG PYTHON_IMAGE=python:(\d+\.\d+)-", (ROOT / "Dockerfile").read_text())
    assert image is not None
    assert f"--python-version {image[1]} --python-platform linux" in recipe


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    entries = lock_entries()
    for requirement in direct_dependencies():
        name = normalized(requirement.name)
        assert name in entries, f"{name} is not in deploy/requirements.txt: make lock"
        version, _, via = entries[name]
        assert requirement.specifier.contains(version), f"{name}=={version} vs {requirement}"
        assert OURS in via, f"{name}: not marked as ours; make lock"
    for name, (version, hashes, _) in entries.items():
        assert hashes, f"{name}=={version} has no hash: make lock"


def test_the_lock_holds_what_the_project_needs_and_nothing_else() -> None:
    entries = lock_entries()
    ours = {name for name, (_, _, via) in entries.items() if OURS in via}
    assert ours == {normalized(r.name) for r in direct_dependencies()}, "make lock"
    for name, (_, _, via) in entries.items():
        assert via, f"{name}: needed by nothing (a hand-added pin?): make lock"
        needed_by = {normalized(v) for v in via if v != OURS}
        assert needed_by <= set(entries), f"{name} needed by {needed_by - set(entries)}"
