"""The AsyncAPI document of every topic faxrelay writes, generated from the topic registry
(`shared.contracts.TOPICS`, `USER_TOPIC`).

`python -m faxrelay.asyncapi > docs/asyncapi.yaml` regenerates it; a test fails when the
committed document drifts from the code.
"""

from __future__ import annotations

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared import contracts as c


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="faxrelay topics")
    for topic in c.TOPICS:
        broker.publisher(
            topic.name, schema=topic.model, description=topic.description, title=topic.name
        )
    user = c.USER_TOPIC
    broker.publisher(user.name, schema=user.model, description=user.description, title="faxes.user")
    spec = AsyncAPI(
        broker,
        title="faxrelay",
        version="1.0.0",
        description="Inbound faxes from the eFax Enterprise API, verified, stored and routed.",
    )
    # FastStream orders channels by hash; sort so the document is stable across runs
    generated = yaml.safe_load(spec.to_specification().to_yaml())
    generated["channels"]["faxes.user"]["parameters"] = {
        "user_id": {"description": "The eFax user id (UUID) of the fax's owner."}
    }
    return str(yaml.safe_dump(generated, sort_keys=True, allow_unicode=True))


if __name__ == "__main__":
    print(document(), end="")
