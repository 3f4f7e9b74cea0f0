import asyncio
import logging

from services.downloader.app import create_app
from services.downloader.settings import DownloaderSettings


def main() -> None:
    settings = DownloaderSettings()
    logging.basicConfig(level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
