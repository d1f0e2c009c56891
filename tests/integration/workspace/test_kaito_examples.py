"""KAITO v0.12's own examples (tests/data/kaito-v0.12-examples, recorded unchanged) applied with
`kubectl apply -f` to the embedded cluster with the operator running.

Every Workspace, InferenceSet and MultiRoleInference ends one of three ways, and the test checks which,
file by file (`NOT_READY`); none may be left in progress, unexplained:

- Ready: the Workspace's WorkspaceSucceeded is True / the InferenceSet's ReplicasReady / the
  MultiRoleInference's RolesReady;
- refused: `kubectl apply` fails and its message names the field (or kind) that is wrong, for the
  placeholders a user must fill (`<your-vm-sku>`, `ACR_REPO_HERE`);
- waiting: applied, but the object's own condition says in a sentence what is missing and names the
  field (the BYO nodes that do not exist; the model-access Secret whose placeholder token kubectl
  refused, which a MultiRoleInference reports from its role's Workspaces).

Files without a namespace are applied to one cluster, each in its own namespace; files that name a
namespace (and reuse names such as `phi-4-mini`) get a cluster each. The counts are printed at the end.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito import ctrl
from kaito.controllers.inferenceset import INFERENCESET
from kaito.controllers.multirole import MULTIROLEINFERENCE
from kaito.controllers.workspace import WORKSPACE

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,  # about 6 minutes on 2 cores: `make slow` (and CI) runs it, `make test` does not
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "kaito-v0.12-examples"
FILES = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.yaml"))
_KINDS = ("Workspace", "InferenceSet", "MultiRoleInference")


def _documents(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / path).read_text()) if d]


def _namespaced(path: str) -> bool:
    return any((d.get("metadata") or {}).get("namespace") for d in _documents(path))


SHARED = [f for f in FILES if not _namespaced(f)]
OWN_CLUSTER = [f for f in FILES if _namespaced(f)]


@dataclass
class Outcome:
    file: str
    kind: str
    name: str
    result: str  # Ready, refused, waiting
    reason: str


async def _kubectl(kubeconfig: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(kubeconfig), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    return process.returncode or 0, (out + err).decode()


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return {}


async def _state(user: ctrl.Client, kind: str, name: str, namespace: str) -> tuple[str, str]:
    """(Ready | waiting | progressing, the sentence that says why) of one applied object, from its own
    status: a Workspace's conditions, an InferenceSet's `ReplicasReady`, a MultiRoleInference's
    `RolesReady` (which carry the words of the Workspaces below them)."""
    if kind == "Workspace":
        workspace = await user.get(WORKSPACE, name, namespace)
        if _condition(workspace, "WorkspaceSucceeded").get("status") == "True":
            return "Ready", ""
        for type_ in ("ResourceReady", "InferenceReady", "JobStarted", "WorkspaceSucceeded"):
            condition = _condition(workspace, type_)
            if condition.get("status") == "False" and condition.get("message"):
                return "waiting", str(condition["message"])
        return "progressing", ""
    gvk, type_, on_its_way = (
        (MULTIROLEINFERENCE, "RolesReady", "RolesNotReady")
        if kind == "MultiRoleInference"
        else (INFERENCESET, "ReplicasReady", "ReplicasNotReady")
    )
    condition = _condition(await user.get(gvk, name, namespace), type_)
    if condition.get("status") == "True":
        return "Ready", ""
    if condition.get("status") == "False" and condition.get("reason") not in (None, on_its_way):
        return "waiting", f"{condition['reason']}: {condition.get('message', '')}"
    return "progressing", ""


async def _apply_and_settle(
    operator: Any, kubeconfig: Path, files: list[str], within: float
) -> list[Outcome]:
    user: ctrl.Client = operator.user
    outcomes: list[Outcome] = []
    pending: list[tuple[str, str, str, str]] = []  # file, kind, name, namespace
    for index, path in enumerate(files):
        namespace = None
        if not _namespaced(path):
            namespace = f"example-{index}"
            await user.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        args = ["apply", "-f", str(EXAMPLES / path)] + (["-n", namespace] if namespace else [])
        code, output = await _kubectl(kubeconfig, *args)
        for doc in _documents(path):
            if doc.get("kind") not in _KINDS:
                continue
            name = doc["metadata"]["name"]
            applied = f"{doc['kind'].lower()}.kaito.sh/{name}" in output
            if code != 0 and not applied:
                error = next(
                    (line for line in output.splitlines() if name in line or "error" in line.lower()), output
                )
                outcomes.append(Outcome(path, doc["kind"], name, "refused", error.strip()))
            else:
                pending.append(
                    (path, doc["kind"], name, namespace or doc["metadata"].get("namespace", "default"))
                )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    states: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    while True:
        for key in pending:
            states[key] = await _state(user, key[1], key[2], key[3])
        if all(_settled(key[0], state) for key, (state, _) in states.items()) or loop.time() > deadline:
            break
        await asyncio.sleep(0.25)
    for key, (state, why) in states.items():
        outcomes.append(Outcome(key[0], key[1], key[2], state, why))
    # the owners first, or they recreate their Workspaces; then wait for the garbage collector
    for _path, kind, name, namespace in pending:
        if kind in ("InferenceSet", "MultiRoleInference"):
            await user.delete(INFERENCESET if kind == "InferenceSet" else MULTIROLEINFERENCE, name, namespace)

    async def owned_gone() -> bool:
        workspaces = (await user.list(WORKSPACE)).items
        if any(w["metadata"].get("ownerReferences") for w in workspaces):
            return False
        names = {w["metadata"]["name"] for w in workspaces}
        return all(
            m["metadata"]["labels"].get("kaito.sh/workspace") in names for m in await operator.machines()
        )

    await operator.eventually(owned_gone, within=60.0)
    # the fixture's leak check deletes the default namespace's Workspaces; the examples' own go here
    namespaces = {key[3] for key in pending} - {"default"}
    for namespace in namespaces:
        for workspace in (await user.list(WORKSPACE, namespace)).items:
            await user.delete(WORKSPACE, workspace["metadata"]["name"], namespace)

    async def machines_gone() -> bool:
        left = [m["metadata"]["labels"].get("kaito.sh/workspacenamespace") for m in await operator.machines()]
        return not any(ns in namespaces for ns in left)

    await operator.eventually(machines_gone, within=120.0)
    return outcomes


# Examples that cannot become Ready here, how each ends (refused by `kubectl apply`, or applied and waiting),
# and the reason a user must act on. Every other Workspace, InferenceSet and MultiRoleInference must be Ready.
NOT_READY: dict[str, tuple[str, str]] = {
    **{
        f: ("refused", "placeholder instanceType <your-vm-sku>")
        for f in FILES
        if f.startswith("inference/arc-examples/")
    },
    "inference/arc-examples/kaito_workspace_phi_3_with_adapters.yaml": (
        "refused",
        "placeholder adapter image",
    ),
    "inference/kaito_workspace_phi_3_with_adapters.yaml": (
        "refused",
        "placeholder adapter image ACR_REPO_HERE",
    ),
    "fine-tuning/kaito_workspace_tuning_phi_3.yaml": ("refused", "placeholder output image ACR_REPO_HERE"),
    "fine-tuning/kaito_workspace_tuning_falcon_7b_mental.yaml": ("refused", "placeholder output image"),
    "fine-tuning/kaito_workspace_tuning_falcon_7b_oai.yaml": ("refused", "placeholder output image"),
    "inference/kaito_workspace_accelerator.yaml": ("waiting", "BYO nodes that do not exist"),
    "inference/kaito_inferenceset_mig_mixed_strategy.yaml": ("waiting", "BYO MIG nodes that do not exist"),
    "inference/kaito_inferenceset_mig_single_strategy.yaml": ("waiting", "BYO MIG nodes that do not exist"),
    # its hf-token Secret holds a placeholder that is not base64, so kubectl's apply of the Secret fails; the
    # MultiRoleInference is applied and says, on its own RolesReady, that the roles wait for that Secret
    "inference/kaito_multiroleinference_deepseek-v3.yaml": ("waiting", "model-access Secret refused"),
}
_NAMES_A_FIELD = re.compile(r"\b(resource|inference|tuning|spec|data)[.\[]|\bnode")


def _settled(path: str, state: str) -> bool:
    """Whether an object is where it ends: Ready, or waiting when the table says it waits (for ever)."""
    return state == "Ready" or (state == "waiting" and NOT_READY.get(path, ("", ""))[0] == "waiting")


def _check(outcomes: list[Outcome]) -> None:
    """Each object ends as the table says; none is left progressing (unexplained)."""
    for outcome in outcomes:
        if outcome.file in NOT_READY:
            assert outcome.result == NOT_READY[outcome.file][0], outcome
            assert _NAMES_A_FIELD.search(outcome.reason), f"no field or node named: {outcome}"
        else:
            assert outcome.result == "Ready", outcome


def _report(outcomes: list[Outcome]) -> str:
    counts = Counter(o.result for o in outcomes)
    lines = [f"{o.result:9} {o.kind:13} {o.file}: {o.name} {o.reason}" for o in outcomes]
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    return "\n".join([*lines, f"{len(outcomes)} objects: {summary}"])


@pytest.mark.timeout(600)  # 43 files, 47 objects, ~30 Ready Workspaces and their teardown on one cluster
async def test_kaito_v0_12_examples_without_a_namespace(operator: Any, kubeconfig: Path) -> None:
    outcomes = await _apply_and_settle(operator, kubeconfig, SHARED, within=90.0)
    print(_report(outcomes))
    _check(outcomes)


@pytest.mark.parametrize("path", OWN_CLUSTER)
async def test_kaito_v0_12_examples_that_name_a_namespace(operator: Any, kubeconfig: Path, path: str) -> None:
    outcomes = await _apply_and_settle(operator, kubeconfig, [path], within=60.0)
    print(_report(outcomes))
    _check(outcomes)
