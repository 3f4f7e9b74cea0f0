"""Apache Kafka for the local stack, without Docker: the broker's jars from Maven Central (named by
`deploy/kafka/pom.xml`, fetched once per machine into a git-ignored cache), a single-node KRaft
configuration, and, for the secured variant, a throwaway CA, a broker certificate and SCRAM users.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POM = REPO / "deploy" / "kafka" / "pom.xml"
CACHE = REPO / ".faxrelay-cache"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SCRAM_MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# The loopback PLAINTEXT listeners (controller, inter-broker, the local admin's) authenticate no
# one: their principal is ANONYMOUS, which must be a super user once an authorizer runs.
LOOPBACK_PRINCIPAL = "User:ANONYMOUS"


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing, or the jars could not be fetched."""


def kafka_version() -> str:
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if found is None:
        raise KafkaUnavailable(f"{POM} names no <kafka.version>")
    return found.group(1)


# What the Apache Kafka lane runs, and the Debian package each comes from (openssl: the secured
# broker's throwaway certificates).
PACKAGES = {"java": "openjdk-17-jre-headless", "mvn": "maven", "openssl": "openssl"}


def missing_tools(tools: tuple[str, ...] = tuple(PACKAGES)) -> list[str]:
    """What this machine lacks to run Apache Kafka from its jars."""
    return [tool for tool in tools if shutil.which(tool) is None]


def install_command(tools: list[str]) -> str:
    return "apt-get install " + " ".join(PACKAGES[tool] for tool in tools)


def classpath() -> str:
    """The broker's (and its console tools') classpath, fetching the jars from Maven Central the
    first time. The directory is named after the pom's content: a changed pom fetches anew."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    lib = CACHE / f"kafka-{kafka_version()}-{digest}" / "lib"
    done = lib / ".complete"
    if done.exists():
        return f"{lib}/*"
    missing = missing_tools(("java", "mvn"))
    if missing:
        raise KafkaUnavailable(
            f"Apache Kafka needs Java 17+ and Maven ({', '.join(missing)} not found): "
            f"{install_command(missing)}"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        argv = [
            "mvn", "-B", "-q", "-f", str(POM), f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={tmp}/lib",
        ]  # fmt: skip
        run = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if run.returncode != 0:
            raise KafkaUnavailable(f"fetching Kafka's jars failed:\n{run.stdout}{run.stderr}")
        shutil.rmtree(lib, ignore_errors=True)
        Path(tmp, "lib").rename(lib)
    done.touch()
    return f"{lib}/*"


@dataclass(frozen=True)
class Tls:
    """A throwaway CA and a broker certificate for 127.0.0.1 / localhost, in PKCS12."""

    ca_file: Path
    keystore: Path
    password: str


def make_tls(directory: Path) -> Tls:
    """Made with openssl, once per stack directory."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "broker.key", directory / "broker.csr", directory / "broker.crt"
    keystore, password = directory / "broker.p12", "faxrelay-local-keystore"
    if keystore.exists():
        return Tls(ca_crt, keystore, password)
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    commands = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
         "/CN=faxrelay local CA", "-keyout", ca_key, "-out", ca_crt],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key,
         "-out", csr],
        ["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "30", "-extfile", ext, "-out", crt],
        ["pkcs12", "-export", "-in", crt, "-inkey", key, "-name", "broker", "-out", keystore,
         "-passout", f"pass:{password}"],
    ]  # fmt: skip
    for command in commands:
        subprocess.run(  # noqa: S603 - openssl on PATH
            ["openssl", *map(str, command)],  # noqa: S607
            check=True,
            capture_output=True,
        )
    return Tls(ca_crt, keystore, password)


def cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(
    data_dir: Path,
    port: int,
    controller_port: int,
    *,
    tls: Tls | None = None,
    internal_port: int | None = None,
    super_users: tuple[str, ...] | None = None,
) -> str:
    """A single-node KRaft broker. Secured: clients get a SASL_SSL listener on `port` (SCRAM),
    while the controller and inter-broker listeners stay PLAINTEXT on loopback. With
    `super_users` (SCRAM user names) the broker authorizes every request by its ACLs
    (StandardAuthorizer, nothing allowed without one) and those users, with the loopback
    listeners, may do anything."""
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        "controller.listener.names=CONTROLLER",
        f"log.dirs={data_dir}",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "group.min.session.timeout.ms=1000",  # the tests use short sessions
        "auto.create.topics.enable=false",
        "num.partitions=3",
        "message.max.bytes=10485760",
        "replica.fetch.max.bytes=10485760",
    ]
    if tls is None:
        lines += [
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]
    else:
        lines += [
            f"listeners=INTERNAL://127.0.0.1:{internal_port},SASL_SSL://127.0.0.1:{port},"
            f"CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=INTERNAL://127.0.0.1:{internal_port},"
            f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,"
            "CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=INTERNAL",
            f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={tls.keystore}",
            f"ssl.keystore.password={tls.password}",
        ]
        if super_users is not None:
            supers = [LOOPBACK_PRINCIPAL, *(f"User:{name}" for name in super_users)]
            lines += [
                f"authorizer.class.name={AUTHORIZER}",
                f"super.users={';'.join(supers)}",
                "allow.everyone.if.no.acl.found=false",
            ]
    return "\n".join(lines) + "\n"


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def prepare(
    directory: Path,
    port: int,
    controller_port: int,
    *,
    scram_users: dict[str, str] | None = None,
    tls: Tls | None = None,
    internal_port: int | None = None,
    super_users: tuple[str, ...] | None = None,
) -> list[str]:
    """Write the configuration, format the storage once, and return the broker's command line.
    The storage survives restarts: a formatted directory is never formatted again."""
    cp = classpath()
    log_dirs = directory / "data"
    config = directory / "server.properties"
    config.write_text(
        server_properties(
            log_dirs,
            port,
            controller_port,
            tls=tls,
            internal_port=internal_port,
            super_users=super_users,
        )
    )
    logging_config = directory / "log4j2.properties"
    logging_config.write_text(LOG4J2)
    java = ["java", f"-Dlog4j2.configurationFile={logging_config}", "-cp", cp]
    if not (log_dirs / "meta.properties").exists():
        argv = [*java, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id()}"]
        argv += ["-c", str(config)]  # an id may start with "-": one argument, with its name
        for name, password in (scram_users or {}).items():
            argv += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]"]
        run = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if run.returncode != 0:
            raise KafkaUnavailable(f"formatting Kafka's storage failed:\n{run.stderr[-2000:]}")
    heap = ["-Xms256m", "-Xmx512m", "-XX:+UseSerialGC"]
    return [java[0], *heap, *java[1:], "kafka.Kafka", str(config)]
