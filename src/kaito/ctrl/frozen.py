"""Read-only views of JSON objects, so a handler or reconciler cannot corrupt the informer's cache.

`freeze(obj)` converts a JSON document once, when it enters the cache, into `FrozenDict`/`FrozenList`:
subclasses of dict and list whose mutating methods raise `TypeError`. They still *are* dicts and lists,
so `json.dumps`, `==`, `isinstance(x, dict)` and `Model.model_validate(x)` work, and reading costs nothing
(no per-read deep copy; the benchmark measures both). `thaw(obj)` — or `copy.deepcopy(obj)` — returns an
ordinary mutable deep copy for callers that want to edit and write back.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _readonly(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(
        "objects from the informer cache are read-only; use thaw(obj) or copy.deepcopy(obj) to edit"
    )


class FrozenDict(dict[str, Any]):
    """A dict that refuses mutation."""

    __slots__ = ()
    __setitem__ = _readonly
    __delitem__ = _readonly
    __ior__ = _readonly
    clear = _readonly
    pop = _readonly
    popitem = _readonly
    setdefault = _readonly
    update = _readonly

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (thaw(self),))


class FrozenList(list[Any]):
    """A list that refuses mutation."""

    __slots__ = ()
    __setitem__ = _readonly
    __delitem__ = _readonly
    __iadd__ = _readonly
    __imul__ = _readonly
    append = _readonly
    clear = _readonly
    extend = _readonly
    insert = _readonly
    pop = _readonly
    remove = _readonly
    reverse = _readonly
    sort = _readonly

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __copy__(self) -> list[Any]:
        return list(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (thaw(self),))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """A read-only deep view of a JSON value (dicts and lists become FrozenDict/FrozenList)."""
    kind = type(value)
    # exact type checks first: JSON from the wire is only dict, list and scalars, and isinstance against
    # the Mapping ABC costs several times more than the copy itself
    if kind is dict:
        frozen = FrozenDict()
        for key, item in value.items():
            # Keys repeat across every cached object; interning them stores each spelling once.
            dict.__setitem__(frozen, _intern(key) if type(key) is str else key, freeze(item))
        return frozen
    if kind in _SCALARS or kind is FrozenDict or kind is FrozenList:
        return value
    if kind is list:
        frozen_list = FrozenList()
        list.extend(frozen_list, [freeze(item) for item in value])
        return frozen_list
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, Mapping):
        return freeze(dict(value.items()))
    if isinstance(value, list | tuple):
        return freeze(list(value))
    return value


_intern = sys.intern


def thaw(value: Any) -> Any:
    """An ordinary mutable deep copy of a (possibly frozen) JSON value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value
