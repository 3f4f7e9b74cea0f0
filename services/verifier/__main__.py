import asyncio

from services.verifier.app import create_app
from services.verifier.settings import VerifierSettings
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import configure_tracing


def main() -> None:
    settings = load_settings(VerifierSettings, "verifier")
    configure_logging(settings, "verifier")
    configure_tracing("verifier")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
