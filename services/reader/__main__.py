import asyncio

from services.reader.app import create_app
from services.reader.settings import ReaderSettings
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = load_settings(ReaderSettings, "reader")
    configure_logging(settings, "reader")
    configure_tracing("reader")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
