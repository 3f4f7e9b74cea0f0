"""What both HTTP APIs of the sandbox share: the vendor's error envelope and request parsing."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from sandbox.core import Sandbox
from sandbox.settings import ImageFormat

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, element: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.element = status, code, message, element


def envelope(code: str, message: str, element: str = "") -> dict[str, Any]:
    return {
        "errors": [
            {
                "error_code": code,
                "element_name": element,
                "developer_message": message,
                "user_message": message,
                "more_info": "",
            }
        ],
        "transaction_id": str(uuid.uuid4()),
    }


def parse_timestamp(text: str) -> datetime:
    """ISO-8601, leniently: ``Z``, ``+00:00``, ``+0000``, fractions, a date alone, a ``+``
    turned into a space by a client that did not encode the query, naive = UTC."""
    value = text.strip()
    value = re.sub(r"(T\d\d:\d\d(:\d\d(\.\d+)?)?) (\d\d:?\d\d)$", r"\1+\4", value)
    value = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value)
    moment = datetime.fromisoformat(value.replace("z", "Z"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def grant_type_of(body: bytes, from_query: str | None) -> str | None:
    """``grant_type`` from a form body (or, leniently, a JSON body or the query)."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            found = json.loads(text).get("grant_type")
        except (ValueError, AttributeError):
            found = None
    else:
        values = parse_qs(text).get("grant_type")
        found = values[0] if values else None
    return str(found) if found is not None else from_query


def parse_bool(text: str, element: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ApiError(400, "INVALID_PARAMETER", f"{element} must be true or false", element)


def parse_int(text: str | None, default: int, element: str, minimum: int = 0) -> int:
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER", f"{element} must be an integer", element) from None
    if value < minimum:
        raise ApiError(400, "INVALID_PARAMETER", f"{element} must be >= {minimum}", element)
    return value


def parse_format(request: Request, default: ImageFormat) -> ImageFormat:
    raw = request.query_params.get("desired_format", default).strip().upper()
    if raw == "PDF":
        return "PDF"
    if raw in ("TIFF", "TIF"):
        return "TIFF"
    raise ApiError(400, "INVALID_PARAMETER", "desired_format must be PDF or TIFF", "desired_format")


def extension(fmt: ImageFormat) -> str:
    return "pdf" if fmt == "PDF" else "tif"


async def json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(400, "INVALID_BODY", "The body is not valid JSON") from None


async def model_of(request: Request, model: type[BaseModelT]) -> BaseModelT:
    body = await json_body(request) if await request.body() else {}
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "INVALID_BODY", exc.json()) from None


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox
