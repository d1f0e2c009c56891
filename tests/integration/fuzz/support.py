"""What the fuzz doors share: a tally of inputs tried, a blocking HTTP client, and the verdict on a response.

Hypothesis drives synchronous test functions, while kaito.sim runs on the test's event loop. Each door
therefore starts the cluster in its async test and hands the hypothesis run to a worker thread
(:func:`run_in_thread`); the worker speaks plain HTTP to the cluster with :class:`Door` (requests,
blocking) and reaches async helpers on the loop with :meth:`Door.on_loop`.

The verdict (:meth:`Door.check`) is the issue's rule: every input gets a 4xx whose message names what was
wrong, or is accepted (2xx); a 5xx is a server error, counted and failed on at once with the input shown.
The tally (:data:`FIGURES`) is printed at the end of the session by tests/fuzz/conftest.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from hypothesis import HealthCheck, settings

T = TypeVar("T")

__all__ = ["FIGURES", "Door", "Figures", "door_for", "fuzz_settings", "run_in_thread"]


@dataclass
class Figures:
    """Inputs tried, by door; 5xx answers; controller tasks that ended with an exception."""

    inputs: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        total = sum(self.inputs.values())
        out = [f"fuzz inputs tried: {total} in total"]
        out += [f"  {door}: {n}" for door, n in sorted(self.inputs.items())]
        out.append(f"server errors (5xx): {sum(self.server_errors.values())} {dict(self.server_errors)}")
        out.append(f"controller crashes: {sum(self.crashes.values())} {dict(self.crashes)}")
        out.append("answers: " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items())))
        return out


FIGURES = Figures()


def fuzz_settings(max_examples: int) -> settings:
    """A fixed, reproducible example budget (CI's time box): derandomized, no deadline, no database."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


async def run_in_thread(fn: Callable[[], T]) -> T:
    """Run a (hypothesis) function in a worker thread while the loop keeps serving the cluster."""
    return await asyncio.to_thread(fn)


class Door:
    """A blocking HTTP client for one door of the cluster, counting every input it sends."""

    def __init__(
        self,
        name: str,
        base_url: str,
        loop: asyncio.AbstractEventLoop,
        *,
        verify: Any = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.loop = loop
        self.base_url = base_url.rstrip("/")
        self.http = _Session(self.base_url)
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override the cluster's CA
        self.http.verify = verify
        self.http.headers.update(headers or {})

    def close(self) -> None:
        self.http.close()

    def on_loop(self, coro: Awaitable[T], timeout: float = 60.0) -> T:
        """Run a coroutine on the cluster's loop from the worker thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | None = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send one input and judge the answer (see :meth:`check`)."""
        FIGURES.inputs[self.name] += 1
        headers = {"Content-Type": content_type} if body is not None else {}
        content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        response = self.http.request(method, path, data=content, params=params, headers=headers, timeout=30)
        self.check(response, f"{method} {path} params={params} body={_short(content)}")
        return response

    def count(self, n: int = 1) -> None:
        """Count inputs given to the cluster some other way (an object edited through a helper)."""
        FIGURES.inputs[self.name] += n

    def check(self, response: requests.Response, what: str) -> None:
        """A 2xx, or a 4xx that is a kube Status naming what was wrong; never a 5xx."""
        code = response.status_code
        FIGURES.statuses[f"{code // 100}xx"] += 1
        if code == 504 and _too_large_resource_version(response):
            return  # kube's own answer to a resourceVersion from the future (after its wait), not a failure
        if code >= 500:
            FIGURES.server_errors[self.name] += 1
            raise AssertionError(f"{self.name}: {code} for {what}: {response.text[:2000]}")
        assert code not in (401, 403), f"{self.name}: {code} for {what}: refused before validation"
        if 400 <= code < 500:
            status = _json(response)
            message = status.get("message") if isinstance(status, dict) else None
            assert status.get("kind") == "Status" and isinstance(message, str) and message.strip(), (
                f"{self.name}: {code} without a Status message for {what}: {response.text[:500]}"
            )


class _Session(requests.Session):
    """A session whose request paths are relative to the cluster's URL."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().request(method, f"{self.base_url}{url!s}", *args, **kwargs)


def door_for(cluster: Any, name: str) -> Door:
    """A door to `cluster` as its admin (the admin kubeconfig's token, over its TLS when it has one)."""
    token = cluster.admin_token
    verify: Any = str(cluster.tls_bundle.ca_path) if getattr(cluster, "tls_bundle", None) else False
    return Door(
        name,
        cluster.url,
        asyncio.get_running_loop(),
        verify=verify,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )


def _too_large_resource_version(response: requests.Response) -> bool:
    causes = (_json(response).get("details") or {}).get("causes") or []
    return any(c.get("reason") == "ResourceVersionTooLarge" for c in causes if isinstance(c, dict))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _short(content: bytes | None, limit: int = 600) -> str:
    if content is None:
        return "-"
    text = content.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
