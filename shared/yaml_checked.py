"""A YAML file read into a pydantic model, any fault named by its file and line: the rules
files of the reader and the router, checked at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The line of the YAML node at a pydantic error's location; `[key]` after a name means
    the line of that name itself (an unknown key), not of its value."""
    if node is None:
        return 1
    parts = list(loc)
    for n, part in enumerate(parts):
        if part == "[key]":
            break
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            node = pair[0] if n + 1 < len(parts) and parts[n + 1] == "[key]" else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
    line: int = node.start_mark.line
    return line + 1


def load_checked(path: Path, model: type[M], error: type[Exception]) -> M:
    """``path`` read as ``model``; raises ``error`` naming the file, and the line at fault."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as cause:
        raise error(f"{path}: cannot be read: {cause}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as cause:
        raise error(f"{path}: not valid YAML: {cause}") from None
    try:
        return model.model_validate(data)
    except ValidationError as cause:
        first = cause.errors()[0]
        at_key = first["type"] == "extra_forbidden"  # an unknown name: its own line
        line = line_of(node, (*first["loc"], "[key]") if at_key else first["loc"])
        where = ".".join(str(p) for p in first["loc"])
        raise error(f"{path}, line {line}: {where}: {first['msg']}") from None
