# syntax=docker/dockerfile:1
# The transformers serving image: the program the operator starts in an inference pod when the Workspace
# says `kaito.sh/runtime: transformers`,
#   python3 -m kaito.serve transformers [--kaito-config-file F] --model DIR --served-model-name NAME ...
# with Hugging Face transformers and torch (the CUDA build by default; for a CPU image pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu). Weights come from the preset image's
# /workspace/vllm/weights (build FROM it with BASE) or from Hugging Face at start.
#
#   docker build -f docker/serve-transformers.Dockerfile -t kaito-serve-transformers:0.1.0 .
#
# Not built here (no Docker on the build machine).
ARG BASE=python:3.12-slim
FROM ${BASE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ENV PYTHONPATH=/opt/kaito-serve \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --index-url ${TORCH_INDEX} torch \
    && pip install "transformers>=4.56" accelerate "fastapi>=0.115" "uvicorn>=0.30" "prometheus-client>=0.20" \
       "pydantic>=2.7" PyYAML
COPY src/kaito/__init__.py /opt/kaito-serve/kaito/__init__.py
COPY src/kaito/serve /opt/kaito-serve/kaito/serve
RUN python3 -c "import kaito.serve.transformers_server"
EXPOSE 5000
CMD ["python3", "-m", "kaito.serve", "transformers", "--help"]
