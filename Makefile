# kaito-py: every target works from a fresh clone; `setup` creates .venv on first use.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
IMAGE   ?= kaito-py:0.1.0

.PHONY: setup test slow fuzz unit integration lint fmt manifests helm run serve bench image e2e-kind e2e-vllm e2e-serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## unit + integration (the README's and CI's test command); the fuzz suite has its own target
test: setup
	$(BIN)/python -m pytest -m "not e2e_vllm and not e2e_serve and not slow and not fuzz" $(PYTEST_ARGS)

## tests over a minute each (the durable sim's random-kill crash test, KAITO's examples applied); CI runs them
slow: setup
	$(BIN)/python -m pytest -m "slow and not fuzz" $(PYTEST_ARGS)

## hypothesis at the cluster's and the operator's doors, a fixed example budget; prints its figures
fuzz: setup
	$(BIN)/python -m pytest -m fuzz tests/integration/fuzz $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: setup
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

## the CRDs, generated from kaito.api: the kustomize tree's and the Helm chart's (tests keep both equal)
manifests: setup
	$(BIN)/kaito manifests crds --output-dir manifests/crd
	$(BIN)/kaito manifests crds --output-dir charts/kaito-py/files/crds
	cp manifests/manager/tuning-params.yaml charts/kaito-py/files/tuning-params.yaml

## a helm v3 binary for the chart tests, in ~/.cache/kaito-py/bin unless helm is on PATH (once)
helm:
	scripts/install-helm.sh

## the main job on the embedded default (no cluster, no cloud account)
run: setup
	$(BIN)/kaito up --apply manifests/samples/workspace-phi-3-mini.yaml

## the same, with the model really served on this machine's CPU (then: kaito chat workspace-phi-3-mini "hello")
serve: setup
	$(BIN)/kaito up --serve --apply manifests/samples/workspace-phi-3-mini.yaml

bench: setup
	$(BIN)/python bench/ctrl_bench.py
	$(BIN)/python bench/sim_bench.py

## the controller image (needs a Docker engine)
image:
	docker build -t $(IMAGE) .

## the operator in a kind cluster (needs Docker and kind; `make image` first)
e2e-kind: setup
	KAITO_E2E_IMAGE=$(IMAGE) $(BIN)/python -m pytest -m e2e_kind tests/e2e $(PYTEST_ARGS)

e2e-vllm: setup
	$(BIN)/python -m pytest -m e2e_vllm tests/e2e $(PYTEST_ARGS)

## the seed quick start answered by kaito.serve (vLLM CPU and transformers) under `kaito up --serve`
e2e-serve: setup
	$(BIN)/python -m pytest -m e2e_serve tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
