"""The error hierarchy: one base to catch, refusals carrying their figures."""

from __future__ import annotations

import pytest

from kaito.runtimes import errors


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (errors.UnknownPresetError, (errors.RuntimesError, LookupError)),
        (errors.UnknownSkuError, (errors.RuntimesError, LookupError)),
        (errors.NodeLabelError, (errors.RuntimesError, ValueError)),
        (errors.InferenceConfigError, (errors.RuntimesError, ValueError)),
        (errors.UnsupportedRequestError, (errors.RuntimesError, ValueError)),
        (errors.CannotSplitError, (errors.SizingRefusal, errors.RuntimesError)),
        (errors.NotEnoughNodesError, (errors.SizingRefusal,)),
        (errors.GpuTooSmallError, (errors.SizingRefusal,)),
        (errors.UnsupportedDtypeError, (errors.SizingRefusal,)),
    ],
)
def test_hierarchy(cls: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    assert all(issubclass(cls, base) for base in bases)


def test_config_error_joins_every_problem() -> None:
    error = errors.InferenceConfigError(["a is wrong.", "b is wrong."])
    assert str(error) == "a is wrong. b is wrong." and error.problems == ["a is wrong.", "b is wrong."]


def test_refusal_carries_figures() -> None:
    refusal = errors.NotEnoughNodesError("x.", needed_gib=137.0, min_nodes=8, suggestion="sku")
    assert (refusal.needed_gib, refusal.min_nodes, refusal.suggestion) == (137.0, 8, "sku")
