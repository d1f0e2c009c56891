"""Admission webhooks, called as kube-apiserver calls them: Mutating, then Validating WebhookConfigurations.

The API server (:mod:`kaito.sim.server.apiserver`) asks :class:`Admission` at each write whether any webhook
applies (:meth:`Admission.matching`) and, when one does, calls :meth:`Admission.mutate` on the object about
to be stored and :meth:`Admission.validate` on the final one. What kube does and this module does too:

- **Which webhooks** (``webhooks[]`` of every configuration, configurations in name order): a rule matches
  the operation (CREATE, UPDATE, DELETE, CONNECT or ``*``), group, version, resource (``workspaces``,
  ``workspaces/status``, ``*``, ``*/*``, ``*/status``) and scope (``Cluster``, ``Namespaced``, ``*``).
  With ``matchPolicy: Equivalent`` (the default) a rule naming another served version of the same resource
  also matches, and the object is sent converted to that version, with ``requestKind`` naming the one
  asked for. ``namespaceSelector`` is held to the labels of the object's Namespace (of the object itself
  for a Namespace; cluster-scoped objects always pass); ``objectSelector`` to the labels of the new or
  the old object.
- **Calling** (:mod:`kaito.sim.server.webhook_calls`): an AdmissionReview ``admission.k8s.io/v1`` with uid,
  kind/resource, requestKind/requestResource, subResource, name, namespace, operation, userInfo, object,
  oldObject, dryRun; ``timeoutSeconds`` (10 by default) bounds the call.
- **Failures**: with ``failurePolicy: Fail`` (the default) a webhook that cannot be called refuses the
  request: 500 ``Internal error occurred: failed calling webhook "<name>": failed to call webhook: ...``;
  with ``Ignore`` the request goes on. A denial is ``admission webhook "<name>" denied the request:
  <message>`` with the webhook's code (400 at least) and reason.
- **sideEffects**: a dry-run request reaching a webhook whose sideEffects are not None/NoneOnDryRun is
  refused (400, ``admission webhook "<name>" does not support dry run``), without calling it.
- **Mutation**: a ``JSONPatch`` response is applied to the object before the next webhook sees it.

Not simulated: ``matchConditions`` (CEL), ``reinvocationPolicy`` and the admissionReviewVersions
negotiation (v1 is always sent); validating webhooks are called one after the other, not in parallel.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kaito.sim.server import patches
from kaito.sim.server.errors import ApiError, BadRequest, InternalError
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.selectors import LabelSelector
from kaito.sim.server.store import Store
from kaito.sim.server.webhook_calls import WebhookCallError, call_webhook, resolve_client_config

__all__ = [
    "ADMISSION_TYPES",
    "Admission",
    "AdmissionAttributes",
    "MatchedWebhook",
    "WebhookDenied",
    "rule_matches",
]

_GROUP = "admissionregistration.k8s.io"
ADMISSION_TYPES: tuple[ResourceType, ...] = tuple(
    ResourceType(
        _GROUP,
        "v1",
        kind,
        plural,
        kind.lower(),
        False,
        generation=True,
        printer_columns=(
            {"name": "Webhooks", "type": "integer", "jsonPath": ".webhooks", "format": "computed"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    )
    for kind, plural in (
        ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
        ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    )
)
"""The admissionregistration.k8s.io/v1 kinds the API server serves (registered by :class:`Admission`)."""

_NO_SIDE_EFFECTS = frozenset({"None", "NoneOnDryRun"})

Converter = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]


class WebhookDenied(ApiError):
    """A webhook said no: its code (400 at least) and reason, kube's message around its message."""

    def __init__(self, webhook: str, status: Mapping[str, Any] | None) -> None:
        status = status or {}
        denied = f'admission webhook "{webhook}" denied the request'
        message = status.get("message") or status.get("reason")
        super().__init__(f"{denied}: {message}" if message else f"{denied} without explanation")
        code = status.get("code")
        self.code = code if isinstance(code, int) and code >= 400 else 400
        reason = status.get("reason")
        self.reason = str(reason) if reason and reason != "Success" else "BadRequest"


@dataclass(frozen=True)
class AdmissionAttributes:
    """What is being asked: the request's resource type (the version asked for), operation and object."""

    rt: ResourceType
    operation: str  # CREATE, UPDATE, DELETE
    name: str
    namespace: str
    subresource: str = ""
    dry_run: bool = False
    username: str = "system:admin"


@dataclass(frozen=True)
class MatchedWebhook:
    """A webhook that applies, and the version its rule accepts the object in."""

    configuration: str
    webhook: Mapping[str, Any]
    version: str

    @property
    def name(self) -> str:
        return str(self.webhook.get("name") or self.configuration)


def _listed(values: Any, value: str) -> bool:
    return isinstance(values, list) and ("*" in values or value in values)


def _resource_listed(resources: Any, plural: str, subresource: str) -> bool:
    if not isinstance(resources, list):
        return False
    wanted = f"{plural}/{subresource}" if subresource else plural
    for entry in resources:
        if entry == "*/*" or entry == wanted:
            return True
        if entry == "*" and not subresource:
            return True
        if subresource and entry == f"*/{subresource}":
            return True
        if not subresource and entry == f"{plural}/*":
            return False
    return False


def rule_matches(rule: Mapping[str, Any], operation: str, rt: ResourceType, version: str, sub: str) -> bool:
    """Whether one ``rules[]`` entry covers the request (at ``version`` of the resource)."""
    if not _listed(rule.get("operations"), operation):
        return False
    if not _listed(rule.get("apiGroups"), rt.group) or not _listed(rule.get("apiVersions"), version):
        return False
    if not _resource_listed(rule.get("resources"), rt.plural, sub):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or scope == ("Namespaced" if rt.namespaced else "Cluster")


class Admission:
    """The admission chain of one API server (module docstring); ``session`` is opened on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        for rt in ADMISSION_TYPES:
            store.registry.register(rt)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _versions(self, rt: ResourceType) -> list[str]:
        """Versions of the resource that share its storage: the asked one first, then the others."""
        others = [
            other.version
            for other in self.store.registry.all()
            if other.storage_key == rt.storage_key and other.version != rt.version
        ]
        return [rt.version, *sorted(others)]

    def matching(
        self, attrs: AdmissionAttributes, obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None
    ) -> tuple[list[MatchedWebhook], list[MatchedWebhook]]:
        """(mutating, validating) webhooks that apply to the request, in call order."""
        return (
            self._matching("MutatingWebhookConfiguration", attrs, obj, old),
            self._matching("ValidatingWebhookConfiguration", attrs, obj, old),
        )

    def _matching(
        self,
        kind: str,
        attrs: AdmissionAttributes,
        obj: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
    ) -> list[MatchedWebhook]:
        configurations, _ = self.store.list(f"{_GROUP}/v1", kind, copy=False)  # in name order
        if not configurations:
            return []
        versions = self._versions(attrs.rt)
        found: list[MatchedWebhook] = []
        for configuration in configurations:
            config_name = str(configuration["metadata"]["name"])
            for hook in configuration.get("webhooks") or []:
                equivalent = (hook.get("matchPolicy") or "Equivalent") == "Equivalent"
                candidates = versions if equivalent else versions[:1]
                version = next(
                    (
                        v
                        for v in candidates
                        if any(
                            rule_matches(rule, attrs.operation, attrs.rt, v, attrs.subresource)
                            for rule in hook.get("rules") or []
                        )
                    ),
                    None,
                )
                if version is None or not self._selected(hook, attrs, obj, old):
                    continue
                found.append(MatchedWebhook(config_name, hook, version))
        return found

    def _selected(
        self,
        hook: Mapping[str, Any],
        attrs: AdmissionAttributes,
        obj: Mapping[str, Any] | None,
        old: Mapping[str, Any] | None,
    ) -> bool:
        namespace_selector = LabelSelector.from_dict(hook.get("namespaceSelector"))
        if not namespace_selector.empty:
            if attrs.rt.group == "" and attrs.rt.plural == "namespaces":
                labels = ((obj or old or {}).get("metadata") or {}).get("labels")
                if not namespace_selector.matches(labels):
                    return False
            elif attrs.rt.namespaced:
                namespace = self.store.peek(("", "namespaces"), "", attrs.namespace) or {}
                if not namespace_selector.matches((namespace.get("metadata") or {}).get("labels")):
                    return False
        object_selector = LabelSelector.from_dict(hook.get("objectSelector"))
        if not object_selector.empty:
            return any(o is not None and object_selector.matches_object(o) for o in (obj, old))
        return True

    # -- calls --

    def _check_dry_run(self, hooks: list[MatchedWebhook], attrs: AdmissionAttributes) -> None:
        if not attrs.dry_run:
            return
        for hook in hooks:
            if hook.webhook.get("sideEffects") not in _NO_SIDE_EFFECTS:
                raise BadRequest(f'admission webhook "{hook.name}" does not support dry run')

    async def _review(
        self,
        hook: MatchedWebhook,
        attrs: AdmissionAttributes,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        convert: Converter,
    ) -> dict[str, Any] | None:
        """The webhook's response, or None when it could not be called and its failurePolicy is Ignore."""
        rt = attrs.rt
        api_version = f"{rt.group}/{hook.version}" if rt.group else hook.version
        uid = str(uuid.uuid4())
        request: dict[str, Any] = {
            "uid": uid,
            "kind": {"group": rt.group, "version": hook.version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": hook.version, "resource": rt.plural},
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": attrs.name,
            "operation": attrs.operation,
            "userInfo": {"username": attrs.username},
            "object": await convert(obj, api_version) if obj is not None else None,
            "oldObject": await convert(old, api_version) if old is not None else None,
            "dryRun": attrs.dry_run,
        }
        if attrs.subresource:
            request["subResource"] = attrs.subresource
        if rt.namespaced:
            request["namespace"] = attrs.namespace
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        timeout = float(hook.webhook.get("timeoutSeconds") or 10)
        try:
            target = resolve_client_config(self.store, hook.webhook.get("clientConfig") or {}, timeout)
            if self._session is None:
                self._session = aiohttp.ClientSession()
            answer = await call_webhook(self._session, target, review, timeout)
            response = answer.get("response")
            if not isinstance(response, dict):
                raise WebhookCallError("the response holds no AdmissionReview response")
            if response.get("uid") != uid:
                raise WebhookCallError(f'expected response.uid="{uid}", got "{response.get("uid")}"')
        except WebhookCallError as error:
            if (hook.webhook.get("failurePolicy") or "Fail") == "Ignore":
                return None
            raise InternalError(
                f'Internal error occurred: failed calling webhook "{hook.name}": '
                f"failed to call webhook: {error}"
            ) from None
        return response

    async def mutate(
        self,
        hooks: list[MatchedWebhook],
        attrs: AdmissionAttributes,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        convert: Converter,
    ) -> dict[str, Any]:
        """``obj`` after every mutating webhook's JSONPatch (in the object's own version)."""
        self._check_dry_run(hooks, attrs)
        own_version = str(obj.get("apiVersion") or attrs.rt.api_version)
        for hook in hooks:
            response = await self._review(hook, attrs, obj, old, convert)
            if response is None:
                continue
            if not response.get("allowed"):
                raise WebhookDenied(hook.name, response.get("status"))
            if response.get("patch"):
                try:
                    operations = json.loads(base64.b64decode(str(response["patch"]), validate=True))
                    hooked_version = f"{attrs.rt.group}/{hook.version}" if attrs.rt.group else hook.version
                    patched = patches.json_patch(await convert(obj, hooked_version), operations)
                    obj = await convert(patched, own_version)
                except (binascii.Error, json.JSONDecodeError, patches.PatchError, ApiError) as error:
                    raise InternalError(
                        f'Internal error occurred: failed calling webhook "{hook.name}": '
                        f"the JSONPatch it returned cannot be applied: {error}"
                    ) from None
        return obj

    async def validate(
        self,
        hooks: list[MatchedWebhook],
        attrs: AdmissionAttributes,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        convert: Converter,
    ) -> None:
        """Raise the first refusal of the validating webhooks (WebhookDenied or InternalError)."""
        self._check_dry_run(hooks, attrs)
        for hook in hooks:
            response = await self._review(hook, attrs, obj, old, convert)
            if response is not None and not response.get("allowed"):
                raise WebhookDenied(hook.name, response.get("status"))
