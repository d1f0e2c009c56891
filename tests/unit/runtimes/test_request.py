"""WorkloadRequest validation: names a Kubernetes object can carry, unique adapters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kaito.runtimes.request import Adapter, WorkloadRequest


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workspace": "Bad_Name"}, "workspace name 'Bad_Name' is not a valid DNS label"),
        ({"workspace": "ok", "namespace": "-x"}, "namespace '-x' is not a valid DNS label"),
        ({"workspace": "x" * 64}, "at most 63"),
    ],
)
def test_names_must_be_dns_labels(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WorkloadRequest(**kwargs)  # type: ignore[arg-type]


def test_adapters_must_be_unique_and_well_formed() -> None:
    a = Adapter(name="a", image="img:1")
    with pytest.raises(ValidationError, match="a appears more than once"):
        WorkloadRequest(workspace="ws", adapters=(a, a))
    with pytest.raises(ValidationError, match="adapter name 'A_1'"):
        Adapter(name="A_1", image="img")
    with pytest.raises(ValidationError):
        Adapter(name="a", image="img", strength=0)


@pytest.mark.parametrize(
    ("sources", "found"),
    [({}, "neither"), ({"image": "img:1", "volume_source": {"emptyDir": {}}}, "both")],
)
def test_an_adapter_comes_from_an_image_or_a_volume(sources: dict[str, object], found: str) -> None:
    with pytest.raises(
        ValidationError, match=f"adapter a needs exactly one of image or volume_source; found {found}"
    ):
        Adapter(name="a", **sources)  # type: ignore[arg-type]
    assert Adapter(name="a", volume_source={"emptyDir": {}}).image is None


def test_defaults() -> None:
    request = WorkloadRequest(workspace="ws")
    assert (request.namespace, request.node_names, request.adapters, request.runtime) == (
        "default",
        (),
        (),
        None,
    )
