from services.verifier.app import create_app
from services.verifier.settings import VerifierSettings
from shared.runner import run


def main() -> None:
    run("verifier", VerifierSettings, create_app)


if __name__ == "__main__":
    main()
