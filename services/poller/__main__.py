import asyncio

from services.poller.app import create_app
from services.poller.settings import PollerSettings
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = load_settings(PollerSettings, "poller")
    configure_logging(settings, "poller")
    configure_tracing("poller")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
