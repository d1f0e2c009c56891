"""kube's ``fieldValidation`` directive: what a write does with fields its body should not have.

kube-apiserver decodes every create, update and patch body strictly, then follows ``?fieldValidation=``:

- ``Strict`` (what kubectl 1.27+ sends unless ``--validate=false``): refuse the write. A create or update
  is answered 400 BadRequest ``Workspace in version "v1beta1" cannot be handled as a Workspace: strict
  decoding error: unknown field "resource.instancetype"``; a JSON or merge patch 422 Invalid on the field
  ``patch`` (``"" is invalid: patch: Invalid value: "<the patched object>": strict decoding error: ...``).
- ``Warn`` (kube's default when the parameter is absent): go on, pruning as usual, and answer with one
  ``Warning: 299 - "unknown field \\"spec.foo\\""`` header per problem (kubectl prints them on stderr).
- ``Ignore`` (``kubectl --validate=false``): prune silently.

The problems, in kube's order: ``duplicate field "x"`` for each key a JSON body sets twice (kube lists
them in document order, this module innermost object first), then ``unknown field "spec.ports[0].foo"``
for each field the kind's schema does not declare (sorted). Unknown fields are found for custom resources
only, from their structural schema (``x-kubernetes-preserve-unknown-fields`` subtrees accept anything); the
simulator holds no complete schema of the built-in kinds, so for those only duplicates count. Not covered,
as kube words them differently: YAML bodies' duplicate keys (``line 10: key "x" already set in map``),
duplicate keys inside JSON patch operations, unknown ``metadata`` fields, and server-side apply (kube
refuses an undeclared field in an apply configuration whatever the directive, and with an InternalError).

One :class:`FieldValidation` lives for one request: the HTTP layer builds it from the query, lets it watch
the JSON decoding (:meth:`FieldValidation.loads`), hands it to the store, which calls
:meth:`FieldValidation.settle` once it knows the object, and copies its warnings onto the response
(:meth:`FieldValidation.add_warning_headers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kaito.sim.server.errors import ApiError, BadRequest, FieldError, Invalid

__all__ = [
    "DIRECTIVES",
    "FieldValidation",
    "decode_refusal",
    "patch_refusal",
    "warning_header",
]

DIRECTIVES = ("Ignore", "Warn", "Strict")
_DEFAULT_DIRECTIVE = "Warn"  # kube's, when a request names none


class _Headers(Protocol):
    def add(self, key: str, value: str) -> None: ...


class _Response(Protocol):
    @property
    def headers(self) -> _Headers: ...


def warning_header(text: str) -> str:
    """The value of one ``Warning`` header as kube writes it: code 299, agent ``-``, the text quoted."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def decode_refusal(kind: str, version: str) -> Callable[[str], ApiError]:
    """How a create or update is refused: kube's transformDecodeError around the strict decoding error."""
    return lambda error: BadRequest(f'{kind} in version "{version}" cannot be handled as a {kind}: {error}')


def patch_refusal(patched: dict[str, Any]) -> Callable[[str], ApiError]:
    """How a JSON or merge patch is refused: an Invalid on the field ``patch`` whose value is the patched
    object, with neither kind nor name (kube's ``errors.NewInvalid(schema.GroupKind{}, "", ...)``)."""

    def refuse(error: str) -> ApiError:
        cause = FieldError(
            "FieldValueInvalid", "patch", error, json.dumps(patched, separators=(",", ":"), sort_keys=True)
        )
        return Invalid(f' "" is invalid: {cause.message()}', details={"causes": [cause.cause()]})

    return refuse


@dataclass
class FieldValidation:
    """One write request's directive, the duplicate keys its JSON body held, and the warnings it earned.

    Invariant: ``warnings`` only ever grows under ``Warn`` and holds each text once.
    """

    directive: str = _DEFAULT_DIRECTIVE
    duplicates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.directive not in DIRECTIVES:
            raise BadRequest(
                f'fieldValidation is "{self.directive}"; use one of {", ".join(DIRECTIVES[:-1])} '
                f"or {DIRECTIVES[-1]}"
            )

    @classmethod
    def from_query(cls, value: str | None) -> FieldValidation:
        """The directive of a ``fieldValidation`` query value; absent or empty means kube's default, Warn."""
        return cls(value or _DEFAULT_DIRECTIVE)

    def loads(self, raw: str | bytes) -> Any:
        """``json.loads`` that notes every key an object in ``raw`` sets twice (the last value wins, as in
        kube's decoder); under Ignore nothing is noted, so the plain, faster decoder does."""
        if self.directive == "Ignore":
            return json.loads(raw)
        return json.loads(raw, object_pairs_hook=self._pairs)

    def _pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen and key not in self.duplicates:
                    self.duplicates.append(key)
                seen.add(key)
        return obj

    def settle(
        self, unknown: list[str], refusal: Callable[[str], ApiError], *, duplicates: bool = True
    ) -> None:
        """Apply the directive to the body's problems: raise ``refusal(<strict decoding error>)`` under
        Strict, note warnings under Warn, nothing under Ignore. ``unknown`` are undeclared field paths;
        ``duplicates=False`` leaves the body's duplicate keys out (a JSON patch's, which kube ignores)."""
        if self.directive == "Ignore":
            return
        problems = [f'duplicate field "{key}"' for key in self.duplicates] if duplicates else []
        problems.extend(f'unknown field "{path}"' for path in unknown)
        if not problems:
            return
        if self.directive == "Strict":
            raise refusal("strict decoding error: " + ", ".join(problems))
        self.warnings.extend(p for p in problems if p not in self.warnings)

    def add_warning_headers(self, response: _Response) -> None:
        """Put one ``Warning`` header per warning on ``response`` (an aiohttp response, say)."""
        for text in self.warnings:
            response.headers.add("Warning", warning_header(text))
