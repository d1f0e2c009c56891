"""kaito.sim.server.authz: request attributes, RBAC rule matching, roles from the store, tokens, 403 text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.sim.server.authz import (
    ADMIN,
    ANONYMOUS,
    Authorization,
    PolicyRule,
    RequestAttributes,
    Unauthorized,
    forbidden,
    request_attributes,
    rule_allows,
    service_account_identity,
)
from kaito.sim.server.kubeconfig import TOKEN
from kaito.sim.server.store import Store

RBAC = "rbac.authorization.k8s.io/v1"
SA = service_account_identity("kaito-system", "kaito-controller")


def res(
    verb: str, group: str, resource: str, sub: str = "", ns: str = "default", name: str = ""
) -> RequestAttributes:
    return RequestAttributes(
        verb=verb, path="", api_group=group, resource=resource, subresource=sub, namespace=ns, name=name
    )


def url(verb: str, path: str) -> RequestAttributes:
    return RequestAttributes(verb=verb, path=path, resource_request=False)


def rule(**fields: Any) -> PolicyRule:
    return PolicyRule.from_dict(fields)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/default/pods", {}, res("list", "", "pods")),
        ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"}, res("watch", "", "pods")),
        ("GET", "/api/v1/pods", {}, res("list", "", "pods", ns="")),
        ("GET", "/api/v1/namespaces/default/pods/p", {}, res("get", "", "pods", name="p")),
        ("POST", "/api/v1/namespaces/default/pods", {}, res("create", "", "pods")),
        ("DELETE", "/api/v1/namespaces/default/pods", {}, res("deletecollection", "", "pods")),
        (
            "PATCH",
            "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/w/status",
            {},
            res("patch", "kaito.sh", "workspaces", "status", name="w"),
        ),
        (
            "PUT",
            "/apis/kaito.sh/v1beta1/machines/m",
            {},
            res("update", "kaito.sh", "machines", ns="", name="m"),
        ),
        # a Namespace is its own namespace, as kube's RequestInfo has it
        ("GET", "/api/v1/namespaces/team-a", {}, res("get", "", "namespaces", ns="team-a", name="team-a")),
        # a list or watch pinned to one name by fieldSelector carries that name, as in kube
        (
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"watch": "1", "fieldSelector": "metadata.name=kaito-operator"},
            res("watch", "coordination.k8s.io", "leases", name="kaito-operator"),
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods",
            {"fieldSelector": "status.phase=Running,metadata.name==p"},
            res("list", "", "pods", name="p"),
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods",
            {"fieldSelector": "metadata.name!=p"},
            res("list", "", "pods"),
        ),
        ("GET", "/apis", {}, url("get", "/apis")),
        ("GET", "/apis/apps/v1", {}, url("get", "/apis/apps/v1")),
        ("POST", "/version", {}, url("post", "/version")),
    ],
)
def test_request_attributes_follow_kube_request_info(
    method: str, path: str, query: dict[str, str], expected: RequestAttributes
) -> None:
    got = request_attributes(method, path, query)
    assert (got.verb, got.resource_request, got.api_group, got.resource, got.subresource) == (
        expected.verb,
        expected.resource_request,
        expected.api_group,
        expected.resource,
        expected.subresource,
    )
    assert (got.namespace, got.name) == (expected.namespace, expected.name)


ALL_WORKSPACES = rule(apiGroups=["kaito.sh"], resources=["workspaces"], verbs=["get", "list", "patch"])


@pytest.mark.parametrize(
    ("granted", "asked", "allowed"),
    [
        (ALL_WORKSPACES, res("get", "kaito.sh", "workspaces", name="w"), True),
        (ALL_WORKSPACES, res("list", "kaito.sh", "workspaces"), True),
        (ALL_WORKSPACES, res("delete", "kaito.sh", "workspaces", name="w"), False),  # verb
        (ALL_WORKSPACES, res("get", "other.io", "workspaces", name="w"), False),  # group
        (ALL_WORKSPACES, res("get", "kaito.sh", "machines", name="m"), False),  # resource
        # a subresource is its own resource: workspaces does not grant workspaces/status
        (ALL_WORKSPACES, res("patch", "kaito.sh", "workspaces", "status", name="w"), False),
        (
            rule(apiGroups=["kaito.sh"], resources=["workspaces/status"], verbs=["patch"]),
            res("patch", "kaito.sh", "workspaces", "status", name="w"),
            True,
        ),
        (
            rule(apiGroups=["kaito.sh"], resources=["workspaces/status"], verbs=["patch"]),
            res("patch", "kaito.sh", "workspaces", name="w"),
            False,
        ),
        (
            rule(apiGroups=["kaito.sh"], resources=["*/status"], verbs=["patch"]),
            res("patch", "kaito.sh", "machines", "status", name="m"),
            True,
        ),
        (
            rule(apiGroups=["kaito.sh"], resources=["*/status"], verbs=["patch"]),
            res("patch", "kaito.sh", "machines", name="m"),
            False,
        ),
        (
            rule(apiGroups=["*"], resources=["*"], verbs=["*"]),
            res("delete", "apps", "deployments", name="d"),
            True,
        ),
        (rule(apiGroups=["*"], resources=["*"], verbs=["*"]), url("get", "/healthz"), False),
        # resourceNames: only requests naming one of them
        (
            rule(
                apiGroups=["coordination.k8s.io"],
                resources=["leases"],
                resourceNames=["kaito-operator"],
                verbs=["get", "update", "create"],
            ),
            res("get", "coordination.k8s.io", "leases", name="kaito-operator"),
            True,
        ),
        (
            rule(
                apiGroups=["coordination.k8s.io"],
                resources=["leases"],
                resourceNames=["kaito-operator"],
                verbs=["get", "update", "create"],
            ),
            res("get", "coordination.k8s.io", "leases", name="other"),
            False,
        ),
        (
            rule(
                apiGroups=["coordination.k8s.io"],
                resources=["leases"],
                resourceNames=["kaito-operator"],
                verbs=["get", "update", "create"],
            ),
            res("create", "coordination.k8s.io", "leases"),
            False,
        ),
        # nonResourceURLs: exact, prefix*, and never for resource requests
        (rule(nonResourceURLs=["/metrics"], verbs=["get"]), url("get", "/metrics"), True),
        (rule(nonResourceURLs=["/metrics"], verbs=["get"]), url("get", "/metrics/x"), False),
        (rule(nonResourceURLs=["/apis/*"], verbs=["get"]), url("get", "/apis/apps/v1"), True),
        (rule(nonResourceURLs=["/apis/*"], verbs=["get"]), url("post", "/apis/apps/v1"), False),
        (rule(nonResourceURLs=["*"], verbs=["get"]), res("get", "", "pods", name="p"), False),
    ],
)
def test_rule_allows_matches_rbac(granted: PolicyRule, asked: RequestAttributes, allowed: bool) -> None:
    assert rule_allows(granted, asked) is allowed


@pytest.mark.parametrize(
    ("asked", "message", "details"),
    [
        (
            res("patch", "kaito.sh", "workspaces", "status", name="x"),
            'workspaces.kaito.sh "x" is forbidden: '
            'User "system:serviceaccount:kaito-system:kaito-controller" '
            'cannot patch resource "workspaces/status" in API group "kaito.sh" in the namespace "default"',
            {"kind": "workspaces", "name": "x", "group": "kaito.sh"},
        ),
        (
            res("list", "", "secrets", ns=""),
            'secrets is forbidden: User "system:serviceaccount:kaito-system:kaito-controller" '
            'cannot list resource "secrets" in API group "" at the cluster scope',
            {"kind": "secrets"},
        ),
        (
            url("get", "/logs"),
            'forbidden: User "system:serviceaccount:kaito-system:kaito-controller" cannot get path "/logs"',
            {},
        ),
    ],
)
def test_forbidden_reads_like_kube_apiserver(
    asked: RequestAttributes, message: str, details: dict[str, Any]
) -> None:
    status = forbidden(SA, asked).to_status()
    assert (status["code"], status["reason"], status["message"]) == (403, "Forbidden", message)
    assert status["details"] == details


def _store_with_rbac() -> Store:
    store = Store()
    for ns in ("kaito-system", "team-a", "team-b"):
        store.create("v1", "Namespace", {"metadata": {"name": ns}})
    store.create(
        "v1", "ServiceAccount", {"metadata": {"name": "kaito-controller", "namespace": "kaito-system"}}
    )
    store.create(
        RBAC,
        "ClusterRole",
        {
            "metadata": {"name": "read-nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
        },
    )
    store.create(
        RBAC,
        "ClusterRole",
        {
            "metadata": {"name": "edit-pods"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}],
        },
    )
    store.create(
        RBAC,
        "Role",
        {
            "metadata": {"name": "cm", "namespace": "team-a"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
    )
    subject = [{"kind": "ServiceAccount", "name": "kaito-controller", "namespace": "kaito-system"}]
    ref = {"apiGroup": "rbac.authorization.k8s.io"}
    store.create(
        RBAC,
        "ClusterRoleBinding",
        {
            "metadata": {"name": "nodes"},
            "subjects": subject,
            "roleRef": {**ref, "kind": "ClusterRole", "name": "read-nodes"},
        },
    )
    # a RoleBinding to a ClusterRole grants it in the binding's namespace only
    store.create(
        RBAC,
        "RoleBinding",
        {
            "metadata": {"name": "pods", "namespace": "team-a"},
            "subjects": subject,
            "roleRef": {**ref, "kind": "ClusterRole", "name": "edit-pods"},
        },
    )
    store.create(
        RBAC,
        "RoleBinding",
        {
            "metadata": {"name": "cm", "namespace": "team-a"},
            "subjects": subject,
            "roleRef": {**ref, "kind": "Role", "name": "cm"},
        },
    )
    # bound to a group the account is in, and to a role that does not exist (grants nothing)
    store.create(
        RBAC,
        "ClusterRoleBinding",
        {
            "metadata": {"name": "group"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}],
            "roleRef": {**ref, "kind": "ClusterRole", "name": "missing"},
        },
    )
    return store


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [
        (res("list", "", "nodes", ns=""), True),
        (res("get", "", "nodes", ns="", name="n"), False),
        (res("delete", "", "pods", ns="team-a", name="p"), True),
        (res("delete", "", "pods", ns="team-b", name="p"), False),
        (res("delete", "", "pods", ns="", name="p"), False),
        (res("get", "", "configmaps", ns="team-a", name="c"), True),
        (res("get", "", "configmaps", ns="team-b", name="c"), False),
        (url("get", "/apis"), True),  # bootstrap discovery for every authenticated user
        (url("get", "/metrics"), False),
    ],
)
def test_bindings_grant_rules_where_kube_would(asked: RequestAttributes, allowed: bool) -> None:
    assert Authorization(_store_with_rbac()).allows(SA, asked) is allowed


def test_a_changed_deleted_or_recreated_role_counts_from_the_next_request() -> None:
    store = _store_with_rbac()
    authz = Authorization(store)
    get_cm = res("get", "", "configmaps", ns="team-a", name="c")
    list_cm = res("list", "", "configmaps", ns="team-a")
    assert (authz.allows(SA, get_cm), authz.allows(SA, list_cm)) == (True, False)
    role = store.get(RBAC, "Role", "cm", "team-a")
    role["rules"] = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    store.update(RBAC, "Role", role)
    assert (authz.allows(SA, get_cm), authz.allows(SA, list_cm)) == (False, True)
    store.delete(RBAC, "Role", "cm", "team-a")
    assert (authz.allows(SA, get_cm), authz.allows(SA, list_cm)) == (False, False)
    store.create(
        RBAC,
        "Role",
        {
            "metadata": {"name": "cm", "namespace": "team-a"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
    )
    assert (authz.allows(SA, get_cm), authz.allows(SA, list_cm)) == (True, False)
    # a Role of the same name in another namespace is another role
    store.create(
        RBAC,
        "Role",
        {
            "metadata": {"name": "cm", "namespace": "team-b"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    binding = store.get(RBAC, "RoleBinding", "cm", "team-a")
    store.create(RBAC, "RoleBinding", {**binding, "metadata": {"name": "cm", "namespace": "team-b"}})
    list_b = res("list", "", "configmaps", ns="team-b")
    assert (authz.allows(SA, list_b), authz.allows(SA, list_cm), authz.allows(SA, get_cm)) == (
        True,
        False,
        True,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_tokens_authenticate_the_account_until_it_or_the_token_goes() -> None:
    store = _store_with_rbac()
    clock = FakeClock()
    authz = Authorization(store, clock=clock)
    forever = authz.mint("kaito-system", "kaito-controller")
    short = authz.mint("kaito-system", "kaito-controller", expiration_seconds=600)
    assert authz.authenticate(f"Bearer {forever}") == SA
    assert authz.authenticate(f"Bearer {short}") == SA
    clock.now += timedelta(seconds=600)
    with pytest.raises(Unauthorized):
        authz.authenticate(f"Bearer {short}")
    assert authz.authenticate(f"Bearer {forever}") == SA
    store.delete("v1", "ServiceAccount", "kaito-controller", "kaito-system")
    store.create(
        "v1", "ServiceAccount", {"metadata": {"name": "kaito-controller", "namespace": "kaito-system"}}
    )
    with pytest.raises(Unauthorized):  # a new account of the same name has a new uid
        authz.authenticate(f"Bearer {forever}")


def test_the_admin_token_is_a_superuser_and_differs_per_cluster() -> None:
    authz = Authorization(Store())
    assert authz.authenticate(f"Bearer {authz.admin_token}") == ADMIN
    authz.check("DELETE", "/api/v1/namespaces/default/secrets", {}, f"Bearer {authz.admin_token}")
    assert authz.denials == []
    assert Authorization(Store()).admin_token != authz.admin_token
    assert authz.admin_token not in repr(authz)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/healthz", True),
        ("GET", "/livez", True),
        ("GET", "/readyz", True),
        ("GET", "/version", True),
        ("GET", "/api", False),  # kube binds system:discovery to authenticated users only
        ("GET", "/apis/kaito.sh/v1beta1", False),
        ("GET", "/api/v1/namespaces/default/configmaps", False),
        ("POST", "/api/v1/namespaces/default/configmaps", False),
        ("POST", "/healthz", False),
        ("GET", "/metrics", False),
    ],
)
def test_anonymous_requests_reach_only_kubes_public_info_paths(method: str, path: str, allowed: bool) -> None:
    authz = Authorization(Store())
    assert authz.authenticate(None) == ANONYMOUS
    if allowed:
        authz.check(method, path, {}, None)
    else:
        with pytest.raises(Unauthorized) as caught:
            authz.check(method, path, {}, None)
        assert caught.value.to_status()["message"] == "Unauthorized"
    assert authz.denials == []


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", "Bearer kaito-admin.guessed"])
def test_the_insecure_placeholder_and_guessed_admin_tokens_are_unauthorized(header: str) -> None:
    with pytest.raises(Unauthorized):
        Authorization(Store()).check("GET", "/api/v1/namespaces", {}, header)


def test_without_rbac_every_authenticated_identity_is_allowed() -> None:
    authz = Authorization(_store_with_rbac(), rbac=False)
    token = authz.mint("kaito-system", "kaito-controller")
    authz.check("DELETE", "/api/v1/namespaces/default/secrets", {}, f"Bearer {token}")
    with pytest.raises(Unauthorized):
        authz.check("GET", "/api/v1/secrets", {}, None)


@pytest.mark.parametrize("header", ["Bearer nope", "Basic dXNlcjpwdw==", "Bearer "])
def test_unknown_credentials_are_unauthorized(header: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        Authorization(Store()).authenticate(header)
    assert caught.value.to_status()["code"] == 401


def test_minting_for_a_missing_account_is_not_found() -> None:
    with pytest.raises(Exception, match='serviceaccounts "ghost" not found'):
        Authorization(Store()).mint("default", "ghost")


def test_refusals_are_recorded() -> None:
    authz = Authorization(_store_with_rbac())
    token = authz.mint("kaito-system", "kaito-controller")
    with pytest.raises(Exception, match="cannot list resource"):
        authz.check("GET", "/api/v1/secrets", {}, f"Bearer {token}")
    assert [(d.identity.name, d.attributes.verb, d.attributes.resource) for d in authz.denials] == [
        (SA.name, "list", "secrets")
    ]
