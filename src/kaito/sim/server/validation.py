"""Built-in validation: the parts of kube-apiserver's ``ValidateObjectMeta`` and per-kind checks that clients
hit.

Pure functions returning :class:`~kaito.sim.server.errors.FieldError` lists (empty = valid); the store turns a
non-empty list into one 422 Invalid error with every cause, as kube does. Checked here:

- ``metadata.name``: required (unless generateName), an RFC 1123 subdomain, or an RFC 1123 label for the kinds
  kube validates that way (Namespace, Service); label keys/values and annotation key syntax.
- finalizer names must be qualified names; no new finalizers once ``deletionTimestamp`` is set.
- the fields without which the real controllers could not work: Pod containers (name and image), workload
  ``selector``/``template``, matching template labels.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from kaito.sim.server.errors import FieldError
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.selectors import LabelSelector

__all__ = ["validate_builtin", "validate_finalizer_change", "validate_metadata"]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_DNS_LABEL_KINDS = frozenset({("", "Namespace"), ("", "Service")})


def _qualified_name_errors(path: str, value: str) -> list[FieldError]:
    prefix, slash, name = value.rpartition("/")
    errors: list[FieldError] = []
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        errors.append(FieldError("FieldValueInvalid", path, "prefix part " + _SUBDOMAIN_MSG, value))
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        detail = "name part must be no more than 63 characters" if len(name) > 63 else _QUALIFIED_MSG
        errors.append(FieldError("FieldValueInvalid", path, detail, value))
    return errors


def validate_metadata(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """ObjectMeta checks common to every kind (name syntax, labels, annotations, finalizers)."""
    meta = obj.get("metadata") or {}
    errors: list[FieldError] = []
    name = meta.get("name")
    if not name:
        errors.append(FieldError("FieldValueRequired", "metadata.name", "name or generateName is required"))
    elif (rt.group, rt.kind) in _DNS_LABEL_KINDS:
        if len(name) > 63 or not _LABEL.match(name):
            detail = "must be no more than 63 characters" if len(name) > 63 else _LABEL_MSG
            errors.append(FieldError("FieldValueInvalid", "metadata.name", detail, name))
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        detail = "must be no more than 253 characters" if len(name) > 253 else _SUBDOMAIN_MSG
        errors.append(FieldError("FieldValueInvalid", "metadata.name", detail, name))
    for key, value in (meta.get("labels") or {}).items():
        errors.extend(_qualified_name_errors("metadata.labels", key))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(FieldError("FieldValueInvalid", "metadata.labels", _LABEL_VALUE_MSG, value))
    for key in meta.get("annotations") or {}:
        errors.extend(_qualified_name_errors("metadata.annotations", key))
    for i, fin in enumerate(meta.get("finalizers") or []):
        errors.extend(_qualified_name_errors(f"metadata.finalizers[{i}]", str(fin)))
    return errors


def validate_finalizer_change(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """Once an object is being deleted, its finalizers may only shrink."""
    old_meta = old.get("metadata") or {}
    if not old_meta.get("deletionTimestamp"):
        return []
    before = set(old_meta.get("finalizers") or [])
    added = [f for f in (new.get("metadata") or {}).get("finalizers") or [] if f not in before]
    if added:
        return [
            FieldError(
                "FieldValueForbidden",
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {added!r}",
            )
        ]
    return []


def _containers_errors(path: str, spec: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [FieldError("FieldValueRequired", f"{path}.containers")]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        where = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            errors.append(FieldError("FieldValueInvalid", where, "must be an object", c))
            continue
        cname = c.get("name")
        if not cname:
            errors.append(FieldError("FieldValueRequired", f"{where}.name"))
        elif not _LABEL.match(str(cname)):
            errors.append(FieldError("FieldValueInvalid", f"{where}.name", _LABEL_MSG, cname))
        elif cname in seen:
            errors.append(FieldError("FieldValueDuplicate", f"{where}.name", value=cname))
        else:
            seen.add(cname)
        if not c.get("image"):
            errors.append(FieldError("FieldValueRequired", f"{where}.image"))
    return errors


def _workload_errors(kind: str, obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template")
    errors: list[FieldError] = []
    if not isinstance(template, dict):
        return [FieldError("FieldValueRequired", "spec.template")]
    errors.extend(_containers_errors("spec.template.spec", template.get("spec") or {}))
    labels = (template.get("metadata") or {}).get("labels") or {}
    if kind == "Job" and selector is None:
        return errors  # the Job controller generates its selector
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        errors.append(FieldError("FieldValueRequired", "spec.selector"))
    elif not LabelSelector.from_dict(selector).matches(labels):
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                "`selector` does not match template `labels`",
                labels,
            )
        )
    for replicas_field in ("replicas", "parallelism", "completions"):
        value = spec.get(replicas_field)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors.append(
                FieldError(
                    "FieldValueInvalid", f"spec.{replicas_field}", "must be greater than or equal to 0", value
                )
            )
    return errors


def validate_builtin(rt: ResourceType, obj: dict[str, Any]) -> list[FieldError]:
    """Metadata checks plus the kind's own required fields."""
    errors = validate_metadata(rt, obj)
    if rt.group == "" and rt.kind == "Pod":
        errors.extend(_containers_errors("spec", obj.get("spec") or {}))
    elif rt.group in ("apps", "batch") and rt.kind in ("Deployment", "ReplicaSet", "StatefulSet", "Job"):
        errors.extend(_workload_errors(rt.kind, obj))
    elif rt.group == "" and rt.kind == "PersistentVolumeClaim":
        errors.extend(_claim_errors(obj.get("spec") or {}))
    elif rt.group == "" and rt.kind == "Secret":
        errors.extend(_secret_errors(obj))
    elif rt.group == "autoscaling" and rt.kind == "HorizontalPodAutoscaler":
        errors.extend(_hpa_errors(obj.get("spec") or {}))
    elif rt.group == "coordination.k8s.io" and rt.kind == "Lease":
        duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            errors.append(
                FieldError(
                    "FieldValueInvalid", "spec.leaseDurationSeconds", "must be greater than 0", duration
                )
            )
    return errors


_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def _claim_errors(spec: dict[str, Any]) -> list[FieldError]:
    """kube's ValidatePersistentVolumeClaimSpec: access modes and a storage request are required."""
    errors = []
    modes = spec.get("accessModes") or []
    if not modes:
        errors.append(
            FieldError("FieldValueRequired", "spec.accessModes", "at least 1 access mode is required")
        )
    for i, mode in enumerate(modes):
        if mode not in _ACCESS_MODES:
            errors.append(
                FieldError(
                    "FieldValueNotSupported",
                    f"spec.accessModes[{i}]",
                    f"supported values: {_quoted(_ACCESS_MODES)}",
                    mode,
                )
            )
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        errors.append(FieldError("FieldValueRequired", "spec.resources[storage]", ""))
    return errors


# kube's secret types and the keys each must carry (ValidateSecret)
_SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def _secret_errors(obj: dict[str, Any]) -> list[FieldError]:
    kind = obj.get("type") or "Opaque"
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    errors = [
        FieldError("FieldValueRequired", f"data[{key}]", "")
        for key in _SECRET_KEYS.get(kind, ())
        if key not in keys
    ]
    if kind == "kubernetes.io/basic-auth" and not keys & {"username", "password"}:
        errors.append(FieldError("FieldValueRequired", "data[username]", ""))
    if kind == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.append(
                FieldError(
                    "FieldValueRequired", "metadata.annotations[kubernetes.io/service-account.name]", ""
                )
            )
    for key, value in (obj.get("data") or {}).items():
        if not isinstance(value, str) or not _is_base64(value):
            errors.append(
                FieldError(
                    "FieldValueInvalid", f"data[{key}]", "illegal base64 data; data values are base64", value
                )
            )
    for key in keys:
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", str(key)):
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    f"data[{key}]",
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    key,
                )
            )
    return errors


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _hpa_errors(spec: dict[str, Any]) -> list[FieldError]:
    errors = []
    ref = spec.get("scaleTargetRef") or {}
    for part in ("kind", "name"):
        if not ref.get(part):
            errors.append(FieldError("FieldValueRequired", f"spec.scaleTargetRef.{part}", ""))
    maximum, minimum = spec.get("maxReplicas"), spec.get("minReplicas")
    if not isinstance(maximum, int) or maximum < 1:
        errors.append(FieldError("FieldValueInvalid", "spec.maxReplicas", "must be greater than 0", maximum))
    elif isinstance(minimum, int) and minimum > maximum:
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.maxReplicas",
                "must be greater than or equal to `minReplicas`",
                maximum,
            )
        )
    return errors


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)
