"""CRD versions converted as kube-apiserver converts them: ``None`` (relabel) or ``Webhook`` (a review).

Objects of a custom resource are stored in the CRD's storage version. A request naming another served
version needs its objects converted both ways: what is written goes to the storage version before it is
stored, what is read comes back in the version asked for. :class:`CrdConversion` does that for the API
server (:mod:`kaito.sim.server.apiserver` calls it only for custom resources asked for in a non-storage
version):

- ``spec.conversion.strategy: None`` (or absent): only ``apiVersion`` changes, as kube's nopConverter.
- ``Webhook``: one ``ConversionReview`` (``apiextensions.k8s.io/v1``) per batch with ``desiredAPIVersion``
  and the objects, sent to ``spec.conversion.webhook.clientConfig`` (:mod:`kaito.sim.server.webhook_calls`:
  Service via its Endpoints, or URL; ``caBundle`` verified; 30 s timeout, as kube's). The answer is
  checked as kube checks it: the uid, ``result.status: Success``, one object per object sent, each in the
  desired version and of the same kind; metadata other than labels and annotations is kept from the input
  (a webhook may only change those).

Any failure is a 500 InternalError worded as kube words it: ``conversion webhook for kaito.sh/v1beta1,
Kind=Workspace failed: Post "https://svc.ns.svc:443/convert?timeout=30s": dial tcp ...: connect: connection
refused`` (or the webhook's own ``result.message``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from kaito.sim.server.errors import InternalError
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.store import Store
from kaito.sim.server.webhook_calls import WebhookCallError, call_webhook, resolve_client_config

__all__ = ["CONVERSION_TIMEOUT_S", "CrdConversion"]

CONVERSION_TIMEOUT_S = 30.0
_CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


class CrdConversion:
    """Converts custom resources between served versions of their CRD (module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def webhook_for(self, rt: ResourceType) -> Mapping[str, Any] | None:
        """The conversion webhook of ``rt``'s CRD when its strategy is Webhook, else None."""
        if not rt.custom:
            return None
        crd = self.store.peek(_CRDS, "", f"{rt.plural}.{rt.group}")
        conversion = ((crd or {}).get("spec") or {}).get("conversion") or {}
        if conversion.get("strategy") != "Webhook":
            return None
        webhook = conversion.get("webhook")
        return webhook if isinstance(webhook, Mapping) else {}

    def needs_conversion(self, rt: ResourceType) -> bool:
        """Whether requests for ``rt`` must go through this converter (a non-storage version, Webhook)."""
        return rt.version != rt.storage_version and self.webhook_for(rt) is not None

    async def convert(
        self, rt: ResourceType, objects: list[dict[str, Any]], api_version: str
    ) -> list[dict[str, Any]]:
        """``objects`` (of ``rt``'s resource) in ``api_version``; raises InternalError as kube does."""
        todo = [i for i, o in enumerate(objects) if o.get("apiVersion") != api_version]
        if not todo:
            return objects
        webhook = self.webhook_for(rt)
        out = list(objects)
        if webhook is None:
            for i in todo:
                out[i] = dict(objects[i], apiVersion=api_version)
            return out
        sent = [objects[i] for i in todo]
        converted = await self._call(rt, webhook, sent, api_version)
        for i, obj in zip(todo, converted, strict=True):
            out[i] = obj
        return out

    async def convert_one(self, rt: ResourceType, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
        return (await self.convert(rt, [obj], api_version))[0]

    async def _call(
        self, rt: ResourceType, webhook: Mapping[str, Any], objects: list[dict[str, Any]], api_version: str
    ) -> list[dict[str, Any]]:
        failed = f"conversion webhook for {objects[0].get('apiVersion')}, Kind={rt.kind} failed"
        uid = str(uuid.uuid4())
        review = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": objects},
        }
        try:
            target = resolve_client_config(
                self.store, webhook.get("clientConfig") or {}, CONVERSION_TIMEOUT_S
            )
            if self._session is None:
                self._session = aiohttp.ClientSession()
            answer = await call_webhook(self._session, target, review, CONVERSION_TIMEOUT_S)
        except WebhookCallError as error:
            raise InternalError(f"{failed}: {error}") from None
        response = answer.get("response") or {}
        result = response.get("result") or {}
        if response.get("uid") != uid:
            raise InternalError(f'{failed}: expected response.uid="{uid}", got "{response.get("uid")}"')
        if result.get("status") != "Success":
            raise InternalError(f"{failed}: {result.get('message') or 'the webhook did not report Success'}")
        converted = response.get("convertedObjects")
        if not isinstance(converted, list) or len(converted) != len(objects):
            count = len(converted) if isinstance(converted, list) else 0
            raise InternalError(f"{failed}: expected {len(objects)} converted objects, got {count}")
        out: list[dict[str, Any]] = []
        for before, after in zip(objects, converted, strict=True):
            if not isinstance(after, dict) or after.get("apiVersion") != api_version:
                raise InternalError(f"{failed}: a converted object is not in {api_version}")
            if after.get("kind") != before.get("kind"):
                raise InternalError(f"{failed}: the webhook changed the kind to {after.get('kind')!r}")
            meta = dict(before.get("metadata") or {})
            new_meta = after.get("metadata") or {}
            for key in ("labels", "annotations"):
                if new_meta.get(key):
                    meta[key] = new_meta[key]
                else:
                    meta.pop(key, None)
            out.append(dict(after, metadata=meta))
        return out
