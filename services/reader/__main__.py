from services.reader.app import create_app
from services.reader.settings import ReaderSettings
from shared.runner import run


def main() -> None:
    run("reader", ReaderSettings, create_app)


if __name__ == "__main__":
    main()
