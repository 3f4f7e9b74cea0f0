#!/usr/bin/env bash
# Debian packages the tests use and pip cannot give: kcat (a Kafka client that is not ours),
# openssl (throwaway certificates) and prometheus (promtool checks the alert rules; the e2e lane
# scrapes the stack). Java 17 and Maven, for the Apache Kafka lane, are checked here and
# installed when missing. Idempotent: installs only what is absent.
set -euo pipefail
need=()
command -v kcat >/dev/null || need+=(kcat)
command -v openssl >/dev/null || need+=(openssl)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing from Debian: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
