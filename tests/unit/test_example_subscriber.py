"""The example subscriber opens only web links, whatever an event names."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "subscriber.py"


def subscriber() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_subscriber", EXAMPLE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("url", ["file:///etc/passwd", "FILE:///etc/hostname", "ftp://x/y"])
def test_a_link_that_is_not_http_is_refused_before_anything_is_opened(url: str) -> None:
    with pytest.raises(ValueError, match="scheme"):
        subscriber().download(url)
