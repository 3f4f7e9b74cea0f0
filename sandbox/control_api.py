"""The sandbox's control API, ``/sandbox/...`` (no auth): the HTTP face of ``Sandbox``'s
operations, for tests and benchmarks in other processes."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.core import Order, Sandbox
from sandbox.faults import Faults, Listing
from sandbox.settings import Content, Resolution
from sandbox.state import Fax
from sandbox.web import ApiError, model_of, parse_format, sandbox_of
from sandbox.webhooks import HostileKind


class CreateFaxes(BaseModel):
    app_id: str | None = None
    user_id: str | None = None
    count: int = Field(1, ge=1, le=100_000)
    pages: int = Field(2, ge=1, le=500)
    deliver: bool = True
    size_mb: float | None = Field(None, gt=0, le=200)
    order: Order = "in_order"
    disappear: bool = False
    sending_fax_number: str | None = None
    originating_fax_tsid: str | None = None
    timestamp_style: str | None = None
    content: Content | None = None
    resolution: Resolution | None = None


class Redeliver(BaseModel):
    fax_ids: list[str]
    order: Order = "in_order"
    times: int = Field(1, ge=1, le=1000)


class Duplicate(BaseModel):
    fax_id: str
    times: int = Field(2, ge=1, le=1000)


class Outage(BaseModel):
    seconds: float = Field(ge=0)


class Hostile(BaseModel):
    kind: HostileKind
    fax_id: str | None = None
    app_id: str | None = None
    user_id: str | None = None


def fax_json(sandbox: Sandbox, fax: Fax) -> dict[str, Any]:
    return {
        **fax.metadata(),
        "app_id": fax.app_id,
        "notification_id": fax.notification_id,
        "deleted": fax.deleted,
        "size_mb": fax.size_mb,
        "content": fax.content,
        "resolution": fax.resolution,
        "webhook_body": sandbox.sender.fax_payload(fax),
    }


def control_fax(sandbox: Sandbox, fax_id: str) -> Fax:
    """Any fax of the sandbox, deleted or not, whoever owns it."""
    try:
        return sandbox.fax(fax_id)
    except KeyError:
        raise ApiError(404, "FAX_NOT_FOUND", "No such fax in the sandbox", "fax_id") from None


async def control_faxes(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "GET":
        return JSONResponse([fax_json(sandbox, f) for f in sandbox.faxes()])
    spec = await model_of(request, CreateFaxes)
    try:
        faxes = sandbox.create_faxes(**spec.model_dump())
    except KeyError as exc:
        raise ApiError(400, "UNKNOWN_OWNER", str(exc.args[0])) from None
    return JSONResponse([fax_json(sandbox, f) for f in faxes], 201)


async def control_one_fax(request: Request) -> Response:
    sandbox = sandbox_of(request)
    fax = control_fax(sandbox, request.path_params["fax_id"])
    if request.method == "DELETE":
        sandbox.delete_fax(fax.fax_id)
        return Response(status_code=204)
    return JSONResponse(fax_json(sandbox, fax))


async def control_document(request: Request) -> Response:
    sandbox = sandbox_of(request)
    fax = control_fax(sandbox, request.path_params["fax_id"])
    fmt = parse_format(request, sandbox.settings.default_image_format)
    data = await asyncio.to_thread(sandbox.document, fax.fax_id, fmt)
    media = "application/pdf" if fmt == "PDF" else "image/tiff"
    return Response(data, media_type=media, headers={"X-Sha256": hashlib.sha256(data).hexdigest()})


async def control_truth(request: Request) -> Response:
    sandbox = sandbox_of(request)
    fax = control_fax(sandbox, request.path_params["fax_id"])
    truth = sandbox.truth(fax.fax_id)
    if truth is None:
        raise ApiError(
            409, "NO_GROUND_TRUTH", "The fax carries noise; create it with content=documents"
        )
    return JSONResponse(truth)


async def control_faults(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "POST":
        sandbox.set_faults(await model_of(request, Faults))
    elif request.method == "DELETE":
        sandbox.clear_faults()
    return JSONResponse(sandbox.faults.faults.model_dump())


async def control_listing(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "POST":
        sandbox.set_listing(await model_of(request, Listing))
    return JSONResponse(sandbox.listing.model_dump())


async def control_expire(request: Request) -> Response:
    sandbox_of(request).expire_tokens()
    return JSONResponse({"expired": True})


async def control_outage(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "DELETE":
        sandbox.end_outage()
        return JSONResponse({"outage_s": 0})
    outage = await model_of(request, Outage)
    sandbox.start_outage(outage.seconds)
    return JSONResponse({"outage_s": outage.seconds})


async def control_hostile(request: Request) -> Response:
    sandbox = sandbox_of(request)
    spec = await model_of(request, Hostile)
    if spec.fax_id is not None:
        fax_id = control_fax(sandbox, spec.fax_id).fax_id
    else:
        try:
            created = sandbox.create_faxes(app_id=spec.app_id, user_id=spec.user_id, deliver=False)
        except KeyError as exc:
            raise ApiError(400, "UNKNOWN_OWNER", str(exc.args[0])) from None
        fax_id = created[0].fax_id
    try:
        return JSONResponse(await sandbox.hostile(spec.kind, fax_id))
    except ValueError as exc:
        raise ApiError(400, "NO_WEBHOOK", str(exc)) from None


async def control_duplicate(request: Request) -> Response:
    sandbox = sandbox_of(request)
    spec = await model_of(request, Duplicate)
    fax_id = control_fax(sandbox, spec.fax_id).fax_id
    return JSONResponse({"queued": sandbox.duplicate(fax_id, spec.times)})


async def control_redeliver(request: Request) -> Response:
    sandbox = sandbox_of(request)
    spec = await model_of(request, Redeliver)
    fax_ids = [control_fax(sandbox, i).fax_id for i in spec.fax_ids]
    return JSONResponse({"queued": sandbox.redeliver(fax_ids, spec.order, spec.times)})


async def control_deliveries(request: Request) -> Response:
    sandbox = sandbox_of(request)
    return JSONResponse(
        {
            "deliveries": [d.as_json() for d in sandbox.deliveries()],
            "hostile": sandbox.hostile_log(),
            "pending": sandbox.sender.pending,
        }
    )


async def control_stats(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).stats())


async def control_reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return JSONResponse({"reset": True})


CONTROL_ROUTES = [
    Route("/sandbox/faxes", control_faxes, methods=["GET", "POST"]),
    Route("/sandbox/faxes/{fax_id}", control_one_fax, methods=["GET", "DELETE"]),
    Route("/sandbox/faxes/{fax_id}/document", control_document, methods=["GET"]),
    Route("/sandbox/faxes/{fax_id}/truth", control_truth, methods=["GET"]),
    Route("/sandbox/faults", control_faults, methods=["GET", "POST", "DELETE"]),
    Route("/sandbox/listing", control_listing, methods=["GET", "POST"]),
    Route("/sandbox/tokens/expire", control_expire, methods=["POST"]),
    Route("/sandbox/webhooks/outage", control_outage, methods=["POST", "DELETE"]),
    Route("/sandbox/webhooks/hostile", control_hostile, methods=["POST"]),
    Route("/sandbox/webhooks/duplicate", control_duplicate, methods=["POST"]),
    Route("/sandbox/webhooks/redeliver", control_redeliver, methods=["POST"]),
    Route("/sandbox/deliveries", control_deliveries, methods=["GET"]),
    Route("/sandbox/stats", control_stats, methods=["GET"]),
    Route("/sandbox/reset", control_reset, methods=["POST"]),
]
