"""The AsyncAPI document of every topic faxrelay writes, generated from the apps themselves:
each service's `create_app` declares its publishers (`shared.kafka.declare`, with the models and
descriptions of the topic registry in `shared.contracts`) on one broker, and FastStream writes
the document. Nothing is connected and no client is built.

`python -m faxrelay.asyncapi > docs/asyncapi.yaml` regenerates it; a test fails when the
committed document drifts from the code.
"""

from __future__ import annotations

import importlib
import typing
import warnings

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from faxrelay.localstack import SERVICES

USER_ID_PARAMETER = {"user_id": {"description": "The eFax user id (UUID) of the fax's owner."}}
RULE_TOPIC_PARAMETER = {"rule_topic": {"description": "The rest of a topic a routing rule names."}}


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="faxrelay topics")
    for name in SERVICES:
        create_app = importlib.import_module(f"services.{name}.app").create_app
        settings_class = typing.get_type_hints(create_app)["settings"]
        # defaults, not this machine's environment: the document must not depend on it
        create_app(settings_class.model_construct(), broker=broker)
    spec = AsyncAPI(
        broker,
        title="faxrelay",
        version="1.0.0",
        description="Inbound faxes from the eFax Enterprise API, verified, stored and routed.",
    )
    with warnings.catch_warnings():  # fax.notified has two writers (verifier, poller): one channel
        warnings.filterwarnings("ignore", "Overwrite channel handler", RuntimeWarning)
        generated = yaml.safe_load(spec.to_specification().to_yaml())
    generated["channels"]["faxes.user"]["parameters"] = USER_ID_PARAMETER
    generated["channels"]["faxes"]["parameters"] = RULE_TOPIC_PARAMETER
    # FastStream orders channels by hash; sort so the document is stable across runs
    return str(yaml.safe_dump(generated, sort_keys=True, allow_unicode=True))


if __name__ == "__main__":
    print(document(), end="")
