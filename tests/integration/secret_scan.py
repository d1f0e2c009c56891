"""Where a planted secret shows up: log records, pod logs, Events and objects of a kaito.sim cluster.

A leak test plants recognisable values in Secrets, runs Workspaces that use them, gathers every text a user
or an operator of the cluster could read (:func:`log_texts`, :func:`pod_log_texts`, :func:`object_texts`,
plus whatever command output the test captured) and asks :func:`leaks` where any planted value appears, raw
or base64-encoded as Secret data carries it. The Secrets themselves are left out of :func:`object_texts`:
that is where the values belong.

Imported as ``integration.secret_scan`` (pytest's ``pythonpath = ["tests"]``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Mapping

from integration.admin_http import admin_session
from kaito.sim.cluster import Cluster

__all__ = ["forms", "leaks", "log_texts", "object_texts", "pod_log_texts"]


def forms(secret: str) -> tuple[str, ...]:
    """The ways a value can appear: as itself, and base64-encoded (Secret ``data``, docker auth fields)."""
    return (secret, base64.b64encode(secret.encode()).decode())


def leaks(secrets: Iterable[str], texts: Mapping[str, str]) -> list[str]:
    """``"place: form"`` for each place whose text holds a form of a secret (empty: nothing leaked)."""
    found = []
    for secret in secrets:
        for form in forms(secret):
            found += [f"{place}: {form[:6]}..." for place, text in texts.items() if form in text]
    return found


def log_texts(records: Iterable[logging.LogRecord]) -> dict[str, str]:
    """Every log record's message, exception and stack text, by ``logger #n``."""
    texts = {}
    for n, record in enumerate(records):
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f"\n{record.exc_info[1]!r}"
        text += f"\n{record.exc_text or ''}\n{record.stack_info or ''}"
        texts[f"log {record.name} #{n}"] = text
    return texts


def object_texts(cluster: Cluster) -> dict[str, str]:
    """Every object in the cluster except Secrets (Events, status, annotations included), as JSON."""
    texts = {}
    for entry in cluster.store.snapshot()["objects"]:
        if (entry["group"], entry["plural"]) == ("", "secrets"):
            continue
        meta = entry["object"].get("metadata") or {}
        place = f"{entry['plural']} {meta.get('namespace', '')}/{meta.get('name', '')}"
        texts[place] = json.dumps(entry["object"])
    return texts


async def pod_log_texts(cluster: Cluster) -> dict[str, str]:
    """Every container's log of every pod, read as kubectl logs reads it (HTTP, as the admin)."""
    texts = {}
    async with admin_session(cluster) as http:
        for pod in cluster.store.list("v1", "Pod")[0]:
            meta, spec = pod["metadata"], pod.get("spec") or {}
            for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"
                async with http.get(path, params={"container": container["name"]}) as answer:
                    text = await answer.text()
                texts[f"pod log {meta['namespace']}/{meta['name']}/{container['name']}"] = text
    return texts
