# syntax=docker/dockerfile:1
# The vLLM serving image: the program the operator starts in an inference pod,
#   python3 -m kaito.serve vllm [--kaito-config-file F] [--kaito-adapters-dir D] <vLLM flags>
# on top of an image that already holds vLLM (and, for a hosted preset, its weights at /workspace/vllm/weights).
#
#   docker build -f docker/serve-vllm.Dockerfile -t kaito-serve-vllm:0.1.0 .
#   docker build -f docker/serve-vllm.Dockerfile \
#     --build-arg BASE=mcr.microsoft.com/aks/kaito/kaito-phi-3-mini-4k-instruct:0.1.1 -t kaito-phi-3:serve .
#
# kaito.serve imports nothing else of kaito-py (an import contract enforces it), so only src/kaito/__init__.py
# and src/kaito/serve are copied; vLLM brings FastAPI, uvicorn, transformers and PyYAML. Not built here
# (no Docker on the build machine).
# KAITO's base image (vLLM + transformers, no weights); a preset image with weights works the same way.
ARG BASE=mcr.microsoft.com/aks/kaito/kaito-base:0.5.0
FROM ${BASE}
ENV PYTHONPATH=/opt/kaito-serve \
    PYTHONUNBUFFERED=1 \
    VLLM_NO_USAGE_STATS=1
COPY src/kaito/__init__.py /opt/kaito-serve/kaito/__init__.py
COPY src/kaito/serve /opt/kaito-serve/kaito/serve
RUN python3 -c "import kaito.serve.vllm_server, vllm, fastapi, yaml"
EXPOSE 5000
ENTRYPOINT []
CMD ["python3", "-m", "kaito.serve", "vllm", "--help"]
