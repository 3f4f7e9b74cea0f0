"""HAPI FHIR's validator, a validator that is not ours: its jars from Maven Central (named by
deploy/fhir/pom.xml, fetched once per machine into the git-ignored cache, as the Kafka broker's
are), and FhirValidate.java run in Java's single-file source mode over the base R4 profiles,
offline (hapi-fhir-validation-resources-r4 carries them)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from faxrelay.kafka_broker import CACHE, MAVEN_DEPENDENCY_PLUGIN, install_command, missing_tools

REPO = Path(__file__).resolve().parents[2]
POM = REPO / "deploy" / "fhir" / "pom.xml"
MAIN = Path(__file__).with_name("FhirValidate.java")


class ValidatorUnavailable(RuntimeError):
    """Java or Maven is missing, or the jars could not be fetched."""


def check_tools() -> None:
    """Java with its compiler (single-file source mode needs the JDK's) and Maven."""
    missing = missing_tools(("java", "mvn"))
    if missing or shutil.which("javac") is None:
        install = install_command(missing) if missing else "apt-get install"
        raise ValidatorUnavailable(
            "HAPI FHIR's validator needs a Java 17+ JDK and Maven: "
            f"{install} openjdk-17-jdk-headless (scripts/install_system_packages.sh)"
        )


def classpath() -> str:
    """The validator's classpath, fetching the jars the first time; a changed pom fetches anew."""
    version = re.search(r"<hapi.version>([^<]+)</hapi.version>", POM.read_text())
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    lib = CACHE / f"hapi-fhir-{version.group(1) if version else 'x'}-{digest}" / "lib"
    if (lib / ".complete").exists():
        return f"{lib}/*"
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        argv = [
            "mvn", "-B", "-q", "-f", str(POM), f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={tmp}/lib",
        ]  # fmt: skip
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise ValidatorUnavailable(f"fetching HAPI FHIR failed:\n{run.stdout}{run.stderr}")
        shutil.rmtree(lib, ignore_errors=True)
        Path(tmp, "lib").rename(lib)
    (lib / ".complete").touch()
    return f"{lib}/*"


@dataclass(frozen=True)
class Message:
    file: str
    severity: str  # ERROR, WARNING, INFORMATION (HAPI's ResultSeverityEnum)
    location: str
    text: str


def validate(files: list[Path], timeout_s: float = 300) -> list[Message]:
    """HAPI's messages for the JSON resources in `files`, all in one JVM."""
    check_tools()
    argv = ["java", "-cp", classpath(), str(MAIN), *map(str, files)]
    run = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout_s)
    lines = run.stdout.splitlines()
    if run.returncode != 0 or f"validated {len(files)}" not in lines:
        raise ValidatorUnavailable(f"the validator did not finish:\n{run.stdout}{run.stderr}")
    return [Message(*line.split("\t", 3)) for line in lines if line.count("\t") >= 3]
