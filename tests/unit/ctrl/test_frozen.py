"""Frozen views: cached objects read like dicts/lists, refuse mutation, thaw into mutable copies."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from kaito.ctrl.frozen import FrozenDict, freeze, thaw

DOC = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"items": [1, {"k": "v"}]}}

MUTATIONS: list[Callable[[Any], object]] = [
    lambda o: o.__setitem__("new", 1),
    lambda o: o.__delitem__("spec"),
    lambda o: o.update(a=1),
    lambda o: o.pop("spec"),
    lambda o: o.setdefault("z", 1),
    lambda o: o.clear(),
    lambda o: o["metadata"]["labels"].__setitem__("x", "2"),
    lambda o: o["spec"]["items"].append(3),
    lambda o: o["spec"]["items"].__setitem__(0, 9),
    lambda o: o["spec"]["items"][1].update(k="w"),
    lambda o: o["spec"]["items"].sort(),
]


@pytest.mark.parametrize("mutate", MUTATIONS)
def test_every_mutation_is_refused(mutate: Callable[[Any], object]) -> None:
    frozen = freeze(DOC)
    with pytest.raises(TypeError, match="read-only"):
        mutate(frozen)
    assert frozen == DOC


def test_frozen_reads_like_json() -> None:
    frozen = freeze(DOC)
    assert isinstance(frozen, dict) and isinstance(frozen["spec"]["items"], list)
    assert json.loads(json.dumps(frozen)) == DOC
    assert freeze(frozen) is frozen


@pytest.mark.parametrize("unfreeze", [thaw, copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_thawed_copies_are_mutable_and_independent(unfreeze: Callable[[Any], Any]) -> None:
    frozen = freeze(DOC)
    copy_ = unfreeze(frozen)
    assert not isinstance(copy_, FrozenDict)
    copy_["spec"]["items"].append(3)
    assert frozen == DOC
