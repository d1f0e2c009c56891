"""Which CRD versions are converted by webhook, and the None strategy's relabelling."""

from __future__ import annotations

import copy
from typing import Any

from kaito.sim.server.conversion import CrdConversion
from kaito.sim.server.store import Store

CRD: dict[str, Any] = {
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets"},
        "versions": [
            {
                "name": v,
                "served": True,
                "storage": v == "v1",
                "schema": {"openAPIV3Schema": {"type": "object"}},
            }
            for v in ("v1", "v2")
        ],
    },
}


async def test_only_non_storage_versions_of_a_webhook_crd_need_conversion() -> None:
    store = Store()
    crd = copy.deepcopy(CRD)
    crd["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {"clientConfig": {"url": "https://x/"}}}
    store.create("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd)
    conversion = CrdConversion(store)
    v1 = store.registry.by_plural("example.com", "v1", "widgets")
    v2 = store.registry.by_plural("example.com", "v2", "widgets")
    assert v1 is not None and v2 is not None
    assert (conversion.needs_conversion(v1), conversion.needs_conversion(v2)) == (False, True)
    assert conversion.webhook_for(v2) == {"clientConfig": {"url": "https://x/"}}


async def test_the_none_strategy_only_relabels() -> None:
    store = Store()
    store.create("apiextensions.k8s.io/v1", "CustomResourceDefinition", copy.deepcopy(CRD))
    conversion = CrdConversion(store)
    v2 = store.registry.by_plural("example.com", "v2", "widgets")
    assert v2 is not None and not conversion.needs_conversion(v2)
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    assert await conversion.convert(v2, [obj], "example.com/v2") == [dict(obj, apiVersion="example.com/v2")]
