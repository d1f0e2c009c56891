"""The four PATCH flavours kube-apiserver accepts, as pure functions of (current object, patch) -> new object.

- :func:`merge_patch` — JSON merge patch (RFC 7386): maps merge recursively, ``null`` deletes, lists replace.
- :func:`json_patch` — JSON patch (RFC 6902) through the ``jsonpatch`` package.
- :func:`strategic_merge_patch` — kube's strategic merge patch for built-in kinds: lists of objects with a
  ``patchMergeKey`` merge element by element (containers by ``name``, ports by ``containerPort``, ...; see
  :data:`MERGE_KEYS`), ``metadata.finalizers`` merges as a set, and the directives ``$patch:
  replace|delete|merge``, ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and
  ``$setElementOrder/<field>`` are honoured.
- :func:`apply_patch` — server-side apply, simplified: the applied configuration is merged strategically into
  the live object, and fields this manager applied last time but no longer applies are removed unless another
  manager also owns them. A field another manager owns with a different value is a conflict (409) unless the
  apply is forced, which moves the field to the applier. Ownership is recorded in ``metadata.managedFields``
  (``fieldsV1``) by :func:`record_manager`, in kube's format, so ``--show-managed-fields`` looks familiar.
  A custom resource's lists are atomic (its CRD's schema gives no merge keys here), except under
  ``metadata``, which is ObjectMeta on every kind: its ``ownerReferences`` merge by ``uid`` there too.

Inputs are never mutated: every function returns a new object.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.objects import clone

__all__ = [
    "MERGE_KEYS",
    "ApplyConflict",
    "PatchError",
    "apply_patch",
    "field_set",
    "json_patch",
    "merge_patch",
    "record_manager",
    "render_field_path",
    "strategic_merge_patch",
]


class PatchError(Exception):
    """A well-formed patch that cannot be applied to this object (a failed ``test``, a missing path...)."""


# list field name -> patchMergeKey ("" = atomic list, replaced as a whole). Keys are field names; the few
# context-dependent ones are in _PATH_MERGE_KEYS.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "addresses": "type",
    "topologySpreadConstraints": "topologyKey",
    # Validating/MutatingWebhookConfiguration: `helm upgrade` patches one webhook, leaving the caBundle
    # the operator patched in
    "webhooks": "name",
    "tolerations": "",
}
_PATH_MERGE_KEYS: dict[tuple[str, ...], str] = {("spec", "ports"): "port"}  # Service ports merge by port
_PRIMITIVE_SET_LISTS = frozenset({("metadata", "finalizers")})
_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


# --------------------------------------------------------------------------------------------- merge patch
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: apply ``patch`` to ``target``."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    _merge_into(result, patch)
    return result


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge ``patch`` into ``result`` (a private copy) in place."""
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            if not isinstance(current, dict):
                current = {}
                result[key] = current
            _merge_into(current, value)
        else:
            result[key] = clone(value)


# --------------------------------------------------------------------------------------------- JSON patch
def json_patch(target: dict[str, Any], operations: Any) -> Any:
    """RFC 6902: apply the list of operations; malformed -> BadRequest, inapplicable -> PatchError."""
    if not isinstance(operations, list):
        raise BadRequest(f"a JSON patch must be a list of operations, got {type(operations).__name__}")
    try:
        patch = jsonpatch.JsonPatch(operations)
    except (jsonpatch.InvalidJsonPatch, TypeError, KeyError) as e:
        raise BadRequest(f"invalid JSON patch: {e}") from e
    except jsonpatch.JsonPointerException as e:
        raise BadRequest(
            f"invalid JSON patch: {e}; an operation's path and from must be JSON pointers such as /data/key"
        ) from e
    try:
        return patch.apply(clone(target), in_place=True)
    except jsonpatch.InvalidJsonPatch as e:
        raise BadRequest(f"invalid JSON patch: {e}") from e
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        IndexError,
        KeyError,
        TypeError,
    ) as e:
        raise PatchError(f"the JSON patch could not be applied: {e}") from e


# --------------------------------------------------------------------------------------------- strategic
def _merge_key(path: tuple[str, ...]) -> str | None:
    """The patchMergeKey of the list at ``path`` ("" for atomic lists, None when unknown: replace)."""
    if path in _PATH_MERGE_KEYS:
        return _PATH_MERGE_KEYS[path]
    return MERGE_KEYS.get(path[-1]) if path else None


def strategic_merge_patch(target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """kube's strategic merge patch of a built-in object."""
    if not isinstance(patch, dict):
        raise BadRequest(f"a strategic merge patch must be a JSON object, got {type(patch).__name__}")
    merged = _smp_map(clone(target), patch, ())
    if merged is None:
        raise PatchError("the patch deletes the whole object ($patch: delete at the top level)")
    return merged


def _smp_map(target: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive not in (None, "merge"):
        raise BadRequest(
            f'unknown patch directive "{directive}" at {".".join(path) or "the top level"}; '
            "expected replace, delete or merge"
        )
    result = target
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field_name = key[len(_DELETE_PRIMITIVE) :]
            if value is not None and not isinstance(value, list):
                raise BadRequest(f"{key}: must be a list of the values to delete, got {type(value).__name__}")
            removed = set(json.dumps(v, sort_keys=True) for v in value or [])
            current = result.get(field_name)
            if isinstance(current, list):
                result[field_name] = [v for v in current if json.dumps(v, sort_keys=True) not in removed]
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub_path = (*path, key)
        current = result.get(key)
        if isinstance(value, dict):
            merged = _smp_map(current if isinstance(current, dict) else {}, value, sub_path)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(current if isinstance(current, list) else [], value, sub_path)
        else:
            result[key] = clone(value)
    retain = patch.get(_RETAIN)
    if retain is not None and (not isinstance(retain, list) or not all(isinstance(k, str) for k in retain)):
        raise BadRequest(f"{_RETAIN}: must be a list of field names (strings), got {json.dumps(retain)[:80]}")
    if isinstance(retain, list):
        keep = set(retain)
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _smp_list(target: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    if any(isinstance(e, dict) and e.get(_DIRECTIVE) == "replace" for e in patch):
        return [clone(e) for e in patch if not (isinstance(e, dict) and e.get(_DIRECTIVE) == "replace")]
    if path in _PRIMITIVE_SET_LISTS:
        out = list(target)
        for e in patch:
            if e not in out:
                out.append(clone(e))
        return out
    key = _merge_key(path)
    if not key or not all(isinstance(e, dict) for e in patch):
        return [clone(e) for e in patch if not (isinstance(e, dict) and _DIRECTIVE in e)]
    out = list(target)
    for element in patch:
        directive = element.get(_DIRECTIVE)
        if key not in element:
            raise BadRequest(
                f"map: {element} does not contain declared merge key: {key} (list {'.'.join(path)})"
            )
        index = next(
            (i for i, e in enumerate(out) if isinstance(e, dict) and e.get(key) == element[key]), None
        )
        if directive == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            out.append(_smp_map({}, element, path) or {})
        else:
            merged = _smp_map(clone(out[index]), element, path)
            if merged is None:
                out.pop(index)
            else:
                out[index] = merged
    return out


# --------------------------------------------------------------------------------------------- apply
def _atomic_lists(path: tuple[str, ...], custom: bool) -> bool:
    """Whether lists at ``path`` are atomic: a custom resource's are, but not its ObjectMeta's."""
    return custom and path[:1] != ("metadata",)


def _apply_merge(live: Any, config: Any, path: tuple[str, ...], custom: bool) -> Any:
    """Merge an applied configuration into the live value (strategic for built-ins, per map for CRs)."""
    if isinstance(config, dict):
        result = clone(live) if isinstance(live, dict) else {}
        for key, value in config.items():
            result[key] = _apply_merge(result.get(key), value, (*path, key), custom)
        return result
    if isinstance(config, list):
        key = None if _atomic_lists(path, custom) else _merge_key(path)
        if path in _PRIMITIVE_SET_LISTS and isinstance(live, list):
            return list(live) + [clone(v) for v in config if v not in live]
        if key and isinstance(live, list) and all(isinstance(e, dict) and key in e for e in config):
            out = [clone(e) for e in live]
            for element in config:
                index = next(
                    (i for i, e in enumerate(out) if isinstance(e, dict) and e.get(key) == element[key]), None
                )
                if index is None:
                    out.append(clone(element))
                else:
                    out[index] = _apply_merge(out[index], element, path, custom)
            return out
        return clone(config)
    return clone(config)


def field_set(obj: Any, path: tuple[str, ...] = (), custom: bool = False) -> dict[str, Any]:
    """The ``fieldsV1`` tree of the fields set in ``obj`` (kube's managedFields encoding)."""
    if not isinstance(obj, dict):
        return {}
    tree: dict[str, Any] = {}
    for key, value in obj.items():
        if not path and key in ("apiVersion", "kind"):
            continue
        if path == ("metadata",) and key in (
            "name",
            "namespace",
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ):
            continue
        sub_path = (*path, key)
        if isinstance(value, dict):
            child = field_set(value, sub_path, custom)
            if not child and sub_path == ("metadata",):
                continue  # name and namespace only: kube records no metadata fields
            tree[f"f:{key}"] = {".": {}, **child} if child else {}
        elif isinstance(value, list):
            merge_key = None if _atomic_lists(sub_path, custom) else _merge_key(sub_path)
            if merge_key and all(isinstance(e, dict) and merge_key in e for e in value):
                items: dict[str, Any] = {}
                for element in value:
                    ident = json.dumps({merge_key: element[merge_key]}, separators=(",", ":"))
                    items[f"k:{ident}"] = {".": {}, **field_set(element, sub_path, custom)}
                tree[f"f:{key}"] = items
            elif sub_path in _PRIMITIVE_SET_LISTS:
                tree[f"f:{key}"] = {f"v:{json.dumps(v)}": {} for v in value}
            else:
                tree[f"f:{key}"] = {}
        else:
            tree[f"f:{key}"] = {}
    return tree


def _paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for key, child in tree.items():
        if key == ".":
            continue
        here = (*prefix, key)
        out.add(here)
        out |= _paths(child, here)
    return out


def _remove_path(obj: Any, path: tuple[str, ...]) -> None:
    """Remove the field or list element at a fieldsV1 path (``f:spec``, ``k:{"name":"x"}``, ``v:"a"``)."""
    *parents, last = path
    node: Any = obj
    for step in parents:
        node = _step(node, step)
        if node is None:
            return
    if isinstance(node, dict) and last.startswith("f:"):
        node.pop(last[2:], None)
    elif isinstance(node, list) and last.startswith("k:"):
        ident = json.loads(last[2:])
        node[:] = [
            e for e in node if not (isinstance(e, dict) and all(e.get(k) == v for k, v in ident.items()))
        ]
    elif isinstance(node, list) and last.startswith("v:"):
        value = json.loads(last[2:])
        node[:] = [e for e in node if e != value]


def _step(node: Any, step: str) -> Any:
    if isinstance(node, dict) and step.startswith("f:"):
        return node.get(step[2:])
    if isinstance(node, list) and step.startswith("k:"):
        ident = json.loads(step[2:])
        return next(
            (e for e in node if isinstance(e, dict) and all(e.get(k) == v for k, v in ident.items())), None
        )
    return None


class ApplyConflict(PatchError):
    """Fields of the applied configuration that another manager owns with a different value."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        self.conflicts = conflicts  # (manager, apiVersion, field path like ".spec.replicas")
        managers = sorted({m for m, _, _ in conflicts})
        if len(conflicts) == 1:
            manager, api_version, path = conflicts[0]
            text = f'Apply failed with 1 conflict: conflict with "{manager}" using {api_version}: {path}'
        else:
            lines = []
            for name in managers:
                api_version = next(a for m, a, _ in conflicts if m == name)
                lines.append(f'conflicts with "{name}" using {api_version}:')
                lines.extend(f"- {p}" for m, _, p in conflicts if m == name)
            text = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
        super().__init__(text)


_MISSING = object()


def _value_at(obj: Any, path: tuple[str, ...]) -> Any:
    node = obj
    for step in path:
        if step.startswith("v:"):
            return (
                json.loads(step[2:]) if isinstance(node, list) and json.loads(step[2:]) in node else _MISSING
            )
        node = _step(node, step)
        if node is None:
            return _MISSING
    return node


def render_field_path(path: tuple[str, ...]) -> str:
    """A fieldsV1 path as kube prints it in conflicts: ``.spec.containers[name="c"].image``."""
    out = []
    for step in path:
        if step.startswith("f:"):
            out.append("." + step[2:])
        elif step.startswith("k:"):
            ident = json.loads(step[2:])
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in ident.items()) + "]")
        elif step.startswith("v:"):
            out.append(f"[={step[2:]}]")
    return "".join(out)


def _tree_remove(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    node = tree
    for step in path[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            return
        node = child
    node.pop(path[-1], None)


def _leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The paths of ``tree`` that no other path extends: those whose node has no child but ``"."``."""
    out: set[tuple[str, ...]] = set()
    for key, child in tree.items():
        if key == ".":
            continue
        here = (*prefix, key)
        if any(k != "." for k in child):
            out |= _leaves(child, here)
        else:
            out.add(here)
    return out


def apply_patch(
    live: dict[str, Any], config: dict[str, Any], manager: str, *, custom: bool = False, force: bool = False
) -> dict[str, Any]:
    """Server-side apply of ``config`` by ``manager`` onto ``live`` (see the module docstring).

    A field of ``config`` that another manager owns with a different live value is a conflict
    (:class:`ApplyConflict`); with ``force`` the field changes hands instead.
    """
    merged = _apply_merge(live, config, (), custom)
    entries = (merged.get("metadata") or {}).get("managedFields") or []
    mine = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    applied = field_set(config, (), custom)
    conflicts: list[tuple[str, str, str]] = []
    for entry in entries:
        if entry.get("manager") == manager:
            continue
        owned = _paths(entry.get("fieldsV1") or {})
        for path in sorted(_leaves(applied) & owned):
            if _value_at(live, path) == _value_at(config, path):
                continue  # same value: shared ownership, as in kube
            if force:
                _tree_remove(entry["fieldsV1"], path)
            else:
                conflicts.append(
                    (str(entry.get("manager")), str(entry.get("apiVersion", "")), render_field_path(path))
                )
    if conflicts:
        raise ApplyConflict(conflicts)
    if mine is not None:
        before = _paths(mine.get("fieldsV1") or {})
        now = _paths(applied)
        others: set[tuple[str, ...]] = set()
        for entry in entries:
            if entry is not mine:
                others |= _paths(entry.get("fieldsV1") or {})
        # remove the deepest paths first so that parents emptied by the removal are judged afterwards
        for path in sorted(before - now - others, key=len, reverse=True):
            if not any(p[: len(path)] == path for p in now | others if len(p) > len(path)):
                _remove_path(merged, path)
    return dict(merged)


def _tree_of(paths: set[tuple[str, ...]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    return tree


def record_manager(
    obj: dict[str, Any],
    manager: str,
    operation: str,
    api_version: str,
    time: str,
    subresource: str | None,
    *,
    applied: dict[str, Any] | None = None,
    custom: bool = False,
    previous: dict[str, Any] | None = None,
) -> None:
    """Record ``manager``'s managedFields entry for ``operation`` on ``obj`` (mutates ``obj``).

    An Apply entry is replaced by the fields of ``applied``. An Update entry gains the fields whose value
    differs from ``previous`` (all of them on create), as kube tracks what each writer changed.
    """
    md = obj.setdefault("metadata", {})
    source = applied if applied is not None else obj
    if subresource == "status":
        source = {"status": source.get("status")} if source.get("status") is not None else {}
    elif applied is None:
        source = {k: v for k, v in source.items() if k != "status"}
    fields = field_set(source, (), custom)
    old_entry = next(
        (
            e
            for e in md.get("managedFields") or []
            if e.get("manager") == manager
            and e.get("operation") == operation
            and e.get("subresource") == subresource
        ),
        None,
    )
    if applied is None:
        changed = {
            p for p in _leaves(fields) if previous is None or _value_at(previous, p) != _value_at(obj, p)
        }
        if old_entry is not None:
            changed |= {
                p for p in _leaves(old_entry.get("fieldsV1") or {}) if _value_at(obj, p) is not _MISSING
            }
        if not changed and old_entry is None:
            return
        fields = _tree_of(changed)
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    entries = [e for e in md.get("managedFields") or [] if e is not old_entry]
    entries.append(entry)
    md["managedFields"] = entries
