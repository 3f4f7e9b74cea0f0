"""The one way a consumer service starts (`python -m services.<name>`): its settings, or one
line naming the bad setting; then logging, tracing and the FastStream app until it stops.
(The gateway starts under uvicorn's workers instead: services/gateway/__main__.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from faststream import FastStream

from shared.logs import configure_logging
from shared.settings import ServiceSettings, load_settings
from shared.tracing import configure_tracing

S = TypeVar("S", bound=ServiceSettings)


def run(name: str, settings_class: type[S], create_app: Callable[[S], FastStream]) -> None:
    """Run the service `name`: `create_app(settings)` until it stops."""
    settings = load_settings(settings_class, name)
    configure_logging(settings, name)
    configure_tracing(name)
    asyncio.run(create_app(settings).run())
