"""kaito.sim calls admission and conversion webhooks as kube-apiserver does, over HTTPS to a Service's
Endpoints or a URL, verified against the caBundle; failures come back in kube's words.

The webhook is a small aiohttp server of the test (TLS from kaito.sim.server.tls, named hook.default.svc),
whose
answers each test sets in ``hook.answer``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from kaito import ctrl
from kaito.sim.cluster import Cluster
from kaito.sim.server.tls import TlsBundle

pytestmark = pytest.mark.integration

CM = ("v1", "ConfigMap")


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


@dataclass
class Hook:
    """The test's webhook server: what it was asked, and a function answering each review."""

    port: int = 0
    ca_b64: str = ""
    reviews: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None


def allow(patch: list[dict[str, Any]] | None = None) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def answer(review: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": True}
        if patch is not None:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}

    return answer


def deny(message: str, code: int = 403) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def answer(review: dict[str, Any]) -> dict[str, Any]:
        status = {"code": code, "message": message, "reason": "Forbidden"}
        response = {"uid": review["request"]["uid"], "allowed": False, "status": status}
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}

    return answer


@pytest_asyncio.fixture
async def hook(tmp_path: Path) -> AsyncIterator[Hook]:
    tls = TlsBundle.generate(tmp_path / "tls", hosts=("hook.default.svc", "127.0.0.1"))
    state = Hook(ca_b64=base64.b64encode(tls.ca_pem()).decode())

    async def handle(request: web.Request) -> web.Response:
        review = await request.json()
        state.reviews.append(review)
        assert state.answer is not None
        return web.json_response(await state.answer(review))

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context())
    await site.start()
    state.port = int(runner.addresses[0][1])
    yield state
    await runner.cleanup()


def configuration(kind: str, hook: Hook, **webhook: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "check.example.com",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {
            "service": {"namespace": "default", "name": "hook", "path": "/check", "port": 443},
            "caBundle": hook.ca_b64,
        },
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
    }
    entry.update(webhook)
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "check"},
        "webhooks": [entry],
    }


async def route(admin: ctrl.Client, port: int) -> None:
    """The Service `hook` and its Endpoints at 127.0.0.1:port (what an endpoints controller would write)."""
    await admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "default"},
            "spec": {"ports": [{"port": 443, "targetPort": 9443}]},
        }
    )
    await admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "hook", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}],
        }
    )


@pytest_asyncio.fixture
async def admin(cluster: Cluster) -> AsyncIterator[ctrl.Client]:
    async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="test") as client:
        yield client


def config_map(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
    }


async def test_a_validating_webhook_denies_in_kubes_words_and_sees_old_and_new(
    admin: ctrl.Client, hook: Hook
) -> None:
    await route(admin, hook.port)
    await admin.create(configuration("ValidatingWebhookConfiguration", hook))
    hook.answer = allow()
    await admin.create(config_map("ok"))
    request = hook.reviews[-1]["request"]
    assert (request["operation"], request["name"], request["namespace"]) == ("CREATE", "ok", "default")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    hook.answer = deny("no thanks")
    with pytest.raises(ctrl.ApiError) as refused:
        await admin.patch(CM, "ok", {"data": {"a": "b"}}, namespace="default")
    assert refused.value.code == 403
    assert str(refused.value).endswith('admission webhook "check.example.com" denied the request: no thanks')
    update = hook.reviews[-1]["request"]
    assert update["operation"] == "UPDATE"
    assert update["object"]["data"] == {"a": "b"} and "data" not in update["oldObject"]
    assert "data" not in await admin.get(CM, "ok", "default")


async def test_a_mutating_webhooks_json_patch_is_stored(admin: ctrl.Client, hook: Hook) -> None:
    await route(admin, hook.port)
    await admin.create(configuration("MutatingWebhookConfiguration", hook))
    hook.answer = allow([{"op": "add", "path": "/data", "value": {"added": "by-webhook"}}])
    created = await admin.create(config_map("m"))
    assert created["data"] == {"added": "by-webhook"}


async def test_failure_policy_fail_refuses_with_kubes_unreachable_message_and_ignore_goes_on(
    admin: ctrl.Client, hook: Hook
) -> None:
    await route(admin, 1)  # nothing listens on port 1
    await admin.create(configuration("ValidatingWebhookConfiguration", hook, failurePolicy="Fail"))
    with pytest.raises(ctrl.ApiError) as refused:
        await admin.create(config_map("a"))
    assert refused.value.code == 500
    assert (
        'Internal error occurred: failed calling webhook "check.example.com": failed to call webhook: '
        'Post "https://hook.default.svc:443/check?timeout=10s": '
        "dial tcp 127.0.0.1:1: connect: connection refused"
    ) in str(refused.value)
    await admin.patch(
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        "check",
        [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}],
        patch_type=ctrl.PatchType.JSON,
    )
    await admin.create(config_map("a"))


async def test_a_slow_webhook_times_out_after_timeout_seconds(admin: ctrl.Client, hook: Hook) -> None:
    await route(admin, hook.port)
    await admin.create(configuration("ValidatingWebhookConfiguration", hook, timeoutSeconds=1))
    never = asyncio.Event()

    async def slow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.wait_for(never.wait(), timeout=5)
        return await allow()(review)

    hook.answer = slow
    with pytest.raises(ctrl.ApiError) as refused:
        await admin.create(config_map("slow"))
    assert str(refused.value).endswith(
        'Post "https://hook.default.svc:443/check?timeout=1s": context deadline exceeded'
    )


async def test_a_wrong_ca_bundle_is_an_x509_failure(admin: ctrl.Client, hook: Hook, tmp_path: Path) -> None:
    await route(admin, hook.port)
    other = TlsBundle.generate(tmp_path / "other", hosts=("hook.default.svc",))
    config = configuration("ValidatingWebhookConfiguration", hook)
    config["webhooks"][0]["clientConfig"]["caBundle"] = base64.b64encode(other.ca_pem()).decode()
    await admin.create(config)
    hook.answer = allow()
    with pytest.raises(ctrl.ApiError, match="tls: failed to verify certificate: x509"):
        await admin.create(config_map("x"))
    assert hook.reviews == []


async def test_selectors_and_dry_run_side_effects(admin: ctrl.Client, hook: Hook) -> None:
    await route(admin, hook.port)
    await admin.create(
        configuration(
            "ValidatingWebhookConfiguration",
            hook,
            objectSelector={"matchLabels": {"checked": "yes"}},
            sideEffects="Unknown",
        )
    )
    hook.answer = deny("checked")
    await admin.create(config_map("unlabelled"))  # objectSelector: not called
    assert hook.reviews == []
    with pytest.raises(ctrl.ApiError, match=r"denied the request: checked"):
        await admin.create(config_map("labelled", checked="yes"))
    with pytest.raises(
        ctrl.ApiError, match=r'admission webhook "check\.example\.com" does not support dry run'
    ):
        await admin.create(config_map("dry", checked="yes"), dry_run=True)
    await admin.delete(("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"), "check")
    await admin.create(
        configuration(
            "ValidatingWebhookConfiguration", hook, namespaceSelector={"matchLabels": {"team": "a"}}
        )
    )
    await admin.create(config_map("other-namespace"))  # default carries no team=a label
    await admin.patch(("v1", "Namespace"), "default", {"metadata": {"labels": {"team": "a"}}})
    with pytest.raises(ctrl.ApiError, match="denied the request"):
        await admin.create(config_map("team-a"))


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": name,
                "served": True,
                "storage": name == "v1",
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    }
                },
            }
            for name in ("v1", "v2")
        ],
    },
}


async def test_a_crd_conversion_webhook_converts_reads_and_writes(admin: ctrl.Client, hook: Hook) -> None:
    await route(admin, hook.port)
    crd = json.loads(json.dumps(CRD))
    crd["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"namespace": "default", "name": "hook", "path": "/convert"},
                "caBundle": hook.ca_b64,
            },
        },
    }
    await admin.create(crd)

    async def convert(review: dict[str, Any]) -> dict[str, Any]:
        request = review["request"]
        out = []
        for obj in request["objects"]:
            spec = dict(obj.get("spec") or {})
            if request["desiredAPIVersion"] == "example.com/v2" and "size" in spec:
                spec["replicas"] = spec.pop("size")
            elif request["desiredAPIVersion"] == "example.com/v1" and "replicas" in spec:
                spec["size"] = spec.pop("replicas")
            out.append(dict(obj, apiVersion=request["desiredAPIVersion"], spec=spec))
        response = {"uid": request["uid"], "convertedObjects": out, "result": {"status": "Success"}}
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response}

    hook.answer = convert
    widget = {
        "apiVersion": "example.com/v2",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
    }
    for _ in range(50):  # the new CRD's versions become served at once, but give discovery a moment
        try:
            created = await admin.create(dict(widget, spec={"replicas": 3}))
            break
        except ctrl.NotFound:
            await asyncio.sleep(0.05)
    assert created["apiVersion"] == "example.com/v2" and created["spec"] == {"replicas": 3}
    stored = await admin.get(("example.com/v1", "Widget"), "w", "default")
    assert stored["spec"] == {"size": 3}
    await admin.patch(("example.com/v2", "Widget"), "w", {"spec": {"replicas": 5}}, namespace="default")
    assert (await admin.get(("example.com/v1", "Widget"), "w", "default"))["spec"] == {"size": 5}
    listed = (await admin.list(("example.com/v2", "Widget"), "default")).items
    assert [w["spec"] for w in listed] == [{"replicas": 5}]

    async def broken(review: dict[str, Any]) -> dict[str, Any]:
        response = {"uid": review["request"]["uid"], "result": {"status": "Failure", "message": "cannot"}}
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response}

    hook.answer = broken
    with pytest.raises(ctrl.ApiError) as failed:
        await admin.get(("example.com/v2", "Widget"), "w", "default")
    assert failed.value.code == 500
    assert "conversion webhook for example.com/v1, Kind=Widget failed: cannot" in str(failed.value)
