"""CustomResourceDefinitions: what a CRD object means to the registry, and the status the server gives it.

Pure functions of the CRD dict: :func:`crd_resource_types` lists one ResourceType per served version (they
share storage, keyed by group and plural); :func:`crd_status` is the status kube's establishing and naming
controllers converge to (NamesAccepted and Established True, acceptedNames = spec.names, storedVersions);
:func:`validate_crd` checks what kube rejects before serving anything (name = plural.group, exactly one
storage version, a structural schema per version).
"""

from __future__ import annotations

from typing import Any

from kaito.sim.server.errors import FieldError
from kaito.sim.server.resources import ResourceType

__all__ = ["crd_resource_types", "crd_status", "validate_crd"]


def _names(crd: dict[str, Any]) -> dict[str, Any]:
    names = dict((crd.get("spec") or {}).get("names") or {})
    kind = names.get("kind", "")
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    return names


def validate_crd(crd: dict[str, Any]) -> list[FieldError]:
    """The errors kube's CRD validation reports for the fields the registry depends on."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    errors: list[FieldError] = []
    if not group:
        errors.append(FieldError("FieldValueRequired", "spec.group"))
    if not names.get("plural"):
        errors.append(FieldError("FieldValueRequired", "spec.names.plural"))
    if not names.get("kind"):
        errors.append(FieldError("FieldValueRequired", "spec.names.kind"))
    name = (crd.get("metadata") or {}).get("name", "")
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        errors.append(
            FieldError("FieldValueInvalid", "metadata.name", 'must be spec.names.plural+"."+spec.group', name)
        )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errors.append(
            FieldError(
                "FieldValueNotSupported" if scope else "FieldValueRequired",
                "spec.scope",
                'supported values: "Cluster", "Namespaced"' if scope else "",
                *([scope] if scope else []),
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.versions",
                "must have exactly one version marked as storage version",
                versions,
            )
        )
        return errors
    storage = [v for v in versions if v.get("storage")]
    if len(storage) != 1:
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.versions",
                "must have exactly one version marked as storage version",
                [v.get("name") for v in versions],
            )
        )
    for i, version in enumerate(versions):
        if not version.get("name"):
            errors.append(FieldError("FieldValueRequired", f"spec.versions[{i}].name"))
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or None
        if schema is None:
            errors.append(
                FieldError(
                    "FieldValueRequired", f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"
                )
            )
        elif schema.get("type") != "object":
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    f"spec.versions[{i}].schema.openAPIV3Schema.type",
                    "must be object at the root",
                    schema.get("type", ""),
                )
            )
    return errors


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of ``crd`` (a CRD that passed :func:`validate_crd`)."""
    spec = crd.get("spec") or {}
    names = _names(crd)
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    types: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        subs = {name for name in ("status", "scale") if name in subresources}
        selectable = tuple(
            str(f.get("jsonPath", "")).lstrip(".")
            for f in version.get("selectableFields") or []
            if f.get("jsonPath")
        )
        types.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names["singular"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(subs),
                list_kind=names["listKind"],
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                field_selectors=selectable,
                custom=True,
                storage_version=storage,
                scale=dict(subresources["scale"]) if "scale" in subresources else None,
            )
        )
    return types


def crd_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """The status of an established CRD; condition times keep their value when the status is unchanged."""
    spec = crd.get("spec") or {}
    old = crd.get("status") or {}
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}

    def condition(type_: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(type_)
        since = (
            previous.get("lastTransitionTime", now) if previous and previous.get("status") == "True" else now
        )
        return {
            "type": type_,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    stored = list(old.get("storedVersions") or [])
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    if storage and storage not in stored:
        stored.append(storage)
    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": {k: v for k, v in _names(crd).items() if v},
        "storedVersions": stored,
    }
