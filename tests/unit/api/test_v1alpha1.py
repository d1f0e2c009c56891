"""The v1alpha1 Workspace: the quick start's objects parse, and v1beta1-only fields are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kaito.api import InvalidObjectError, V1Alpha1Workspace, parse_object

SEED = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "seed"


@pytest.mark.parametrize("path", sorted(SEED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_seed_sample_is_a_v1alpha1_workspace(path: Path) -> None:
    workspace = V1Alpha1Workspace.from_wire(yaml.safe_load(path.read_text()))
    assert workspace.api_version == "kaito.sh/v1alpha1"


def test_v1beta1_only_fields_are_not_v1alpha1() -> None:
    data = yaml.safe_load((SEED / "workspace-phi-3-mini.yaml").read_text())
    data["status"] = {"targetNodeCount": 1}
    with pytest.raises(InvalidObjectError, match="targetNodeCount"):
        parse_object(V1Alpha1Workspace, data)
