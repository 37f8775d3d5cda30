# syntax=docker/dockerfile:1.7
# NVIDIA Triton serving goldenshot's backbone: HTTP :8000, gRPC :8001, metrics :8002, readiness /v2/health/ready.
# model_repository/ holds the tracked configs; its model file is the export of the backbone the services use
# (gitignored), written from the repository root, then build:
#   make model-repository   (goldenshot export --triton model_repository --device gpu --model-name goldenshot_backbone)
#   docker build -f docker/triton.Dockerfile -t goldenshot-triton .
# The export writes config.pbtxt for the onnxruntime backend on KIND_GPU with dynamic batching. For nodes
# without a GPU each model also gets configs/cpu.pbtxt (same model on KIND_CPU), which Triton uses when
# started with --model-config-name=cpu (the chart does that when triton.gpu.count is 0).
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:25.11-py3

FROM ${TRITON_IMAGE} AS repository
COPY model_repository/ /models/
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN shopt -s nullglob; configs=(/models/*/config.pbtxt); \
    if [ ${#configs[@]} -eq 0 ]; then echo "model_repository/ holds no model: run goldenshot export --triton first" >&2; exit 1; fi; \
    for cfg in "${configs[@]}"; do \
      grep -q 'onnxruntime' "$cfg" || { echo "$cfg: not an onnxruntime model (export with --device gpu)" >&2; exit 1; }; \
      mkdir -p "$(dirname "$cfg")/configs" && sed 's/KIND_GPU/KIND_CPU/' "$cfg" > "$(dirname "$cfg")/configs/cpu.pbtxt"; \
    done

FROM ${TRITON_IMAGE}
LABEL org.opencontainers.image.title="goldenshot-triton" \
      org.opencontainers.image.description="NVIDIA Triton with goldenshot's backbone model repository"
COPY --from=repository --chown=root:root /models /models
# the image's unprivileged user triton-server (uid 1000); the models stay read-only to it
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready', timeout=4)"]
# the base image's ENTRYPOINT (nvidia_entrypoint.sh) stays; this is its command
CMD ["tritonserver", "--model-repository=/models", "--disable-auto-complete-config", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002"]
