from services.downloader.app import create_app
from services.downloader.settings import DownloaderSettings
from shared.runner import run


def main() -> None:
    run("downloader", DownloaderSettings, create_app)


if __name__ == "__main__":
    main()
