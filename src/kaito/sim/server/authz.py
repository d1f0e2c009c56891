"""Bearer-token authentication and RBAC authorization for the embedded API server.

:class:`~kaito.sim.cluster.Cluster` installs :class:`Authorization` as an aiohttp middleware inside the
server's error handling (unless started with ``insecure=True``), so what it raises goes back as a
``metav1.Status``. Each request is first authenticated from its ``Authorization: Bearer`` header:

- the admin token (:attr:`Authorization.admin_token`, random per cluster, written only into the 0600 admin
  kubeconfig): the user ``kaito-admin`` in the group ``system:masters``, which no authorizer refuses;
- no header: ``system:anonymous``, allowed only ``GET`` of kube's public-info paths
  (:data:`PUBLIC_INFO_PATHS`: health and ``/version``, what kube's ``system:public-info-viewer`` grants
  ``system:unauthenticated``); any other request is answered 401 Unauthorized, as kube-apiserver does
  when its anonymous authenticator is limited to those paths (structured authentication's
  ``anonymous.conditions``);
- a token minted by :meth:`Authorization.mint` (``Cluster.service_account_token``): the ServiceAccount's
  identity ``system:serviceaccount:{ns}:{name}`` with the groups ``system:serviceaccounts``,
  ``system:serviceaccounts:{ns}`` and ``system:authenticated``. The token is bound to the ServiceAccount's uid
  and, when minted with an expiry, to a time read from the injectable clock: delete the ServiceAccount (or
  let the time pass) and the token stops working, as a projected token does;
- any other token, a malformed header, an expired token or one whose ServiceAccount is gone: 401
  Unauthorized, with kube's body (message ``Unauthorized``) and nothing about why.

Authentication comes with TLS (the cluster refuses one without the other): kubectl sends no bearer token to
a plain-http server (client-go drops it), and a token sent in clear text over loopback could be read.

With ``rbac=False`` every authenticated identity is allowed everything (kube's ``AlwaysAllow`` mode).
Otherwise an authenticated ServiceAccount is authorized as kube's RBAC authorizer does: the request's
attributes (:func:`request_attributes`, kube's ``RequestInfo``: verb, API group, resource, subresource,
namespace, name, or a non-resource path) must be allowed by one rule (:func:`rule_allows`) of a role bound to
the user — a ClusterRoleBinding's ClusterRole anywhere, or a RoleBinding's Role or ClusterRole in the
binding's own namespace. Bindings and roles are read from the store on every request, so ``kubectl apply`` of
RBAC takes effect at once. Kube's bootstrap ``system:discovery`` and ``system:public-info-viewer`` grants to
every authenticated user (discovery, ``/version``, ``/openapi``, health) are built in
(:data:`BOOTSTRAP_RULES`) rather than stored. A refusal is 403 Forbidden with kube-apiserver's own sentence
(:func:`forbidden`) and is also recorded in :attr:`Authorization.denials`, so a test can print every
permission an operator lacked.

Tokens are minted by :meth:`Authorization.mint` (``Cluster.service_account_token``), or over HTTP by the
TokenRequest API (:mod:`kaito.sim.server.tokenrequest`), which this middleware serves (after the same
authorization:
``create serviceaccounts/token``), so ``kubectl create token kaito-controller -n kaito-system`` works.

Not modelled: aggregated ClusterRoles (``aggregationRule``), RBAC's escalation checks on writes of roles and
bindings, impersonation, and users or groups other than ServiceAccounts (subjects of kind User and Group
still match by name, for the identities above).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kaito.sim.server.apiserver import parse_resource_path, request_verb
from kaito.sim.server.errors import ApiError, Forbidden, NotFound
from kaito.sim.server.kubeconfig import kubeconfig_dict
from kaito.sim.server.store import Store
from kaito.sim.server.tokenrequest import read_token_request, token_request_response

__all__ = [
    "ADMIN",
    "ANONYMOUS",
    "BOOTSTRAP_RULES",
    "PUBLIC_INFO_PATHS",
    "Authorization",
    "Denial",
    "Identity",
    "PolicyRule",
    "RequestAttributes",
    "ServiceAccountCredentials",
    "Unauthorized",
    "forbidden",
    "request_attributes",
    "rule_allows",
    "service_account_identity",
    "write_token_kubeconfig",
]

_RBAC = "rbac.authorization.k8s.io/v1"
_TOKEN_PREFIX = "kaito-sa."
_ADMIN_PREFIX = "kaito-admin."
_MASTERS = "system:masters"
_TRUE = frozenset({"true", "1", "True"})


class Unauthorized(ApiError):
    """401: the bearer token is not one this server issued (or it expired, or its ServiceAccount is gone)."""

    code = 401
    reason = "Unauthorized"


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------
# Pure parts: identities, request attributes, rules


@dataclass(frozen=True)
class Identity:
    """An authenticated user: its name and groups (kube's ``user.Info``)."""

    name: str
    groups: tuple[str, ...] = ()

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when this is a ServiceAccount's identity."""
        parts = self.name.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2], parts[3]
        return None


ADMIN = Identity("kaito-admin", (_MASTERS, "system:authenticated"))
"""Who the admin token proves: a member of ``system:masters`` (kube's superuser group)."""

ANONYMOUS = Identity("system:anonymous", ("system:unauthenticated",))
"""Who a request without credentials is (kube's anonymous authenticator)."""

# kube's system:public-info-viewer rule, the one grant kube's bootstrap policy gives system:unauthenticated
PUBLIC_INFO_PATHS: tuple[str, ...] = ("/healthz", "/livez", "/readyz", "/version", "/version/")


def service_account_identity(namespace: str, name: str) -> Identity:
    """The identity kube gives a ServiceAccount's token."""
    return Identity(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


@dataclass(frozen=True)
class RequestAttributes:
    """What is asked (kube's ``authorizer.Attributes``). Non-resource requests carry only verb and path."""

    verb: str
    path: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> RequestAttributes:
    """The attributes of an HTTP request, as kube's ``RequestInfoFactory`` derives them.

    A path under ``/api/v1`` or ``/apis/{group}/{version}`` naming a resource is a resource request with the
    RBAC verb of :func:`~kaito.sim.server.apiserver.request_verb`; anything else (discovery roots,
    ``/version``,
    ``/healthz``) is a non-resource request whose verb is the lower-cased HTTP method. A Namespace object is
    its own namespace, so a RoleBinding in ``team-a`` can grant ``get namespaces/team-a``.
    """
    target = parse_resource_path(path)
    if target is None or not target.plural:
        return RequestAttributes(verb=method.lower(), path=path, resource_request=False)
    watch = str(query.get("watch", "")) in _TRUE
    verb = request_verb(method, target, watch)
    namespace = target.namespace or ""
    if target.group == "" and target.plural == "namespaces" and target.name:
        namespace = target.name
    name = target.name or ""
    if verb in ("list", "watch") and not name:
        name = _name_from_field_selector(str(query.get("fieldSelector", "")))
    return RequestAttributes(
        verb=verb,
        path=path,
        api_group=target.group,
        api_version=target.version,
        resource=target.plural,
        subresource=target.subresource or "",
        namespace=namespace,
        name=name,
    )


def _name_from_field_selector(selector: str) -> str:
    """The name a list or watch is limited to by ``fieldSelector=metadata.name=X`` (kube's RequestInfo
    does the same, so a rule with resourceNames can allow watching one object)."""
    for term in selector.split(","):
        field, _, value = term.replace("==", "=").partition("=")
        if field.strip() == "metadata.name" and not field.endswith("!") and value.strip():
            return value.strip()
    return ""


@dataclass(frozen=True)
class PolicyRule:
    """One rule of a Role or ClusterRole (rbac/v1 ``PolicyRule``)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any]) -> PolicyRule:
        """A rule as written in a manifest (``apiGroups``, ``resources``, ``resourceNames``, ...)."""

        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(value) for value in rule.get(key) or ())

        return cls(
            verbs=strings("verbs"),
            api_groups=strings("apiGroups"),
            resources=strings("resources"),
            resource_names=strings("resourceNames"),
            non_resource_urls=strings("nonResourceURLs"),
        )


def _resource_matches(rule: PolicyRule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for granted in rule.resources:
        if granted in ("*", combined):
            return True
        if subresource and granted == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: PolicyRule, path: str) -> bool:
    for granted in rule.non_resource_urls:
        if granted == "*" or granted == path:
            return True
        if granted.endswith("*") and path.startswith(granted[:-1]):
            return True
    return False


def rule_allows(rule: PolicyRule, attrs: RequestAttributes) -> bool:
    """Whether ``rule`` allows the request: kube's ``RuleAllows`` (rbac/v1 helpers), case for case.

    A resource request needs the verb, the API group, the resource (``workspaces``; ``workspaces/status``
    or ``*/status`` for a subresource; ``*`` for all) and, when the rule lists resourceNames, the request's
    name among them (so a rule with names never allows list, watch or create). A non-resource request needs
    the verb and the path (exact, ``*``, or a prefix ending in ``*``).
    """
    if "*" not in rule.verbs and attrs.verb not in rule.verbs:
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    if "*" not in rule.api_groups and attrs.api_group not in rule.api_groups:
        return False
    if not _resource_matches(rule, attrs.resource, attrs.subresource):
        return False
    return not rule.resource_names or attrs.name in rule.resource_names


# kube's bootstrap policy: system:discovery and system:public-info-viewer, bound to system:authenticated
BOOTSTRAP_RULES: tuple[PolicyRule, ...] = (
    PolicyRule(
        verbs=("get",),
        non_resource_urls=(
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/openapi",
            "/openapi/*",
            "/version",
            "/version/",
            "/healthz",
            "/livez",
            "/readyz",
        ),
    ),
)


def forbidden(identity: Identity, attrs: RequestAttributes) -> Forbidden:
    """The 403 kube-apiserver answers (``responsewriters.forbiddenMessage`` inside ``NewForbidden``)."""
    who = f'User "{identity.name}" cannot {attrs.verb}'
    if not attrs.resource_request:
        return Forbidden(f'forbidden: {who} path "{attrs.path}"', details={})
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    why = f'{who} resource "{resource}" in API group "{attrs.api_group}" {where}'
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: dict[str, Any] = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.api_group:
        details["group"] = attrs.api_group
    return Forbidden(f"{subject} is forbidden: {why}", details=details)


def _subject_matches(subject: Mapping[str, Any], identity: Identity, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        account = identity.service_account
        namespace = subject.get("namespace") or binding_namespace
        return account is not None and account == (namespace, subject.get("name"))
    if kind == "User":
        return bool(subject.get("name") == identity.name)
    if kind == "Group":
        return subject.get("name") in identity.groups
    return False


def _bound(binding: Mapping[str, Any], identity: Identity) -> bool:
    namespace = (binding.get("metadata") or {}).get("namespace") or ""
    return any(_subject_matches(s, identity, namespace) for s in binding.get("subjects") or ())


# ------------------------------------------------------------------------------------------
# The stateful part: tokens and the store's roles


@dataclass(frozen=True)
class Denial:
    """A refused request: who asked what (kept in :attr:`Authorization.denials`)."""

    identity: Identity
    attributes: RequestAttributes


@dataclass(frozen=True)
class _Token:
    namespace: str
    name: str
    uid: str
    expires: datetime | None


@dataclass
class Authorization:
    """Token authentication and RBAC for one store (see the module docstring)."""

    store: Store
    clock: Callable[[], datetime] = _now
    rbac: bool = True
    admin_token: str = field(default_factory=lambda: _ADMIN_PREFIX + secrets.token_urlsafe(32), repr=False)
    denials: list[Denial] = field(default_factory=list)
    _tokens: dict[str, _Token] = field(default_factory=dict, repr=False)
    # (kind, namespace, name) of a role -> (its resourceVersion, its rules parsed): parsed once per version
    _parsed: dict[tuple[str, str, str], tuple[str, tuple[PolicyRule, ...]]] = field(
        default_factory=dict, repr=False
    )

    @property
    def tokens(self) -> int:
        """How many tokens were minted."""
        return len(self._tokens)

    def mint(self, namespace: str, name: str, *, expiration_seconds: int | None = None) -> str:
        """A bearer token for the ServiceAccount ``namespace/name``, which must exist (NotFound otherwise).

        The token is valid while that ServiceAccount (same uid) exists and, with ``expiration_seconds``,
        until that many seconds from now by :attr:`clock`.
        """
        account = self.store.get("v1", "ServiceAccount", name, namespace, copy=False)
        uid = str((account.get("metadata") or {}).get("uid", ""))
        expires = self.clock() + timedelta(seconds=expiration_seconds) if expiration_seconds else None
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._tokens[token] = _Token(namespace, name, uid, expires)
        return token

    def authenticate(self, authorization_header: str | None) -> Identity:
        """The identity a request's ``Authorization`` header proves (:data:`ANONYMOUS` without one)."""
        if not authorization_header:
            return ANONYMOUS
        scheme, _, token = authorization_header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Unauthorized")
        if secrets.compare_digest(token.encode(), self.admin_token.encode()):
            return ADMIN
        issued = self._tokens.get(token)
        if issued is None or (issued.expires is not None and self.clock() >= issued.expires):
            raise Unauthorized("Unauthorized")
        account = self.store.peek(("", "serviceaccounts"), issued.namespace, issued.name)
        if account is None or str((account.get("metadata") or {}).get("uid", "")) != issued.uid:
            raise Unauthorized("Unauthorized")
        return service_account_identity(issued.namespace, issued.name)

    def rules_for(self, identity: Identity, namespace: str) -> Iterator[PolicyRule]:
        """Every rule granted to ``identity`` for a request in ``namespace`` ("" for cluster scope)."""
        if "system:authenticated" in identity.groups:
            yield from BOOTSTRAP_RULES
        for binding in self.store.list(_RBAC, "ClusterRoleBinding", copy=False)[0]:
            if _bound(binding, identity):
                yield from self._role_rules(binding, "")
        if namespace:
            for binding in self.store.list(_RBAC, "RoleBinding", namespace, copy=False)[0]:
                if _bound(binding, identity):
                    yield from self._role_rules(binding, namespace)

    def _role_rules(self, binding: Mapping[str, Any], namespace: str) -> Iterable[PolicyRule]:
        ref = binding.get("roleRef") or {}
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        try:
            if kind == "ClusterRole":
                role = self.store.get(_RBAC, "ClusterRole", name, copy=False)
            elif kind == "Role" and namespace:
                role = self.store.get(_RBAC, "Role", name, namespace, copy=False)
            else:
                return ()
        except NotFound:  # a binding to a role not (yet) created grants nothing, as in kube
            return ()
        key = (str(kind), namespace if kind == "Role" else "", name)
        version = str((role.get("metadata") or {}).get("resourceVersion", ""))
        parsed = self._parsed.get(key)
        if parsed is None or parsed[0] != version or not version:
            parsed = (version, tuple(PolicyRule.from_dict(rule) for rule in role.get("rules") or ()))
            self._parsed[key] = parsed
        return parsed[1]

    def allows(self, identity: Identity, attrs: RequestAttributes) -> bool:
        """Whether some rule bound to ``identity`` allows the request."""
        return any(rule_allows(rule, attrs) for rule in self.rules_for(identity, attrs.namespace))

    def check(self, method: str, path: str, query: Mapping[str, str], header: str | None) -> None:
        """Authenticate and authorize one request; Unauthorized or Forbidden (recorded) when refused."""
        identity = self.authenticate(header)
        if identity is ANONYMOUS:
            if method not in ("GET", "HEAD") or path not in PUBLIC_INFO_PATHS:
                raise Unauthorized("Unauthorized")
            return
        if _MASTERS in identity.groups or not self.rbac:
            return
        attrs = request_attributes(method, path, query)
        if not self.allows(identity, attrs):
            self.denials.append(Denial(identity, attrs))
            raise forbidden(identity, attrs)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """The aiohttp middleware: check, then serve a TokenRequest or pass the request on."""
        self.check(request.method, request.path, request.query, request.headers.get("Authorization"))
        target = parse_resource_path(request.path)
        if (
            request.method == "POST"
            and target is not None
            and (target.group, target.plural, target.subresource) == ("", "serviceaccounts", "token")
            and target.namespace
            and target.name
        ):
            return await self._token_request(request, target.namespace, target.name)
        return await handler(request)

    async def _token_request(self, request: web.Request, namespace: str, name: str) -> web.Response:
        media = request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        spec = read_token_request(await request.read(), media, name)
        token = self.mint(namespace, name, expiration_seconds=spec.expiration_seconds)
        expires = self._tokens[token].expires or self.clock()
        body = token_request_response(namespace, name, spec, token, expires)
        return web.json_response(body, status=201)


@dataclass(frozen=True)
class ServiceAccountCredentials:
    """What a pod of the ServiceAccount would hold: its token, and a kubeconfig that sends it."""

    namespace: str
    name: str
    token: str
    kubeconfig: Path

    @property
    def username(self) -> str:
        return service_account_identity(self.namespace, self.name).name


def write_token_kubeconfig(
    path: Path, server: str, token: str, *, namespace: str, ca_pem: bytes | None = None
) -> Path:
    """A kubeconfig for ``server`` whose user sends ``token`` (mode 0600, parents created)."""
    config = kubeconfig_dict(server, ca_pem=ca_pem, namespace=namespace)
    for user in config["users"]:
        user["user"] = {"token": token}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(yaml.safe_dump(config, sort_keys=False))
    return path
