#!/usr/bin/env bash
# Written by `python -m deploy.kafka_acls script` from deploy/kafka_acls.py: do not edit.
# The ACLs of faxrelay's Kafka principals (one per service, and KEDA's Describe-only one) and
# the gateway's producer quota (KAFKA_GATEWAY_PRODUCER_BYTE_RATE overrides it). Run it as a Kafka
# admin; it is idempotent. The SCRAM users themselves (their passwords) are made apart:
# docs/platform.md, "Security".
#   acls.sh --bootstrap-server HOST:PORT [--command-config admin.properties]
set -euo pipefail
BIN="${KAFKA_BIN:-/opt/kafka/bin}"
CONNECT=("$@")
acl() {
  local principal="$1"; shift
  "$BIN/kafka-acls.sh" "${CONNECT[@]}" --add --allow-principal "$principal" --allow-host '*' "$@" \
    >/dev/null
}
# gateway
acl User:faxrelay-gateway --topic fax.webhook.received --resource-pattern-type literal --operation Write --operation Describe
"$BIN/kafka-configs.sh" "${CONNECT[@]}" --alter --entity-type users --entity-name faxrelay-gateway --add-config "producer_byte_rate=${KAFKA_GATEWAY_PRODUCER_BYTE_RATE:-1048576}" >/dev/null
# verifier
acl User:faxrelay-verifier --topic fax.webhook.received --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-verifier --topic fax.notified --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-verifier --topic fax.webhook.rejected --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-verifier --topic fax.ping.received --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-verifier --topic fax.outbound.notified --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-verifier --group faxrelay-verifier --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-verifier --transactional-id faxrelay-faxrelay-verifier- --resource-pattern-type prefixed --operation Write --operation Describe
# downloader
acl User:faxrelay-downloader --topic fax.notified --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-downloader --topic fax.stored --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-downloader --topic fax.download.failed --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-downloader --group faxrelay-downloader --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-downloader --transactional-id faxrelay-faxrelay-downloader- --resource-pattern-type prefixed --operation Write --operation Describe
# router
acl User:faxrelay-router --topic fax.stored --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --topic fax.read --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --topic fax.read.failed --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --topic faxes.user. --resource-pattern-type prefixed --operation Write --operation Describe --operation Create
acl User:faxrelay-router --topic faxes.type. --resource-pattern-type prefixed --operation Write --operation Describe --operation Create
acl User:faxrelay-router --topic faxes.junk --resource-pattern-type literal --operation Write --operation Describe --operation Create
acl User:faxrelay-router --topic faxes.review --resource-pattern-type literal --operation Write --operation Describe --operation Create
acl User:faxrelay-router --group faxrelay-router-read --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --transactional-id faxrelay-faxrelay-router-read- --resource-pattern-type prefixed --operation Write --operation Describe
acl User:faxrelay-router --group faxrelay-router-unread --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --transactional-id faxrelay-faxrelay-router-unread- --resource-pattern-type prefixed --operation Write --operation Describe
acl User:faxrelay-router --group faxrelay-router --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-router --transactional-id faxrelay-faxrelay-router- --resource-pattern-type prefixed --operation Write --operation Describe
# reader
acl User:faxrelay-reader --topic fax.stored --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-reader --topic fax.read --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-reader --topic fax.read.failed --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-reader --group faxrelay-reader --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-reader --transactional-id faxrelay-faxrelay-reader- --resource-pattern-type prefixed --operation Write --operation Describe
# poller
acl User:faxrelay-poller --topic fax.notified --resource-pattern-type literal --operation Write --operation Describe
acl User:faxrelay-poller --topic fax.poller.shards --resource-pattern-type literal --operation Read --operation Describe --operation Create
acl User:faxrelay-poller --group faxrelay-poller --resource-pattern-type literal --operation Read --operation Describe
# init
acl User:faxrelay-init --topic fax.webhook.received --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.webhook.rejected --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.ping.received --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.outbound.notified --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.notified --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.stored --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.download.failed --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.read --resource-pattern-type literal --operation Create --operation Describe
acl User:faxrelay-init --topic fax.read.failed --resource-pattern-type literal --operation Create --operation Describe
# keda
acl User:faxrelay-keda --topic fax.webhook.received --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --topic fax.notified --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --topic fax.stored --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --topic fax.read --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --topic fax.read.failed --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-verifier --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-downloader --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-router-read --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-router-unread --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-router --resource-pattern-type literal --operation Describe
acl User:faxrelay-keda --group faxrelay-reader --resource-pattern-type literal --operation Describe
# operator
acl User:faxrelay-operator --topic fax.webhook.received --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.webhook.rejected --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.ping.received --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.outbound.notified --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.notified --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.stored --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.download.failed --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.read --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.read.failed --resource-pattern-type literal --operation Read --operation Describe
acl User:faxrelay-operator --topic faxes.user. --resource-pattern-type prefixed --operation Read --operation Describe
acl User:faxrelay-operator --topic fax.notified --resource-pattern-type literal --operation Write
acl User:faxrelay-operator --topic fax.webhook.received --resource-pattern-type literal --operation Write
acl User:faxrelay-operator --topic fax.stored --resource-pattern-type literal --operation Write
acl User:faxrelay-operator --group faxrelay-verifier --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-downloader --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-router-read --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-router-unread --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-router --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-reader --resource-pattern-type literal --operation Describe
acl User:faxrelay-operator --group faxrelay-poller --resource-pattern-type literal --operation Describe
echo "faxrelay ACLs and quotas set"
