"""docs/adding-a-service.md, checked: every service directory has what the checklist says, and
every place that lists the services lists it (no compose binary or kubectl needed here)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
import yaml

from deploy.settings_doc import SERVICES as DOCUMENTED
from faxrelay.localstack import SERVICES as LAUNCHED
from tests.deploy.conftest import ROOT

NAMES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__init__.py"))
MAX_APP_LINES = 80  # a consumer spells out its supervision (shared.health): six lines


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_checklist_names_every_place_this_test_checks() -> None:
    text = (ROOT / "docs/adding-a-service.md").read_text()
    for place in (
        "settings.py", "app.py", "__main__.py", "faxrelay.localstack.SERVICES",
        "deploy/settings_doc.py", "docker-compose.yml", "deploy/k8s/base/kustomization.yaml",
        "README.md", "shared.contracts.TOPICS",
    ):  # fmt: skip
        assert place in text, place


@pytest.mark.parametrize("name", NAMES)
def test_every_service_has_settings_a_composition_root_and_a_main(name: str) -> None:
    folder = ROOT / "services" / name
    for file in ("settings.py", "app.py", "__main__.py"):
        assert (folder / file).is_file(), f"services/{name}/{file}"
    app = importlib.import_module(f"services.{name}.app")
    parameters = inspect.signature(app.create_app).parameters
    assert next(iter(parameters)) == "settings"
    assert parameters["broker"].kind is inspect.Parameter.KEYWORD_ONLY
    lines = len((folder / "app.py").read_text().splitlines())
    assert lines <= MAX_APP_LINES, f"services/{name}/app.py has {lines} lines: move logic out"
    assert f"services.{name}.app" in (folder / "__main__.py").read_text(), "runs the app"


@pytest.mark.parametrize("name", NAMES)
def test_importing_an_app_builds_no_broker_client_or_settings(name: str) -> None:
    tree = ast.parse((ROOT / "services" / name / "app.py").read_text())
    for node in tree.body:  # module level: only imports, constants, functions and classes
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.Expr):
            value = node.value
            assert not isinstance(value, ast.Call), f"services/{name}/app.py line {node.lineno}"


@pytest.mark.parametrize("name", NAMES)
def test_no_service_imports_another(name: str) -> None:
    for path in (ROOT / "services" / name).glob("*.py"):
        for module in imports(path):
            if module.startswith("services."):
                assert module.split(".")[1] == name, f"{path.relative_to(ROOT)} imports {module}"
            assert not module.startswith("sandbox"), f"{path.relative_to(ROOT)} imports {module}"


def test_shared_and_the_cli_import_no_service() -> None:
    """(faxrelay/asyncapi.py builds the apps through their create_app to write the document;
    it names no service module, it takes them from faxrelay.localstack.SERVICES.) The CLI reads
    the services' settings classes, so that its settings are theirs (faxrelay/config.py), and
    nothing else of a service."""
    for path in [*(ROOT / "shared").glob("*.py"), *(ROOT / "faxrelay").glob("*.py")]:
        for module in imports(path):
            if path.parent.name == "faxrelay" and module.endswith(".settings"):
                continue
            assert not module.startswith("services"), f"{path.relative_to(ROOT)} imports {module}"


def test_every_service_is_launched_documented_composed_deployed_and_in_the_readme() -> None:
    assert sorted(LAUNCHED) == NAMES, "faxrelay.localstack.SERVICES"
    assert sorted(DOCUMENTED) == NAMES, "deploy/settings_doc.py SERVICES"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    commands = {" ".join(s.get("command", [])) for s in compose.values()}
    base = yaml.safe_load((ROOT / "deploy/k8s/base/kustomization.yaml").read_text())
    readme = (ROOT / "README.md").read_text()
    for name in NAMES:
        settings = importlib.import_module(f"services.{name}.settings")
        assert DOCUMENTED[name].__module__ == settings.__name__, name
        assert f"python -m services.{name}" in commands, f"docker-compose.yml runs no {name}"
        assert (ROOT / f"deploy/k8s/base/{name}.yaml").is_file(), name
        assert f"{name}.yaml" in base["resources"], f"deploy/k8s/base/kustomization.yaml: {name}"
        assert f"| [{name}](services/{name}) |" in readme, f"README.md services table: {name}"
