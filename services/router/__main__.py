import asyncio
import logging

from services.router.app import create_app
from services.router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # the admin client's connection lines
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
