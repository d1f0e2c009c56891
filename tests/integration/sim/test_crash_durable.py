"""Random-kill crash test of the durable cluster: every acknowledged write survives SIGKILL, nothing is torn.

Each round starts the sim (``python -m kaito.sim --data-dir D``, forked from a server that already imported
it, so a round costs a fork and not an interpreter start) on the same directory, checks what the previous
round left, then lets four writers create, patch and delete ConfigMaps over HTTP - each writer owning its
keys, so every key has at most one write in flight - and SIGKILLs the sim after a random number of
acknowledged writes, while the other writers' requests are anywhere between sent and answered.

The check after each restart, per key: the object is at its last acknowledged state or, when a write of it
was in flight at the kill, at that write's state - never anything else (a torn or lost write), and the
list's resourceVersion is not below any acknowledged one. ``KAITO_CRASH_ROUNDS`` (default 100) and
``KAITO_CRASH_SEED`` set the rounds and the random seed (printed, so a failure can be replayed).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import yaml

from integration.admin_http import kubeconfig_session
from kaito.sim.__main__ import main as sim_main

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
WRITERS, KEYS_PER_WRITER = 4, 3
MERGE = {"Content-Type": "application/merge-patch+json"}
Absent = None  # the state of a key with no object


@dataclass
class Ledger:
    """What the writers were told: the acknowledged state of each key and the write in flight, if any."""

    acked: dict[str, str | None] = field(default_factory=dict)
    in_flight: dict[str, str | None] = field(default_factory=dict)
    max_rv: int = 0
    acks: int = 0
    counter: int = 0
    kill_at: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)


async def _url_of(kubeconfig: Path, process: multiprocessing.process.BaseProcess) -> str:
    deadline = time.monotonic() + 60
    while True:
        assert process.is_alive(), f"the sim exited with {process.exitcode}"
        assert time.monotonic() < deadline, "the sim did not write its kubeconfig within 60 s"
        try:
            text = await asyncio.to_thread(kubeconfig.read_text)
            server = yaml.safe_load(text)["clusters"][0]["cluster"]["server"]
            return str(server)
        except (OSError, TypeError, KeyError, IndexError, yaml.YAMLError):
            await asyncio.sleep(0.02)


async def _writer(
    http: aiohttp.ClientSession, url: str, keys: list[str], ledger: Ledger, rng: random.Random
) -> None:
    """Write to ``keys`` until a request fails (the sim is gone); record each write before and after."""
    while True:
        key = rng.choice(keys)
        current = ledger.acked.get(key)
        ledger.counter += 1
        value = str(ledger.counter)
        body: dict[str, object] | None = None
        headers: dict[str, str] | None = None
        if current is Absent:
            method, target, expected = "POST", CONFIGMAPS, value
            body = {"metadata": {"name": key}, "data": {"v": value}}
        elif rng.random() < 0.7:
            method, target, expected = "PATCH", f"{CONFIGMAPS}/{key}", value
            body, headers = {"data": {"v": value}}, MERGE
        else:
            method, target, expected = "DELETE", f"{CONFIGMAPS}/{key}", Absent
        ledger.in_flight[key] = expected
        try:
            async with http.request(method, url + target, json=body, headers=headers) as response:
                answer = await response.json()
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return  # killed while this write was in flight: it may or may not have happened
        assert response.status in (200, 201), answer  # each key has one writer: no conflict is possible
        del ledger.in_flight[key]
        ledger.acked[key] = expected
        written_rv = (answer.get("metadata") or {}).get("resourceVersion")  # a DELETE may answer a Status
        ledger.max_rv = max(ledger.max_rv, int(written_rv or 0))
        ledger.acks += 1
        if ledger.acks >= ledger.kill_at:
            ledger.reached.set()


async def _check(http: aiohttp.ClientSession, url: str, ledger: Ledger, round_: int) -> None:
    async with http.get(url + CONFIGMAPS) as response:
        listed = await response.json()
    found: dict[str, str | None] = {
        o["metadata"]["name"]: (o.get("data") or {}).get("v") for o in listed["items"]
    }
    for item in listed["items"]:
        assert set(item.get("data") or {}) == {"v"}, f"round {round_}: a torn object {item}"
    for key in {*ledger.acked, *found}:
        allowed = {ledger.acked.get(key)}
        if key in ledger.in_flight:
            allowed.add(ledger.in_flight[key])
        assert found.get(key) in allowed, (
            f"round {round_}: {key} is {found.get(key)!r}; acknowledged {ledger.acked.get(key)!r}, "
            f"in flight {ledger.in_flight.get(key, '(none)')!r}"
        )
        ledger.acked[key] = found.get(key)  # the in-flight write is settled one way or the other
    ledger.in_flight.clear()
    assert int(listed["metadata"]["resourceVersion"]) >= ledger.max_rv, f"round {round_}: RV went back"


async def test_every_acknowledged_write_survives_random_sigkills(tmp_path: Path) -> None:
    rounds = int(os.environ.get("KAITO_CRASH_ROUNDS", "100"))
    seed = int(os.environ.get("KAITO_CRASH_SEED", str(random.randrange(2**32))))
    print(f"crash test: {rounds} rounds, KAITO_CRASH_SEED={seed}")
    rng = random.Random(seed)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kaito.sim.__main__"])
    data_dir, kubeconfig = tmp_path / "data", tmp_path / "kubeconfig"
    keys = [[f"w{w}-k{k}" for k in range(KEYS_PER_WRITER)] for w in range(WRITERS)]
    ledger = Ledger()
    timeout = aiohttp.ClientTimeout(total=30)
    for round_ in range(rounds + 1):
        kubeconfig.unlink(missing_ok=True)
        argv = ["--no-workloads", "--no-arm", f"--data-dir={data_dir}", f"--kubeconfig={kubeconfig}"]
        process = context.Process(target=sim_main, args=(argv,), daemon=True)
        process.start()
        try:
            url = await _url_of(kubeconfig, process)
            async with kubeconfig_session(kubeconfig, timeout=timeout) as http:
                await _check(http, url, ledger, round_)
                if round_ == rounds:
                    break
                ledger.kill_at, ledger.reached = ledger.acks + rng.randint(1, 40), asyncio.Event()
                writers = [
                    asyncio.create_task(_writer(http, url, mine, ledger, random.Random(rng.random())))
                    for mine in keys
                ]
                reached = asyncio.create_task(ledger.reached.wait())
                await asyncio.wait({reached, *writers}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
                reached.cancel()
                for writer in writers:  # a writer that ended before the kill failed: say why
                    if writer.done():
                        writer.result()
                        raise AssertionError(f"round {round_}: a writer stopped before the kill")
                assert ledger.reached.is_set(), f"round {round_}: the writers stalled"
                process.kill()  # SIGKILL, wherever the other writers' requests are
                await asyncio.gather(*writers)
        finally:
            if process.is_alive():
                process.kill()
            process.join(30)
        assert process.exitcode == -9, process.exitcode
