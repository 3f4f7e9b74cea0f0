import asyncio
import logging

from services.poller.app import create_app
from services.poller.settings import PollerSettings


def main() -> None:
    settings = PollerSettings()
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
