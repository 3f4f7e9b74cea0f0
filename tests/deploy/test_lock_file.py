"""deploy/requirements.txt is written by `make lock` and holds exactly what the project needs."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

from tests.deploy.conftest import ROOT

# deploy/requirements.txt is written by `make lock` (uv pip compile, with hashes). Offline these
# tests cannot resolve again (that is `make lock`'s job; on a current lock it changes nothing):
# they catch a hand edit, i.e. a pin without its hashes or its `# via`, a dependency missing,
# out of its range or left over, and a lock made for another Python than the image's.
LOCK = ROOT / "deploy/requirements.txt"
SANDBOX_LOCK = ROOT / "deploy/requirements-sandbox.txt"  # the sandbox image's: LOCK and more
OURS = "faxrelay (pyproject.toml)"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(lock: Path = LOCK) -> dict[str, tuple[str, list[str], set[str]]]:
    """name -> (version, sha256 hashes, what it is needed by) of each pin in the lock."""
    entries: dict[str, tuple[str, list[str], set[str]]] = {}
    blocks = re.split(r"^(?=[A-Za-z0-9])", lock.read_text(), flags=re.M)
    for block in blocks:
        pin = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if pin is None:
            continue
        via_one = re.findall(r"^    # via (\S.*)$", block, re.M)
        via_many = re.findall(r"^    #   (\S.*)$", block, re.M)
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        entries[normalized(pin[1])] = (pin[2], hashes, set(via_one + via_many))
    return entries


def direct_dependencies(extra: str | None = None) -> list[Requirement]:
    """The project's dependencies, or those of one of its extras."""
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(spec) for spec in specs]


def test_the_lock_is_written_by_make_lock_for_the_images_python() -> None:
    assert LOCK.read_text().splitlines()[1] == "#    make lock", "regenerate it: make lock"
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^lock:.*?(?=^\S|\Z)", makefile, re.M | re.S)
    compile_command = re.search(r"^UV_COMPILE :=.*?(?=^\S|\Z)", makefile, re.M | re.S)
    assert target is not None
    assert compile_command is not None
    assert "$(UV_COMPILE)" in target[0]
    recipe = compile_command[0]
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


def test_the_sandboxs_packages_are_in_the_sandbox_lock_only() -> None:
    # The production image installs LOCK alone; the sandbox's target adds SANDBOX_LOCK, which
    # holds every pin of LOCK unchanged and the sandbox's extra (its API, its fonts).
    target = re.search(r"^lock:.*?(?=^\S|\Z)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert target is not None
    assert (
        "--extra sandbox -c deploy/requirements.txt -o deploy/requirements-sandbox.txt"
        in (target[0])
    )
    assert SANDBOX_LOCK.read_text().splitlines()[1] == "#    make lock", "make lock"
    production, sandbox = lock_entries(), lock_entries(SANDBOX_LOCK)
    for name, (version, hashes, _) in production.items():
        assert sandbox[name][:2] == (version, hashes), f"{name}: make lock"
    extra = {normalized(r.name) for r in direct_dependencies("sandbox")}
    assert extra, "the sandbox extra is empty"
    assert not extra & set(production), (
        f"in the production image: {sorted(extra & set(production))}"
    )
    ours = {name for name, (_, _, via) in sandbox.items() if OURS in via}
    assert ours == {normalized(r.name) for r in direct_dependencies()} | extra, "make lock"
    for name, (version, hashes, via) in sandbox.items():
        assert hashes, f"{name}=={version} has no hash: make lock"
        needed_by = {normalized(v) for v in via if v != OURS and not v.startswith("-c ")}
        assert needed_by <= set(sandbox), f"{name} needed by {needed_by - set(sandbox)}"
