import asyncio

from services.downloader.app import create_app
from services.downloader.settings import DownloaderSettings
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = load_settings(DownloaderSettings, "downloader")
    configure_logging(settings, "downloader")
    configure_tracing("downloader")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
