#!/usr/bin/env bash
# Debian packages the tests use that neither pip nor the project's cache can give: Java 17 and
# Maven (the Apache Kafka lane; Maven fetches the broker's jars) and openssl (the secured broker's
# throwaway certificates). promtool, Prometheus and the console consumer that stands in for a
# foreign Kafka client are fetched into .faxrelay-cache without root (deploy/tooling.py,
# faxrelay/kafka_broker.py). Idempotent: installs only what is absent.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing from Debian: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
