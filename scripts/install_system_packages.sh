#!/usr/bin/env bash
# Debian packages the tests use that neither pip nor the project's cache can give: Java 17 and
# Maven (the Apache Kafka lane; Maven fetches the broker's jars) and openssl (the secured broker's
# throwaway certificates). promtool, Prometheus and the console consumer that stands in for a
# foreign Kafka client are fetched into .faxrelay-cache without root (deploy/tooling.py,
# faxrelay/kafka_broker.py). The compose lane (`make test-compose`, tests/compose) needs podman,
# runc (crun refuses the hybrid cgroups of these machines), iptables (its networks) and debootstrap
# (the base of the stand-in images). Idempotent: installs only what is absent.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
# HAPI FHIR's validator (tests/fhir) runs a Java source file: the compiler, in the JDK
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
export PATH="$PATH:/usr/sbin:/sbin"
for tool in podman runc iptables debootstrap; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing from Debian: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
