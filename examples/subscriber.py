"""A downstream team's consumer of faxrelay, using only aiokafka, the CloudEvents SDK and the
standard library: read a user's topic, drop duplicates by event id, download each fax.

    python examples/subscriber.py --user <user_id> --out faxes/

The broker is found as `faxrelay tail` finds it: --bootstrap, else FAXRELAY_KAFKA_BOOTSTRAP_SERVERS,
else the local stack of `faxrelay up` (its port in .faxrelay/config.json), else 127.0.0.1:9092.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings import kafka as ce_kafka


async def consume(bootstrap: str, user_id: str, out: Path, group: str, limit: int | None) -> None:
    consumer = AIOKafkaConsumer(
        f"faxes.user.{user_id}",
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen: set[str] = set()  # keep this in your database to drop duplicates across restarts
    await consumer.start()
    try:
        async for record in consumer:
            message = ce_kafka.KafkaMessage(
                headers=dict(record.headers), key=record.key, value=record.value or b""
            )
            event = ce_kafka.from_binary_event(message)
            fax_id = event.get_id()
            if event.get_type() == "com.faxrelay.fax.read.v1":
                pass  # the fax's text, once read (docs/subscribers.md): not a second fax
            elif fax_id not in seen:
                data = event.get_data()
                assert isinstance(data, dict)
                document = await asyncio.to_thread(download, data["download_url"])
                if hashlib.sha256(document).hexdigest() != data["document"]["sha256"]:
                    raise ValueError(f"fax {fax_id}: downloaded bytes do not match the event")
                path = out / data["document"]["key"].rsplit("/", 1)[-1]
                await asyncio.to_thread(path.write_bytes, document)
                seen.add(fax_id)
                print(f"fax {fax_id} from {data['sending_fax_number']} -> {path}", flush=True)
            await consumer.commit()  # after the fax is safely on disk
            if limit is not None and len(seen) >= limit:
                return
    finally:
        await consumer.stop()


def download(url: str) -> bytes:
    """The fax behind an event's link. Only web links are opened: an event naming `file://`
    (or any other scheme urllib knows) would otherwise read this machine's files."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("https", "http"):  # http: the local stack's object store
        raise ValueError(f"refusing a download link with scheme {scheme!r}")
    with urllib.request.urlopen(url) as answer:  # noqa: S310 - the scheme is checked above
        return bytes(answer.read())


def local_bootstrap(config: Path = Path(".faxrelay/config.json")) -> str:
    if "FAXRELAY_KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return os.environ["FAXRELAY_KAFKA_BOOTSTRAP_SERVERS"]
    if config.exists():
        return f"127.0.0.1:{json.loads(config.read_text())['ports']['kafka']}"
    return "127.0.0.1:9092"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default=local_bootstrap())
    parser.add_argument("--user", required=True)
    parser.add_argument("--out", type=Path, default=Path("faxes"))
    parser.add_argument("--group", default="example-subscriber")
    parser.add_argument("--limit", type=int, help="stop after this many faxes")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(consume(args.bootstrap, args.user, args.out, args.group, args.limit))


if __name__ == "__main__":
    main()
