import asyncio

from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = load_settings(RouterSettings, "router")
    configure_logging(settings, "router")
    configure_tracing("router")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
