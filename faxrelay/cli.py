"""`faxrelay <command>`: up (the whole system on the local stack), a single service, the sandbox,
tail (watch users' topics), backfill, and the operator's verbs: status, find, replay, link.

Every verb that talks to Kafka or the store reads the services' FAXRELAY_* settings (SASL/TLS
included); without FAXRELAY_KAFKA_BOOTSTRAP_SERVERS it finds the local stack of `faxrelay up`."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed
from pathlib import Path

from aiokafka.errors import KafkaConnectionError
from aiokafka.errors import KafkaError as AioKafkaError
from kafka.errors import KafkaError, NoBrokersAvailable
from minio.error import S3Error
from pydantic import ValidationError

from faxrelay import launcher, verbs
from faxrelay.config import DATA_DIR, LauncherSettings, cli_settings
from faxrelay.localstack import SERVICES
from faxrelay.stack_config import BROKERS
from shared.contracts import USER_TOPIC_TEMPLATE, parse_efax_timestamp
from shared.kafka import KafkaSettingsError, check_connection
from shared.settings import ServiceSettings

AGES = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
Verb = Callable[[argparse.Namespace], int]


def since_arg(text: str, now: datetime | None = None) -> datetime:
    """A `--since`: an ISO 8601 time (a date alone is its midnight UTC, no offset is UTC) or an
    age back from now, `30m`, `12h`, `7d`."""
    text = text.strip()
    if age := re.fullmatch(r"(\d+)\s*([mhd])", text):
        return (now or datetime.now(UTC)) - int(age[1]) * AGES[age[2]]
    try:
        parsed = parse_efax_timestamp(text if "T" in text else text + "T00:00:00Z")
    except ValueError:
        parsed = None
    if not isinstance(parsed, datetime):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give e.g. 2026-11-01, 2026-11-01T08:00:00Z, or an age "
            "such as 30m, 12h or 7d"
        )
    return parsed


def settings_refused() -> str | None:
    """Why the broker refused us, when it names a setting (a wrong password or CA)."""
    try:
        asyncio.run(check_connection(cli_settings(ServiceSettings), timeout_s=5))
    except KafkaSettingsError as error:
        return str(error)
    except Exception:  # only a diagnosis: the caller reports the original error
        return None
    return None


def unreachable(error: BaseException) -> str | None:
    """A one-line message for the errors an operator meets; None for a real bug, or for a
    reader that went away (`main` ends quietly then)."""
    if isinstance(error, BrokenPipeError):
        return None
    if isinstance(error, ValidationError):
        return f"settings: {verbs.first_error(error)}"
    if isinstance(error, NoBrokersAvailable | KafkaConnectionError):
        refused = settings_refused()
        if refused:
            return refused
        bootstrap = cli_settings(ServiceSettings).kafka_bootstrap_servers
        return (
            f"cannot reach Kafka at {bootstrap} ({type(error).__name__}); is the broker up "
            "(faxrelay up) and are FAXRELAY_KAFKA_* right?"
        )
    if isinstance(error, KafkaError | AioKafkaError):
        return f"Kafka: {type(error).__name__}: {error}"
    if isinstance(error, S3Error):
        return f"object store: {error.code}: {error.message}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return None


def version() -> str:
    try:
        return installed("faxrelay")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="faxrelay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"faxrelay {version()}")
    commands = p.add_subparsers(dest="command", required=True)
    add_launcher(commands)
    add_operator_verbs(commands)
    add_train(commands)
    return p


def add_train(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "train",
        help="a document-type model (JSON) from a folder of labelled faxes or text files",
        description="FOLDER has one subfolder per document type (referral, lab_result, ...), "
        "each of .txt files or faxes (.pdf, .tif). Set FAXRELAY_READER_MODEL_PATH to the "
        "output for the reader to use it. Needs the train extra (scikit-learn).",
    )
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, default=Path("model.json"))
    p.add_argument("--min-df", type=int, default=2, help="examples a word must be in (>= 1)")
    p.set_defaults(func=run_train)


def run_train(a: argparse.Namespace) -> int:
    """In the reader's own module (the CLI imports no service), as `python -m` runs it."""
    argv = [str(a.folder), "--out", str(a.out), "--min-df", str(a.min_df)]
    return verbs.run_module("services.reader.train", argv)


def add_launcher(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("up", help="run everything on the embedded local stack")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--gateway-port", type=int, help="default FAXRELAY_GATEWAY_PORT, else 8080")
    p.add_argument("--rate", default="1/s", help="sandbox faxes per second (demo traffic)")
    p.add_argument(
        "--broker",
        choices=BROKERS,
        default="tansu",
        help="tansu (default: pip only, starts in under a second) or kafka (Apache Kafka; needs "
        "Java 17+ and Maven, fetches its jars from Maven Central once)",
    )
    p.set_defaults(func=run_up)
    for name in SERVICES:
        p = commands.add_parser(name, help=f"run the {name} service")
        p.set_defaults(func=lambda a: verbs.run_service(a.command))
    p = commands.add_parser("sandbox", help="run the eFax sandbox (python -m sandbox ...)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda a: verbs.run_sandbox(a.rest))


def run_up(a: argparse.Namespace) -> int:
    port = a.gateway_port or LauncherSettings().gateway_port
    return launcher.up(a.data_dir, port, a.rate, a.broker)


def add_operator_verbs(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("tail", help="print one line per fax arriving on users' topics")
    p.add_argument("user_id", nargs="?", help="one user (default: every demo user)")
    p.add_argument("--bootstrap-servers", help="default: FAXRELAY_* or the local stack")
    p.add_argument("--topic-template", default=USER_TOPIC_TEMPLATE)
    p.add_argument("--new-only", action="store_true", help="skip faxes already on the topic")
    p.set_defaults(
        func=lambda a: verbs.run_tail(a.user_id, a.bootstrap_servers, a.topic_template, a.new_only)
    )
    p = commands.add_parser("backfill", help="announce undownloaded faxes since a time")
    p.add_argument(
        "--since", required=True, type=since_arg, help="e.g. 2026-11-01, 2026-11-01T08:00:00Z, 12h"
    )
    p.add_argument("--user", help="one user id (default: every configured user)")
    p.set_defaults(func=lambda a: verbs.run_backfill(a.since, a.user))
    p = commands.add_parser(
        "status", help="records, lag, oldest unprocessed record and last fax per stage"
    )
    p.add_argument("--json", action="store_true", help='one object: {"stages": {name: {...}}}')
    p.set_defaults(func=lambda a: verbs.run_status(a.json))
    p = commands.add_parser("find", help="everything known of one fax, in time order")
    p.add_argument("fax_id")
    p.set_defaults(func=lambda a: verbs.run_find(a.fax_id))
    add_replay(commands)
    p = commands.add_parser("link", help="a fresh presigned download link for a stored fax")
    p.add_argument("fax_id")
    p.add_argument(
        "--expires-s",
        type=int,
        help="lifetime (default FAXRELAY_ROUTER_PRESIGN_EXPIRY_S; an hour where that is 0)",
    )
    p.set_defaults(func=lambda a: verbs.run_link(a.fax_id, a.expires_s))


def add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "replay",
        help="publish failed, rejected or unread faxes again",
        description="failed: the original notifications of fax.download.failed go back to "
        "fax.notified (the downloader skips faxes already stored and announced). rejected: the "
        "original deliveries of fax.webhook.rejected go back to fax.webhook.received and are "
        "verified again (forged ones are rejected again; duplicates collapse). Rejections for "
        "'duplicate' are left out unless --reason duplicate. Each is checked against its "
        "topic's contract before it is sent. unread: the stored records of fax.read.failed go "
        "back to fax.stored, so the reader reads them again (the router may announce the "
        "received event again, with the same id).",
    )
    p.add_argument("kind", choices=("failed", "rejected", "unread"))
    p.add_argument("--reason", help="only this reason, e.g. gone or bad_signature")
    p.add_argument(
        "--since",
        type=since_arg,
        help="only failed/rejected since, e.g. 2026-11-01T08:00:00Z, or an age: 30m, 12h, 7d",
    )
    p.add_argument("--fax", metavar="FAX_ID", help="only this fax")
    p.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    p.add_argument(
        "--include-stored",
        action="store_true",
        help="also the faxes stored since they failed or were rejected (left out by default)",
    )
    p.set_defaults(
        func=lambda a: verbs.run_replay(
            a.kind, a.reason, a.since, a.fax, a.dry_run, a.include_stored
        )
    )


def run(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    func: Verb = args.func
    started = time.monotonic()
    try:
        code = func(args)
    except Exception as error:
        message = unreachable(error)
        if message is None:
            raise
        print(f"faxrelay {args.command}: {message}", file=sys.stderr)
        return 2
    if args.command == "up":
        print(f"ran {time.monotonic() - started:.0f} s")
    return code


def main(argv: list[str] | None = None) -> int:
    """The console script. A reader that stops reading (`faxrelay find X | head`) ends the
    command quietly, as Unix tools do: no traceback, no "Exception ignored" at exit."""
    try:
        try:
            return run(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # what is still buffered can never be written: point stdout at /dev/null so that
        # the interpreter's own flush at exit finds nothing to complain about
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a process killed by SIGPIPE, which the shell reports as 128 + 13


if __name__ == "__main__":
    sys.exit(main())
