"""The embedded cluster's defaults hold requests to kube's rules: HTTPS only, 401 for a missing, wrong or
expired token (health and /version excepted), 403 with kube-apiserver's sentence for a ServiceAccount without
the right, the admin allowed; and a cluster started with insecure=True is the plain-HTTP opt-out."""

from __future__ import annotations

import datetime
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integration.admin_http import admin_session
from integration.foreground import assert_secured, foreground, kubeconfig_access, kubectl
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

SA = "system:serviceaccount:default:nobody"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
UNAUTHORIZED = (401, "Unauthorized")

# verb -> (method, path, query, body): each verb of kube's RBAC, on ConfigMaps in `default`
VERBS: dict[str, tuple[str, str, dict[str, str], dict[str, Any] | None]] = {
    "get": ("GET", f"{CONFIGMAPS}/c", {}, None),
    "list": ("GET", CONFIGMAPS, {}, None),
    "watch": ("GET", CONFIGMAPS, {"watch": "true", "timeoutSeconds": "1"}, None),
    "create": ("POST", CONFIGMAPS, {}, {"metadata": {"name": "new"}, "data": {"k": "v"}}),
    "update": ("PUT", f"{CONFIGMAPS}/c", {}, {"metadata": {"name": "c"}, "data": {"k": "updated"}}),
    "patch": ("PATCH", f"{CONFIGMAPS}/c", {}, {"data": {"k": "patched"}}),
    "delete": ("DELETE", f"{CONFIGMAPS}/c", {}, None),
}


def _forbidden(verb: str) -> tuple[int, str]:
    subject = 'configmaps "c"' if verb in ("get", "update", "patch", "delete") else "configmaps"
    return 403, (
        f'{subject} is forbidden: User "{SA}" cannot {verb} resource "configmaps" in API group "" '
        'in the namespace "default"'
    )


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


async def _ask(cluster: Cluster, headers: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Each verb's answer (status, Status message) for requests sent with `headers` (the CA trusted)."""
    answers = {}
    connector = aiohttp.TCPConnector(ssl=cluster.client_ssl_context())
    async with aiohttp.ClientSession(base_url=cluster.url, connector=connector, headers=headers) as http:
        for verb, (method, path, query, body) in VERBS.items():
            content = "application/merge-patch+json" if method == "PATCH" else "application/json"
            kwargs: dict[str, Any] = {"params": query, "headers": {"Content-Type": content}}
            if body is not None:
                kwargs["json"] = {"apiVersion": "v1", "kind": "ConfigMap", **body}
                if method == "PATCH":
                    kwargs["json"] = body
            async with http.request(method, path, **kwargs) as answer:
                status = answer.status
                message = (await answer.json()).get("message", "") if status >= 400 else ""
            answers[verb] = (status, message)
    return answers


async def _setup(cluster: Cluster) -> Callable[[int | None], str]:
    """ConfigMap default/c and a ServiceAccount default/nobody bound to nothing; a minter of its tokens."""
    async with admin_session(cluster) as admin:
        for path, body in (
            (CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            (
                "/api/v1/namespaces/default/serviceaccounts",
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}},
            ),
        ):
            async with admin.post(path, json=body) as answer:
                assert answer.status == 201, await answer.text()

    def mint(expiration_seconds: int | None) -> str:
        return cluster.service_account_token("default", "nobody", expiration_seconds=expiration_seconds).token

    return mint


async def _expired_token(cluster: Cluster) -> str:
    """A TokenRequest for default/nobody with expirationSeconds=600, then the cluster's clock 601 s on."""
    async with admin_session(cluster) as admin:
        path = "/api/v1/namespaces/default/serviceaccounts/nobody/token"
        async with admin.post(path, json={"spec": {"expirationSeconds": 600}}) as answer:
            assert answer.status == 201, await answer.text()
            token = str((await answer.json())["status"]["token"])
    assert cluster.authorization is not None
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=601)
    cluster.authorization.clock = lambda: later
    return token


@pytest.mark.parametrize("who", ["no credentials", "wrong token", "expired token", "account without rights"])
async def test_each_verb_is_refused_with_kubes_status(cluster: Cluster, who: str) -> None:
    mint = await _setup(cluster)
    if who == "no credentials":
        headers = {}
    elif who == "wrong token":
        headers = {"Authorization": "Bearer kaito-admin.not-this-clusters-token"}
    elif who == "expired token":
        headers = {"Authorization": f"Bearer {await _expired_token(cluster)}"}
    else:
        headers = {"Authorization": f"Bearer {mint(None)}"}
    expected = {verb: _forbidden(verb) if who == "account without rights" else UNAUTHORIZED for verb in VERBS}
    assert await _ask(cluster, headers) == expected
    assert cluster.store.get("v1", "ConfigMap", "c", "default").get("data") is None  # nothing changed


async def test_the_admin_is_allowed_every_verb(cluster: Cluster) -> None:
    await _setup(cluster)
    assert cluster.admin_token is not None
    answers = await _ask(cluster, {"Authorization": f"Bearer {cluster.admin_token}"})
    assert answers == {
        "get": (200, ""),
        "list": (200, ""),
        "watch": (200, ""),
        "create": (201, ""),
        "update": (200, ""),
        "patch": (200, ""),
        "delete": (200, ""),
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), ("/livez", 200), ("/readyz", 200), ("/version", 200), ("/api", 401), ("/apis", 401)],
)
async def test_anonymous_requests_reach_only_health_and_version(
    cluster: Cluster, path: str, status: int
) -> None:
    connector = aiohttp.TCPConnector(ssl=cluster.client_ssl_context())
    async with (
        aiohttp.ClientSession(base_url=cluster.url, connector=connector) as http,
        http.get(path) as answer,
    ):
        assert answer.status == status, await answer.text()


async def test_the_api_is_served_over_https_only(cluster: Cluster) -> None:
    assert cluster.url.startswith("https://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port is no API
            async with http.get(cluster.url.replace("https://", "http://") + "/version") as answer:
                assert answer.status >= 400
        with pytest.raises(aiohttp.ClientConnectorCertificateError):  # an untrusted CA is refused
            await http.get(f"{cluster.url}/version")


async def test_an_insecure_cluster_is_plain_http_open_to_anyone() -> None:
    async with Cluster(insecure=True, workloads=False, arm=False) as cluster:
        assert cluster.url.startswith("http://") and cluster.admin_token is None
        async with aiohttp.ClientSession(base_url=cluster.url) as http, http.get(CONFIGMAPS) as answer:
            assert answer.status == 200
        with pytest.raises(RuntimeError, match="insecure=True"):
            cluster.service_account_token("default", "default")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"insecure": True, "tls": True},
            "insecure=True serves plain HTTP without authentication, but tls=True",
        ),
        ({"insecure": True, "authorization": True}, "but authorization=True was also given"),
        ({"tls": False}, "tls=False would send the admin token in clear text"),
    ],
)
def test_contradictory_security_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cluster(**options)


async def test_kaito_sim_up_with_default_flags_is_https_with_authentication(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sim.kubeconfig"
    snapshot = tmp_path / "data" / "sim.json"
    args = ["sim", "up", "--no-workloads", f"--kubeconfig={kubeconfig}", f"--snapshot={snapshot}"]
    async with foreground(*args, ready="press Ctrl-C") as sim:
        said = await assert_secured(kubeconfig)
        if "skipped" not in said:
            code, output = await kubectl(kubeconfig, "create", "configmap", "kept", "--from-literal=a=b")
            assert code == 0, output
    printed = "".join(sim.output)
    assert "requests without a valid token get 401" in printed
    assert kubeconfig_access(kubeconfig).token not in printed  # the admin token is in the file only
    assert stat.S_IMODE(snapshot.parent.stat().st_mode) == 0o700  # the data directory it made
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600  # it holds every Secret
    if "skipped" in said:
        pytest.skip(said)
