import asyncio
import logging

from services.verifier.app import create_app
from services.verifier.settings import VerifierSettings


def main() -> None:
    settings = VerifierSettings()
    logging.basicConfig(level=settings.log_level)
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
