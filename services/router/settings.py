from pathlib import Path

from pydantic import Field

from shared.contracts import DAY_MS, USER_TOPIC, USER_TOPIC_TEMPLATE
from shared.settings import ServiceSettings, StorageSettings


class RouterSettings(ServiceSettings, StorageSettings):
    router_group_id: str = "faxrelay-router"
    router_read_group_id: str = "faxrelay-router-read"
    router_unread_group_id: str = "faxrelay-router-unread"
    router_user_topic_template: str = USER_TOPIC_TEMPLATE
    router_rules_file: Path | None = Field(default=None, description="YAML routing rules.")
    router_user_topic_after_reading: bool = Field(
        default=False,
        description="Feed the users' topics from fax.read and fax.read.failed instead of "
        "fax.stored: a user gets both events once the fax is read (or the received event "
        "alone when it could not be), so rules on content (junk) can keep a fax off it; "
        "delivery then waits for reading.",
    )
    router_user_topic_partitions: int = Field(default=1, ge=1)
    router_user_topic_retention_ms: int = Field(
        default=USER_TOPIC.retention_days * DAY_MS,
        ge=-1,
        description="retention.ms of the per-user topics the router creates (-1: forever).",
    )
    router_user_topic_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        description="min.insync.replicas of the per-user topics the router creates "
        "(at most the replication factor; 2 with 3 replicas is the usual choice).",
    )
    router_presign_expiry_s: int = Field(
        default=24 * 3600, ge=0, le=7 * 24 * 3600, description="0 turns download links off."
    )
    router_event_source: str = "/faxrelay/router"
    router_batch_size: int = Field(default=200, ge=1)
