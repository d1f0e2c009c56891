"""The API server's pure parts: URL parsing, verbs, list pagination."""

from __future__ import annotations

import pytest

from kaito.sim.server.apiserver import (
    ResourcePath,
    decode_continue,
    encode_continue,
    paginate,
    parse_resource_path,
    request_verb,
)
from kaito.sim.server.errors import BadRequest


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1", ResourcePath("", "v1")),
        ("/api/v1/pods", ResourcePath("", "v1", None, "pods")),
        ("/api/v1/namespaces", ResourcePath("", "v1", None, "namespaces")),
        ("/api/v1/namespaces/default", ResourcePath("", "v1", None, "namespaces", "default")),
        (
            "/api/v1/namespaces/default/status",
            ResourcePath("", "v1", None, "namespaces", "default", "status"),
        ),
        (
            "/api/v1/namespaces/default/finalize",
            ResourcePath("", "v1", None, "namespaces", "default", "finalize"),
        ),
        ("/api/v1/namespaces/default/pods", ResourcePath("", "v1", "default", "pods")),
        ("/api/v1/namespaces/default/pods/web-0", ResourcePath("", "v1", "default", "pods", "web-0")),
        (
            "/api/v1/namespaces/default/pods/web-0/log",
            ResourcePath("", "v1", "default", "pods", "web-0", "log"),
        ),
        ("/api/v1/nodes/n1/status", ResourcePath("", "v1", None, "nodes", "n1", "status")),
        ("/apis/apps/v1", ResourcePath("apps", "v1")),
        ("/apis/apps/v1/deployments", ResourcePath("apps", "v1", None, "deployments")),
        (
            "/apis/kaito.sh/v1beta1/namespaces/ns/workspaces/w/status",
            ResourcePath("kaito.sh", "v1beta1", "ns", "workspaces", "w", "status"),
        ),
        ("/apis/apps", None),
        ("/healthz", None),
        ("/api/v1/namespaces/default/pods/web-0/log/extra", None),
    ],
)
def test_parse_resource_path(path: str, expected: ResourcePath | None) -> None:
    assert parse_resource_path(path) == expected


@pytest.mark.parametrize(
    ("method", "name", "watch", "verb"),
    [
        ("GET", "x", False, "get"),
        ("GET", None, False, "list"),
        ("GET", None, True, "watch"),
        ("POST", None, False, "create"),
        ("PUT", "x", False, "update"),
        ("PATCH", "x", False, "patch"),
        ("DELETE", "x", False, "delete"),
        ("DELETE", None, False, "deletecollection"),
    ],
)
def test_request_verb(method: str, name: str | None, watch: bool, verb: str) -> None:
    assert request_verb(method, ResourcePath("", "v1", "default", "pods", name), watch) == verb


def _objs(*keys: str) -> list[dict[str, object]]:
    out = []
    for key in keys:
        ns, name = key.split("/")
        out.append({"metadata": {"namespace": ns, "name": name}})
    return out


def test_pages_follow_key_order_and_keep_the_first_resource_version() -> None:
    items = _objs("b/x", "a/z", "a/y", "c/w")
    first = paginate(items, "10", limit=3, continue_token=None)
    assert [o["metadata"]["name"] for o in first.items] == ["y", "z", "x"]  # type: ignore[index]
    assert first.remaining == 1 and first.continue_token
    second = paginate(items + _objs("d/v"), "12", limit=3, continue_token=first.continue_token)
    assert [o["metadata"]["name"] for o in second.items] == ["w", "v"]  # type: ignore[index]
    assert second.resource_version == "10" and second.continue_token is None


def test_no_limit_means_one_page() -> None:
    page = paginate(_objs("a/a", "a/b"), "3", limit=0, continue_token=None)
    assert len(page.items) == 2 and page.continue_token is None and page.remaining is None


def test_continue_token_round_trips_and_foreign_tokens_are_refused() -> None:
    assert decode_continue(encode_continue("42", "ns/name")) == ("42", "ns/name")
    with pytest.raises(BadRequest, match='continue key is not valid: "bogus"'):
        decode_continue("bogus")
