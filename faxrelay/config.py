"""What the operator's verbs read: the services' own settings classes, over the local stack's
environment where the deployment's is silent.

`faxrelay up` writes the stack's environment (`LocalStack.service_env`) to `.faxrelay/local.env`;
every verb reads its settings class from the environment and that file, the environment first.
A deployment that names its own broker (FAXRELAY_KAFKA_BOOTSTRAP_SERVERS) wins whole: the file is
not read then. Nothing here reads `os.environ` itself: pydantic-settings does."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import Field
from pydantic_settings import EnvSettingsSource

from services.downloader.settings import DownloaderSettings
from services.reader.settings import ReaderSettings
from services.router.settings import RouterSettings
from services.verifier.settings import VerifierSettings
from shared.settings import EfaxSettings, ServiceSettings, StorageSettings

DATA_DIR = Path(".faxrelay")
LOCAL_ENV = "local.env"


def _field(cls: type[ServiceSettings], name: str) -> object:
    """A service's own field (default and bounds), so the operator's copy cannot drift."""
    return cls.model_fields[name]


class OpsSettings(ServiceSettings):
    """The services' variables the operator's verbs read: same names, same fields."""

    verifier_group_id: str = _field(VerifierSettings, "verifier_group_id")  # type: ignore[assignment]
    downloader_group_id: str = _field(DownloaderSettings, "downloader_group_id")  # type: ignore[assignment]
    router_group_id: str = _field(RouterSettings, "router_group_id")  # type: ignore[assignment]
    router_user_topic_template: str = _field(RouterSettings, "router_user_topic_template")  # type: ignore[assignment]
    router_read_group_id: str = _field(RouterSettings, "router_read_group_id")  # type: ignore[assignment]
    reader_group_id: str = _field(ReaderSettings, "reader_group_id")  # type: ignore[assignment]


class OpsStoreSettings(OpsSettings, RouterSettings):
    """The verbs that also read the store (find, link): the router's settings, whose
    `router_presign_expiry_s` is the links' lifetime (0: the router makes none)."""

    downloader_image_format: str = _field(DownloaderSettings, "downloader_image_format")  # type: ignore[assignment]


class BackfillSettings(ServiceSettings, EfaxSettings, StorageSettings):
    """The poller's own settings (same variables), without reaching into the poller."""


class LauncherSettings(ServiceSettings):
    """What `faxrelay up` takes from the environment."""

    gateway_port: int = Field(default=8080, ge=0, le=65535)


S = TypeVar("S", bound=ServiceSettings)


def from_environment(cls: type[ServiceSettings]) -> set[str]:
    """The fields of `cls` the environment sets."""
    return set(EnvSettingsSource(cls)())


def local_env_file(data_dir: Path = DATA_DIR) -> Path | None:
    """The local stack's environment, unless the deployment names its own broker."""
    path = data_dir / LOCAL_ENV
    if "kafka_bootstrap_servers" in from_environment(ServiceSettings) or not path.exists():
        return None
    return path


def cli_settings(cls: type[S], data_dir: Path = DATA_DIR) -> S:
    """`cls` from the environment, over the local stack's where the environment is silent."""
    return cls(_env_file=local_env_file(data_dir))


def demo_users(data_dir: Path = DATA_DIR) -> list[str]:
    """The users of the local stack's demo App (none when the environment names the Apps)."""
    if "apps" in from_environment(BackfillSettings) or local_env_file(data_dir) is None:
        return []
    settings = cli_settings(BackfillSettings, data_dir)
    return [str(user) for app in settings.apps for user in app.user_ids]
