"""The base of our own messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _TopicModel(BaseModel):
    """Our own messages. Extra fields are ignored, not forbidden, on purpose: contracts grow by
    adding optional fields, so during a rolling upgrade an older reader meets fields from a newer
    writer and must keep reading (a tolerant reader; forbidding them would turn every additive
    change into a breaking one)."""

    model_config = ConfigDict(extra="ignore")
