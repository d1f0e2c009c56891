"""Predicates: which updates reach a controller, and how they compose."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.ctrl.predicates import (
    And,
    AnnotationChanged,
    Funcs,
    GenerationChanged,
    LabelChanged,
    Not,
    Or,
    Predicate,
    ResourceVersionChanged,
)


def obj(
    gen: int = 1, rv: str = "1", labels: dict[str, str] | None = None, ann: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "generation": gen,
            "resourceVersion": rv,
            "labels": labels or {},
            "annotations": ann or {},
        }
    }


BASE = obj()
STATUS_ONLY = obj(rv="2")
SPEC = obj(gen=2, rv="2")
LABELS = obj(rv="2", labels={"a": "b"})
ANNOTATIONS = obj(rv="2", ann={"a": "b"})


@pytest.mark.parametrize(
    ("predicate", "new", "passes"),
    [
        (GenerationChanged(), STATUS_ONLY, False),
        (GenerationChanged(), SPEC, True),
        (GenerationChanged(), BASE, False),
        (LabelChanged(), LABELS, True),
        (LabelChanged(), SPEC, False),
        (AnnotationChanged(), ANNOTATIONS, True),
        (AnnotationChanged(), LABELS, False),
        (ResourceVersionChanged(), BASE, False),
        (ResourceVersionChanged(), STATUS_ONLY, True),
        (GenerationChanged() | LabelChanged(), LABELS, True),
        (Or(GenerationChanged(), LabelChanged()), STATUS_ONLY, False),
        (GenerationChanged() & ResourceVersionChanged(), SPEC, True),
        (And(GenerationChanged(), LabelChanged()), SPEC, False),
        (~GenerationChanged(), STATUS_ONLY, True),
        (Not(GenerationChanged()), SPEC, False),
        (Funcs(update=lambda old, new: new["metadata"]["resourceVersion"] == "2"), STATUS_ONLY, True),
        (Funcs(), STATUS_ONLY, True),
    ],
)
def test_update_filtering(predicate: Predicate, new: dict[str, Any], passes: bool) -> None:
    assert predicate.update(BASE, new) is passes


@pytest.mark.parametrize(
    "predicate", [GenerationChanged(), LabelChanged(), AnnotationChanged(), ResourceVersionChanged(), Funcs()]
)
def test_creates_and_deletes_pass_the_change_predicates(predicate: Predicate) -> None:
    assert predicate.create(BASE) and predicate.delete(BASE)


@pytest.mark.parametrize(
    ("old", "new", "passes"),
    [
        ({"metadata": {"resourceVersion": "1"}}, {"metadata": {"resourceVersion": "2"}}, False),
        ({"metadata": {}}, {"metadata": {"generation": 0}}, False),
        ({}, {"metadata": {"generation": 1}}, True),
        ({"metadata": {"generation": 1}}, {"metadata": {}}, True),
    ],
    ids=["kind-without-generation", "absent-is-zero", "absent-to-one", "one-to-absent"],
)
def test_generation_changed_reads_an_absent_generation_as_zero(
    old: dict[str, Any], new: dict[str, Any], passes: bool
) -> None:
    assert GenerationChanged().update(old, new) is passes


def test_funcs_filter_creates_and_deletes() -> None:
    only_named_a = Funcs(create=lambda o: o["metadata"].get("name") == "a", delete=lambda o: False)
    assert only_named_a.create({"metadata": {"name": "a"}})
    assert not only_named_a.create({"metadata": {"name": "b"}})
    assert not only_named_a.delete(BASE)
    assert (~only_named_a).delete(BASE)
    assert not Or(only_named_a).create({"metadata": {"name": "b"}})
