from services.router.app import create_app
from services.router.settings import RouterSettings
from shared.runner import run


def main() -> None:
    run("router", RouterSettings, create_app)


if __name__ == "__main__":
    main()
