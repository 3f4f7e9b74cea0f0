from services.poller.app import create_app
from services.poller.settings import PollerSettings
from shared.runner import run


def main() -> None:
    run("poller", PollerSettings, create_app)


if __name__ == "__main__":
    main()
