"""Reads and writes that pass through webhooks: CRD conversion and admission around the store.

The API server hands a request here instead of straight to the :class:`~kaito.sim.store.Store` when
:meth:`WebhookWrites.involved` says a webhook takes part: the resource is asked for in a version its CRD
converts by webhook (:mod:`kaito.sim.server.conversion`), or a Mutating/ValidatingWebhookConfiguration exists
(:mod:`kaito.sim.server.admission`). Otherwise nothing here runs, and the store is used exactly as before.

Order, as in kube-apiserver: the request's object is converted to the storage version; the write is
computed (a dry run of the store, which applies patches, defaults, schema and the built-in validation);
mutating webhooks see that object and may change it; validating webhooks see the final object (and the
old one on UPDATE); then the write is made. When no mutating webhook changed anything, the real write is the
request as it came (so managedFields and generation are the store's own); a mutated object is written as an
update guarded by the old resourceVersion. Between the dry run and the write other requests may run while a
webhook is awaited: a guarded update then fails with 409 Conflict, as a retried write would in kube; an
unguarded patch is applied to the newer object, which the webhooks did not see (kube evaluates admission
inside its retry loop instead).

Patches on a converted version are applied to the object in the version asked for (JSON and merge patches),
then converted back; a server-side apply body is converted as it is (a partial object of the same kind).
"""

from __future__ import annotations

from typing import Any

from kaito.sim.server import patches
from kaito.sim.server.admission import Admission, AdmissionAttributes, MatchedWebhook
from kaito.sim.server.conversion import CrdConversion
from kaito.sim.server.errors import BadRequest, Conflict, NotFound
from kaito.sim.server.fieldvalidation import FieldValidation
from kaito.sim.server.objects import clone
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.store import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, Store

__all__ = ["WebhookWrites"]

_PATCH_ATTEMPTS = 5


def _carries_resource_version(patch: Any, patch_type: str) -> bool:
    """Whether the patch sets metadata.resourceVersion itself (then a conflict is the caller's to see)."""
    if patch_type == JSON_PATCH:
        return any(
            isinstance(op, dict) and str(op.get("path", "")).startswith("/metadata/resourceVersion")
            for op in patch or []
        )
    return isinstance(patch, dict) and bool((patch.get("metadata") or {}).get("resourceVersion"))


def _view(old: dict[str, Any] | None, srt: ResourceType, *, copy: bool = False) -> dict[str, Any] | None:
    """The stored object as the storage version's kind; a deep copy only for a webhook that will be sent it
    (most writes match none, and matching reads only the labels)."""
    if old is None:
        return None
    return dict(clone(old) if copy else old, apiVersion=srt.api_version, kind=srt.kind)


_ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
_ADMISSION_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


class WebhookWrites:
    """Store calls with conversion and admission around them (module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.admission = Admission(store)
        self.conversion = CrdConversion(store)

    async def close(self) -> None:
        await self.admission.close()
        await self.conversion.close()

    # -- when --

    def converts(self, rt: ResourceType) -> bool:
        return self.conversion.needs_conversion(rt)

    def involved(self, rt: ResourceType) -> bool:
        """Whether a request for ``rt`` must come here (a converting version or any admission webhook)."""
        if self.converts(rt):
            return True
        return any(self.store.count(_ADMISSION_API_VERSION, kind) for kind in _ADMISSION_KINDS)

    # -- conversion helpers --

    def _storage(self, rt: ResourceType) -> ResourceType:
        storage = self.store.registry.by_plural(rt.group, rt.storage_version, rt.plural)
        return storage if storage is not None else rt

    async def to_request_version(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A stored object (as the store presents it for ``rt``) in ``rt``'s version."""
        if not self.converts(rt):
            return obj
        stored = dict(obj, apiVersion=self._storage(rt).api_version)
        return await self.conversion.convert_one(rt, stored, rt.api_version)

    async def to_request_versions(self, rt: ResourceType, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.converts(rt) or not objs:
            return objs
        storage = self._storage(rt).api_version
        return await self.conversion.convert(rt, [dict(o, apiVersion=storage) for o in objs], rt.api_version)

    async def _to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if not self.converts(rt):
            return obj
        return await self.conversion.convert_one(
            rt, dict(obj, apiVersion=rt.api_version), self._storage(rt).api_version
        )

    def _converter(self, rt: ResourceType) -> Any:
        async def convert(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
            return await self.conversion.convert_one(rt, obj, api_version)

        return convert

    # -- admission around a computed write --

    async def _admit(
        self,
        attrs: AdmissionAttributes,
        preview: dict[str, Any],
        old: dict[str, Any] | None,
        hooks: tuple[list[MatchedWebhook], list[MatchedWebhook]],
    ) -> dict[str, Any] | None:
        """Run the webhooks on the computed object; the mutated object when a webhook changed it."""
        mutating, validating = hooks
        convert = self._converter(attrs.rt)
        final = preview
        if mutating:
            final = await self.admission.mutate(mutating, attrs, clone(preview), old, convert)
        if validating:
            await self.admission.validate(validating, attrs, final, old, convert)
        return final if final != preview else None

    # -- writes --

    async def create(
        self,
        rt: ResourceType,
        body: dict[str, Any],
        namespace: str | None,
        *,
        dry_run: bool,
        field_manager: str | None,
        field_validation: FieldValidation,
    ) -> dict[str, Any]:
        srt = self._storage(rt) if self.converts(rt) else rt
        body = await self._to_storage(rt, body)
        meta = body.get("metadata") or {}
        ns = namespace or str(meta.get("namespace") or "")
        attrs = AdmissionAttributes(rt, "CREATE", str(meta.get("name") or ""), ns, dry_run=dry_run)
        hooks = self.admission.matching(attrs, body, None)
        if hooks[0] or hooks[1]:
            preview = self.store.create(
                srt.api_version,
                srt.kind,
                clone(body),
                namespace=namespace,
                dry_run=True,
                field_manager=field_manager,
                field_validation=FieldValidation(
                    field_validation.directive, list(field_validation.duplicates)
                ),
            )
            mutated = await self._admit(attrs, preview, None, hooks)
            if mutated is not None:
                body = mutated
        obj = self.store.create(
            srt.api_version,
            srt.kind,
            body,
            namespace=namespace,
            dry_run=dry_run,
            field_manager=field_manager,
            field_validation=field_validation,
        )
        return await self.to_request_version(rt, obj) if srt is not rt else obj

    async def update(
        self,
        rt: ResourceType,
        body: dict[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
        field_manager: str | None,
        field_validation: FieldValidation,
    ) -> dict[str, Any]:
        srt = self._storage(rt) if self.converts(rt) else rt
        body = await self._to_storage(rt, body)
        meta = body.get("metadata") or {}
        name, ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        old = self.store.peek(rt.storage_key, ns if rt.namespaced else "", name)
        attrs = AdmissionAttributes(
            rt, "UPDATE" if old is not None else "CREATE", name, ns, subresource or "", dry_run
        )
        old_view = _view(old, srt)
        hooks = self.admission.matching(attrs, body, old_view)
        if hooks[0] or hooks[1]:
            old_view = _view(old, srt, copy=True)
            preview = self.store.update(
                srt.api_version,
                srt.kind,
                clone(body),
                subresource=subresource,
                dry_run=True,
                field_manager=field_manager,
                field_validation=FieldValidation(
                    field_validation.directive, list(field_validation.duplicates)
                ),
            )
            mutated = await self._admit(attrs, preview, old_view, hooks)
            if mutated is not None:
                body = mutated
        obj = self.store.update(
            srt.api_version,
            srt.kind,
            body,
            subresource=subresource,
            dry_run=dry_run,
            field_manager=field_manager,
            field_validation=field_validation,
        )
        return await self.to_request_version(rt, obj) if srt is not rt else obj

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        patch_type: str,
        namespace: str | None,
        *,
        subresource: str | None,
        field_manager: str | None,
        force: bool,
        dry_run: bool,
        field_validation: FieldValidation,
    ) -> dict[str, Any]:
        ns = namespace or ""
        old = self.store.peek(rt.storage_key, ns if rt.namespaced else "", name)
        if self.converts(rt) and patch_type != APPLY_PATCH:
            # kube's GuaranteedUpdate: a patch carries no resourceVersion of its own, so a write that lost a
            # race with another one (while a webhook was awaited) is re-applied to the newer object
            for attempt in range(_PATCH_ATTEMPTS):
                try:
                    return await self._patch_converted(
                        rt, name, patch, patch_type, ns, subresource, field_manager, dry_run, field_validation
                    )
                except Conflict:
                    if attempt == _PATCH_ATTEMPTS - 1 or _carries_resource_version(patch, patch_type):
                        raise
        srt = self._storage(rt) if self.converts(rt) else rt
        if srt is not rt:  # server-side apply on a converted version: the partial body is converted
            patch = await self._to_storage(rt, dict(patch, kind=rt.kind))
        attrs = AdmissionAttributes(
            rt, "UPDATE" if old is not None else "CREATE", name, ns, subresource or "", dry_run
        )
        old_view = _view(old, srt)
        hooks = self.admission.matching(attrs, patch if isinstance(patch, dict) else None, old_view)
        if hooks[0] or hooks[1]:
            old_view = _view(old, srt, copy=True)
            preview = self.store.patch(
                srt.api_version,
                srt.kind,
                name,
                clone(patch),
                patch_type,
                namespace,
                subresource=subresource,
                field_manager=field_manager,
                force=force,
                dry_run=True,
                field_validation=FieldValidation(
                    field_validation.directive, list(field_validation.duplicates)
                ),
            )
            mutated = await self._admit(attrs, preview, old_view, hooks)
            if mutated is not None:
                if old is not None:
                    mutated.setdefault("metadata", {})["resourceVersion"] = old["metadata"].get(
                        "resourceVersion"
                    )
                obj = self.store.update(
                    srt.api_version,
                    srt.kind,
                    mutated,
                    subresource=subresource,
                    dry_run=dry_run,
                    field_manager=field_manager,
                    field_validation=field_validation,
                )
                return await self.to_request_version(rt, obj) if srt is not rt else obj
        obj = self.store.patch(
            srt.api_version,
            srt.kind,
            name,
            patch,
            patch_type,
            namespace,
            subresource=subresource,
            field_manager=field_manager,
            force=force,
            dry_run=dry_run,
            field_validation=field_validation,
        )
        return await self.to_request_version(rt, obj) if srt is not rt else obj

    async def _patch_converted(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        patch_type: str,
        ns: str,
        subresource: str | None,
        field_manager: str | None,
        dry_run: bool,
        field_validation: FieldValidation,
    ) -> dict[str, Any]:
        old = self.store.peek(rt.storage_key, ns if rt.namespaced else "", name)
        if old is None:
            raise NotFound.for_object(rt.plural, rt.group, name)
        current = await self.to_request_version(rt, dict(clone(old), apiVersion=rt.api_version, kind=rt.kind))
        try:
            if patch_type == JSON_PATCH:
                patched = patches.json_patch(current, clone(patch))
            elif patch_type == MERGE_PATCH:
                patched = patches.merge_patch(current, clone(patch))
            else:
                raise BadRequest(f"{patch_type} is not supported for {rt.kind}.{rt.group}")
        except patches.PatchError as error:
            raise BadRequest(f"the patch could not be applied to {rt.kind} {name}: {error}") from None
        if not isinstance(patched, dict):
            raise BadRequest(f"the patch turned the {rt.kind} into a {type(patched).__name__}")
        patched_meta = patched.setdefault("metadata", {})
        if not _carries_resource_version(patch, patch_type):
            patched_meta["resourceVersion"] = (old.get("metadata") or {}).get("resourceVersion")
        return await self.update(
            rt,
            patched,
            subresource=subresource,
            dry_run=dry_run,
            field_manager=field_manager,
            field_validation=field_validation,
        )

    async def delete(
        self, rt: ResourceType, name: str, namespace: str | None, **options: Any
    ) -> dict[str, Any]:
        ns = namespace or ""
        old = self.store.peek(rt.storage_key, ns if rt.namespaced else "", name)
        if old is not None:
            srt = self._storage(rt)
            attrs = AdmissionAttributes(rt, "DELETE", name, ns, dry_run=bool(options.get("dry_run")))
            old_view = dict(clone(old), apiVersion=srt.api_version, kind=srt.kind)
            _, validating = self.admission.matching(attrs, None, old_view)
            if validating:
                await self.admission.validate(validating, attrs, None, old_view, self._converter(rt))
        obj = self.store.delete(rt.api_version, rt.kind, name, namespace, **options)
        return await self.to_request_version(rt, obj) if obj.get("kind") == rt.kind else obj
