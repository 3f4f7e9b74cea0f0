# syntax=docker/dockerfile:1
# One image for every faxrelay service; the command picks the service:
#   docker build -t faxrelay:latest .            # the production image (the last stage)
#   docker run --env-file .env faxrelay:latest python -m services.verifier
# Default command: the gateway. Settings come only from the environment (FAXRELAY_*), so no
# secret is ever part of the image. The eFax sandbox is not in it; it has its own target:
#   docker build --target sandbox -t faxrelay-sandbox:latest .

# The base, pinned by digest (the tag alone moves with every rebuild upstream): the image index
# of python:3.11-slim-bookworm (Python 3.11.16) as resolved in September 2026. To move it:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # the index digest, at the top
# The compose lane (deploy/compose-lane/override.yml) builds on a local stand-in by tag instead.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:528257d48c1da0dcecc2e725d1ae34498d60c965f1241e39cd6a85a8859bdf84

# --- build: a virtualenv with the pinned, hash-checked dependencies -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
# Dependencies before the code, so a code change reuses this layer. --require-hashes: only the
# exact files pinned in deploy/requirements.txt are installed; all of them are wheels, so no
# compiler is needed here either.
# deploy/wheelhouse/ is empty in Git: pip takes the wheels from PyPI. A build without PyPI (the
# compose lane, tests/compose) fills it with the same pinned wheels and passes PIP_NO_INDEX=1.
ARG PIP_NO_INDEX=0
COPY deploy/requirements.txt /tmp/requirements.txt
COPY deploy/wheelhouse/ /tmp/wheelhouse/
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: --find-links /tmp/wheelhouse \
        -r /tmp/requirements.txt

# --- runtime: the virtualenv and the source, no pip cache, no build tools, not root --------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FAXRELAY_HEARTBEAT_FILE=/tmp/faxrelay-heartbeat
RUN groupadd --system --gid 10001 faxrelay \
    && useradd --system --uid 10001 --gid faxrelay --no-create-home --shell /usr/sbin/nologin faxrelay
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY shared/ shared/
COPY services/ services/
COPY faxrelay/ faxrelay/
COPY deploy/image/healthcheck.py deploy/image/init_stack.py ./
# A numeric user, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# The gateway: webhooks on 8443, /healthz, /readyz and /metrics on its internal port 9100
# (FAXRELAY_METRICS_PORT, where the consumers serve /metrics).
EXPOSE 8443 9100
# Works for every service: the gateway answers /healthz (on 9100), the others keep a heartbeat
# file fresh.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/healthcheck.py"]
CMD ["python", "-m", "services.gateway"]

# --- sandbox-build: the virtualenv plus what only the sandbox needs (its API, its fonts) ---------
FROM build AS sandbox-build
ARG PIP_NO_INDEX=0
COPY deploy/requirements-sandbox.txt /tmp/requirements-sandbox.txt
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: --find-links /tmp/wheelhouse \
        -r /tmp/requirements-sandbox.txt

# --- sandbox: the runtime plus the eFax sandbox (tests, demo, compose profile "sandbox") ---------
FROM runtime AS sandbox
COPY --from=sandbox-build /opt/venv /opt/venv
COPY sandbox/ sandbox/
EXPOSE 8080
CMD ["python", "-m", "sandbox", "--host", "0.0.0.0", "--port", "8080"]

# --- production (the default target, last): the runtime as it is, without the sandbox ----------
FROM runtime AS production
