import asyncio

from services.downloader.app import create_app
from services.downloader.settings import DownloaderSettings
from shared.logs import configure_logging
from shared.tracing import configure_tracing


def main() -> None:
    settings = DownloaderSettings()
    configure_logging(settings, "downloader")
    configure_tracing("downloader")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
