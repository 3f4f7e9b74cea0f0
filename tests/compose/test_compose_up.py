"""docker-compose.yml started for real (`make test-compose`, as root; CI runs it): Docker Compose v2
on podman, on local stand-ins for the pulled images (tests/compose/lane.py says how and why).

The stack is the shipped compose file with the sandbox profile, plus deploy/compose-lane/
override.yml (build arguments only); the settings are .env.example and the example secrets with
FAXRELAY_LOCAL_STACK=true, as docs/platform.md's sandbox demo. The sandbox sends demo faxes at
1/s from the start, so faxes flow without the test sending any.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition

from faxrelay.kafka_broker import kafka_version
from shared.contracts import (
    DOWNLOAD_FAILED,
    FAX_NOTIFIED,
    DownloadFailed,
    FaxNotified,
    FaxReceivedData,
    Source,
    UserEventData,
)
from tests.compose.lane import PROJECT, REPO, STAND_INS, Lane, qualified, started_lane, wait_until

USERS = re.findall(
    r'"user_ids": \[([^\]]*)\]',
    (REPO / "deploy/compose/secrets.example/efax-api.env").read_text(),
)


def demo_users() -> list[str]:
    return re.findall(r'"([0-9a-f-]{36})"', USERS[0])


def pulled_images() -> set[str]:
    """Every image the lane's `up` pulls: the compose file's images without a build (default and
    sandbox profiles), and the base of our Dockerfile."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    images = {
        service["image"]
        for service in compose["services"].values()
        if "build" not in service and set(service.get("profiles", ["sandbox"])) & {"sandbox"}
    }
    return images | {lane_base_image()}


def lane_base_image() -> str:
    """The Dockerfile's base as the lane builds it: by its tag, without the pinned digest (a
    local stand-in cannot have the real image's digest; override.yml passes the tag instead)."""
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base is not None
    return base.group(1).split("@", 1)[0]


@pytest.mark.tools
def test_stand_ins_carry_exactly_the_names_compose_pulls() -> None:
    """A version bump in docker-compose.yml or the Dockerfile cannot leave the lane testing
    another version: each stand-in is built under the very name and tag that is pulled."""
    assert set(STAND_INS) == pulled_images()
    # every image the lane builds gets the stand-in's tag as its base
    override = yaml.safe_load((REPO / "deploy/compose-lane/override.yml").read_text())
    for name, service in override["services"].items():
        assert service["build"]["args"]["PYTHON_IMAGE"] == lane_base_image(), name
    for folder in STAND_INS.values():
        assert (REPO / "deploy" / "compose-lane" / folder / "Dockerfile").exists()
    # and the Kafka stand-in runs the jars of that very version
    assert f"apache/kafka:{kafka_version()}" in STAND_INS


@pytest.fixture(scope="module")
def lane() -> Iterator[Lane]:
    with started_lane() as running:
        yield running


def all_healthy(lane: Lane) -> list[dict[str, object]] | None:
    containers = lane.containers()
    for c in containers:
        if c["Service"] == "init":
            if c["State"] == "exited" and c["ExitCode"] != 0:
                raise AssertionError(f"the init job failed: {lane.podman('logs', str(c['Name']))}")
        elif c["State"] == "exited":
            raise AssertionError(
                f"{c['Name']} exited: {lane.podman('logs', str(c['Name']))[-3000:]}"
            )
    init_done = any(
        c["Service"] == "init" and c["State"] == "exited" and c["ExitCode"] == 0 for c in containers
    )
    healthy = all(c["Health"] == "healthy" for c in containers if c["Service"] != "init")
    return containers if init_done and healthy else None


@pytest.mark.compose
def test_every_service_turns_healthy_and_the_init_completes(lane: Lane) -> None:
    containers = wait_until(lambda: all_healthy(lane), "every service healthy", timeout=300)
    assert isinstance(containers, list)
    services = {c["Service"] for c in containers}
    assert services == {
        "kafka", "minio", "init", "gateway", "verifier", "downloader", "router", "poller",
        "reader", "sandbox", "sandbox-gateway",
    }  # fmt: skip
    assert sum(c["Service"] == "downloader" for c in containers) == 2  # deploy.replicas
    for image in STAND_INS:  # the stand-ins, under the pulled names, are what runs
        assert lane.podman("image", "exists", qualified(image)) == ""


def received(value: bytes) -> FaxReceivedData | None:
    """A user's event as its data model: the received event, or None for the read one (the
    reader's text, a second event per fax)."""
    event = UserEventData.model_validate_json(value).root
    return event if isinstance(event, FaxReceivedData) else None


def read_user_events(lane: Lane, at_least: int) -> list[FaxReceivedData]:
    """The users' topics, read from the host on Kafka's published port, as a subscriber would."""
    consumer = KafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{lane.ports['KAFKA_HOST_PORT']}", enable_auto_commit=False
    )
    topics = [f"faxes.user.{user}" for user in demo_users()]
    try:

        def created() -> bool:
            return all(consumer.partitions_for_topic(t) for t in topics)

        wait_until(created, "the router made the users' topics", timeout=120)
        consumer.assign([TopicPartition(t, 0) for t in topics])
        consumer.seek_to_beginning()
        found: list[FaxReceivedData] = []

        def enough() -> bool:
            for batch in consumer.poll(timeout_ms=500).values():
                found.extend(e for r in batch if (e := received(r.value)) is not None)
            return len(found) >= at_least

        wait_until(enough, f"{at_least} faxes on the users' topics", timeout=120)
        return found
    finally:
        consumer.close()


def read_all(lane: Lane, topic: str) -> list[bytes]:
    """Every record value of `topic` up to its end offsets at the time of the call."""
    consumer = KafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{lane.ports['KAFKA_HOST_PORT']}", enable_auto_commit=False
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(consumer.assignment())
        values: list[bytes] = []
        while len(values) < sum(ends.values()):
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in batch)
        return values
    finally:
        consumer.close()


def notified(lane: Lane) -> list[FaxNotified]:
    return [FaxNotified.model_validate_json(v) for v in read_all(lane, FAX_NOTIFIED)]


def fetch_inside(lane: Lane, url: str) -> bytes:
    """GET a download link from inside the compose network (the link names minio:9000)."""
    code = (
        "import sys, urllib.request;"
        "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())"
    )
    argv = ["podman", "exec", f"{PROJECT}-router-1", "python", "-c", code, url]
    done = subprocess.run(argv, env=lane.podman_env, capture_output=True, timeout=60, check=True)
    return done.stdout


@pytest.mark.compose
def test_a_sandbox_fax_flows_from_webhook_to_user_topic_and_store(lane: Lane) -> None:
    wait_until(lambda: all_healthy(lane), "every service healthy", timeout=300)
    events = read_user_events(lane, at_least=3)
    from_webhooks = {n.fax_id for n in notified(lane) if n.source == Source.WEBHOOK}
    by_webhook = [e for e in events if e.fax_id in from_webhooks]
    assert by_webhook, "no fax on a user topic came through the webhook path"
    event = by_webhook[0]
    assert str(event.user_id) in demo_users()
    assert event.download_url is not None
    image = fetch_inside(lane, event.download_url)
    assert len(image) == event.document.size
    assert hashlib.sha256(image).hexdigest() == event.document.sha256
    assert image.startswith(b"%PDF")


@pytest.mark.compose
def test_a_crashed_downloader_is_restarted_by_its_policy_and_loses_nothing(lane: Lane) -> None:
    """The downloader's process dies (SIGKILL from the host, as the OOM killer would); its
    restart policy brings it back, and every fax announced before and meanwhile still reaches its
    user. (`docker compose kill` is not used: podman 4.3 counts a kill as a stop by the user and
    then applies no unless-stopped policy, which Docker does.)"""
    wait_until(lambda: all_healthy(lane), "every service healthy", timeout=300)
    name = f"{PROJECT}-downloader-1"
    pid = int(lane.podman("inspect", "--format", "{{.State.Pid}}", name))
    os.kill(pid, signal.SIGKILL)

    def restarted() -> bool:
        state = lane.podman("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", name)
        status, count = state.split()
        return status == "running" and int(count) >= 1

    wait_until(restarted, "the downloader restarted by its policy", timeout=120)
    wait_until(lambda: all_healthy(lane), "every service healthy again", timeout=300)
    announced = {n.fax_id for n in notified(lane)}
    assert announced

    def all_arrived() -> bool:
        failed = {
            DownloadFailed.model_validate_json(v).fax.fax_id
            for v in read_all(lane, DOWNLOAD_FAILED)
        }
        delivered = {
            e.fax_id
            for user in demo_users()
            for v in read_all(lane, f"faxes.user.{user}")
            if (e := received(v)) is not None
        }
        return announced <= delivered | failed

    wait_until(all_arrived, "every announced fax on its user's topic", timeout=180)


@pytest.mark.compose
def test_three_downloaders_share_the_work(lane: Lane) -> None:
    """`--scale downloader=3`: a third copy joins the consumer group and each of the three stores
    faxes (the sandbox keeps sending one a second)."""
    wait_until(lambda: all_healthy(lane), "every service healthy", timeout=300)
    since = str(int(time.time()))
    lane.compose("up", "--detach", "--no-build", "--scale", "downloader=3")
    containers = wait_until(lambda: all_healthy(lane), "three healthy downloaders", timeout=300)
    assert isinstance(containers, list)
    names = [str(c["Name"]) for c in containers if c["Service"] == "downloader"]
    assert len(names) == 3

    def each_stored_a_fax() -> bool:
        logs = [
            subprocess.run(  # the services log to stderr
                ["podman", "logs", "--since", since, name], env=lane.podman_env, check=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
            ).stdout
            for name in names
        ]  # fmt: skip
        return all("fax stored:" in log for log in logs)

    wait_until(each_stored_a_fax, "each of the three downloaders stored a fax", timeout=180)


@pytest.mark.compose
def test_down_leaves_nothing_behind(lane: Lane) -> None:
    assert lane.leftovers()["container"], "the stack should be up before this test"
    lane.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
    assert lane.leftovers() == {"container": [], "network": [], "volume": []}
