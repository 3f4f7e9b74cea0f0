from pydantic import Field

from shared.settings import EfaxSettings, ServiceSettings


class VerifierSettings(ServiceSettings, EfaxSettings):
    verifier_group_id: str = "faxrelay-verifier"
    verifier_duplicate_window_s: float = Field(default=24 * 3600, gt=0)
    verifier_duplicate_window_size: int = Field(default=200_000, ge=100)
    verifier_batch_size: int = Field(default=500, ge=1)
    verifier_max_webhook_age_s: float = Field(
        default=24 * 3600,
        gt=0,
        description="Webhooks whose completed_timestamp is older than this when the gateway took "
        "them are refused (reason stale): eFax signs no timestamp, so this bounds replays.",
    )
