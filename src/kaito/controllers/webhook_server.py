"""The operator's webhook server: `/validate-workspace` and `/convert` over TLS, with its own certificate.

A `WebhookServer` is a manager runnable every replica runs (no leader election: kube-apiserver may call any
replica behind the Service). On start, and then every `resync_s` seconds, it does what knative's
certificate reconciler does:

1. read the Secret `kaito-system/kaito-webhook-cert`; when it is missing, unreadable, expiring within
   `rotate_before` or not naming a host it must serve (`kaito.controllers.webhook_certs.rotation_due`),
   mint a new CA and serving certificate and write the Secret (create, or update guarded by its
   resourceVersion; a replica that loses the race re-reads the winner's);
2. patch the CA into the ValidatingWebhookConfiguration `validation.workspace.kaito.sh` (every webhook
   whose Service is ours) and into the Workspace CRD's `spec.conversion.webhook.clientConfig.caBundle`,
   with JSON patches guarded by a `test` of the entry's name or strategy. During a rotation the bundle holds
   the new CA and the one being replaced, so the API server trusts both while replicas switch over;
3. only then load the certificate into the TLS context (new connections use it; open ones finish on the
   old one). A missing configuration or CRD is skipped (a cluster without admission registered).

Handlers are thin: `kaito.controllers.webhook_review.review_workspace` decides admission (the shell lists
the Nodes it needs for bring-your-own checks) and `kaito.api.convert_workspace` converts. `/healthz`
answers once the certificate is served. `ready` is set when the first certificate is loaded and both
caBundles are patched, so `kaito up` and the tests apply Workspaces only once admission can succeed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import logging
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaito import ctrl
from kaito.api import (
    OPERATOR_NAMESPACE,
    WEBHOOK_CERT_SECRET,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_CONVERT_PATH,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_VALIDATE_PATH,
    WORKSPACE_CRD,
    ConversionError,
    convert_workspace,
)
from kaito.controllers.webhook_certs import (
    ServingCertificate,
    certificate_from_secret,
    mint_certificate,
    rotation_due,
    secret_data,
    service_hosts,
)
from kaito.controllers.webhook_review import review_workspace

if TYPE_CHECKING:  # aiohttp's server loads when the webhook server starts, not with kaito.controllers
    from aiohttp import web

__all__ = ["WebhookOptions", "WebhookServer", "conversion_response"]

_log = logging.getLogger(__name__)
_SECRET = ("v1", "Secret")
_VWC = ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
_CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
_NODE = ("v1", "Node")


@dataclass(frozen=True)
class WebhookOptions:
    """Where the webhook listens and which objects carry its certificate (see the module docstring)."""

    host: str = "0.0.0.0"
    port: int = 9443
    namespace: str = OPERATOR_NAMESPACE
    service: str = WEBHOOK_SERVICE_NAME
    secret: str = WEBHOOK_CERT_SECRET
    configuration: str = WEBHOOK_CONFIGURATION
    crd: str = WORKSPACE_CRD.name
    extra_hosts: tuple[str, ...] = ()
    valid_for: datetime.timedelta = datetime.timedelta(days=365)
    rotate_before: datetime.timedelta = datetime.timedelta(days=30)
    resync_s: float = 60.0

    @property
    def hosts(self) -> tuple[str, ...]:
        return (*service_hosts(self.service, self.namespace), *self.extra_hosts)


def conversion_response(review: Mapping[str, Any]) -> dict[str, Any]:
    """The ConversionReview (apiextensions.k8s.io/v1) answering `review`: every object, or the failure."""
    request = review.get("request")
    if not isinstance(request, Mapping):
        raise ValueError("request: a ConversionReview needs a request object; got none")
    uid = str(request.get("uid") or "")
    desired = str(request.get("desiredAPIVersion") or "")
    response: dict[str, Any] = {"uid": uid}
    try:
        response["convertedObjects"] = [convert_workspace(o, desired) for o in request.get("objects") or []]
        response["result"] = {"status": "Success"}
    except ConversionError as error:
        response["convertedObjects"] = []
        response["result"] = {"status": "Failure", "message": str(error)}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response}


@dataclass
class WebhookServer:
    """The webhook runnable (module docstring); `port` is the bound port once `ready` is set."""

    client: ctrl.Client
    options: WebhookOptions = field(default_factory=WebhookOptions)
    clock: ctrl.Clock = field(default_factory=ctrl.SystemClock)
    need_leader_election: bool = False

    def __post_init__(self) -> None:
        self.ready = asyncio.Event()
        self.port = 0
        self.certificate: ServingCertificate | None = None
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._dir = Path(tempfile.mkdtemp(prefix="kaito-webhook-"))

    # -- certificate --

    async def ensure_certificate(self) -> ServingCertificate:
        """The Secret's certificate, minted or rotated first when due (not loaded yet: see `run`)."""
        opts = self.options
        for _ in range(5):
            try:
                secret = await self.client.get(_SECRET, opts.secret, opts.namespace)
            except ctrl.NotFound:
                secret = None
            stored = certificate_from_secret((secret or {}).get("data"))
            why = rotation_due(stored, self.clock.now(), opts.hosts, opts.rotate_before)
            if why is None and stored is not None:
                return stored
            fresh = mint_certificate(
                opts.service,
                opts.namespace,
                self.clock.now(),
                valid_for=opts.valid_for,
                extra_hosts=opts.extra_hosts,
            )
            _log.info(
                "writing a new webhook certificate to Secret %s/%s: %s", opts.namespace, opts.secret, why
            )
            try:
                if secret is None:
                    await self.client.create(
                        {
                            "apiVersion": "v1",
                            "kind": "Secret",
                            "metadata": {"name": opts.secret, "namespace": opts.namespace},
                            "type": "Opaque",
                            "data": secret_data(fresh),
                        }
                    )
                else:
                    await self.client.update(dict(secret, data=secret_data(fresh)))
            except (ctrl.AlreadyExists, ctrl.Conflict):
                continue  # another replica wrote it first: use theirs
            return fresh
        raise RuntimeError(
            f"Secret {opts.namespace}/{opts.secret} kept changing while the webhook certificate was written"
        )

    def _load(self, cert: ServingCertificate) -> None:
        if cert == self.certificate:
            return
        cert_path, key_path = self._dir / "tls.crt", self._dir / "tls.key"
        cert_path.write_bytes(cert.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(cert.key_pem)
        self._ssl.load_cert_chain(cert_path, key_path)
        self.certificate = cert

    async def patch_ca_bundles(
        self, cert: ServingCertificate, previous: ServingCertificate | None = None
    ) -> None:
        """Put the CA (and `previous`'s, while rotating) into our webhooks of the
        ValidatingWebhookConfiguration and the CRD's conversion."""
        pem = cert.ca_pem
        if previous is not None and previous.ca_pem != cert.ca_pem:
            pem += previous.ca_pem
        bundle = base64.b64encode(pem).decode()
        opts = self.options
        try:
            vwc = await self.client.get(_VWC, opts.configuration)
        except ctrl.NotFound:  # not registered (a cluster without admission): nothing to patch
            vwc = {}
        ops: list[dict[str, Any]] = []
        for index, hook in enumerate(vwc.get("webhooks") or []):
            config = hook.get("clientConfig") or {}
            if (config.get("service") or {}).get("name") != opts.service or config.get("caBundle") == bundle:
                continue
            ops.append({"op": "test", "path": f"/webhooks/{index}/name", "value": hook.get("name")})
            ops.append({"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle})
        if ops:
            await self.client.patch(_VWC, opts.configuration, ops, patch_type=ctrl.PatchType.JSON)
        try:
            crd = await self.client.get(_CRD, opts.crd)
        except ctrl.NotFound:
            return
        webhook = ((crd.get("spec") or {}).get("conversion") or {}).get("webhook")
        if webhook is not None and (webhook.get("clientConfig") or {}).get("caBundle") != bundle:
            await self.client.patch(
                _CRD,
                opts.crd,
                [
                    {"op": "test", "path": "/spec/conversion/strategy", "value": "Webhook"},
                    {"op": "add", "path": "/spec/conversion/webhook/clientConfig/caBundle", "value": bundle},
                ],
                patch_type=ctrl.PatchType.JSON,
            )

    # -- handlers --

    async def _validate(self, request: web.Request) -> web.Response:
        from aiohttp import web

        review = await request.json()
        nodes: list[Mapping[str, Any]] = []
        obj = (review.get("request") or {}).get("object") or {}
        if review.get("request", {}).get("operation") == "CREATE" and not (obj.get("resource") or {}).get(
            "instanceType"
        ):
            nodes = list((await self.client.list(_NODE)).items)
        try:
            return web.json_response(review_workspace(review, nodes))
        except ValueError as error:
            return web.json_response({"message": str(error)}, status=400)

    async def _convert(self, request: web.Request) -> web.Response:
        from aiohttp import web

        try:
            return web.json_response(conversion_response(await request.json()))
        except ValueError as error:
            return web.json_response({"message": str(error)}, status=400)

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.Response(text="ok" if self.certificate is not None else "no certificate yet")

    # -- runnable --

    async def run(self, stop: asyncio.Event) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_post(WEBHOOK_VALIDATE_PATH, self._validate)
        app.router.add_post(WEBHOOK_CONVERT_PATH, self._convert)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            while not stop.is_set():
                try:
                    cert = await self.ensure_certificate()
                    await self.patch_ca_bundles(cert, self.certificate)
                    self._load(cert)
                    if not self.port:
                        site = web.TCPSite(
                            runner, self.options.host, self.options.port, ssl_context=self._ssl
                        )
                        await site.start()
                        self.port = int(runner.addresses[0][1])
                    self.ready.set()
                except ctrl.ApiError as error:
                    _log.warning("webhook certificate not reconciled yet: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.options.resync_s)
        finally:
            await runner.cleanup()
            with contextlib.suppress(OSError):
                for path in self._dir.iterdir():
                    path.unlink()
                self._dir.rmdir()
