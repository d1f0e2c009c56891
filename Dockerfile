# syntax=docker/dockerfile:1
# The kaito-py controller image: `make image` (docker build -t kaito-py:0.1.0 .).
# Stage 1 builds a wheel; stage 2 installs only that wheel and its dependencies on a slim base and runs as
# uid 65532, with nothing written outside /tmp, so the pod can use readOnlyRootFilesystem.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=builder /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin nonroot
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["kaito", "run"]
