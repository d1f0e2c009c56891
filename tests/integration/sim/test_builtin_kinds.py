"""The built-in kinds users put beside a Workspace, with the real `kubectl`: PVCs that bind through the
default StorageClass, PV, StorageClass, HPA v2, PDB, NetworkPolicy, Ingress and typed Secrets, with
`kubectl explain` reading the served OpenAPI schemas."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from integration.sim.test_kubectl import Kubectl
from kaito.sim.cluster import Cluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

BESIDE_A_WORKSPACE = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: azurefile-csi
  resources: {requests: {storage: 100Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: phi}
spec:
  scaleTargetRef: {apiVersion: kaito.sh/v1beta1, kind: InferenceSet, name: phi}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: phi}
spec:
  minAvailable: 1
  selector: {matchLabels: {apps: phi}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: phi}
spec:
  podSelector: {matchLabels: {apps: phi}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 5000, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: phi}
spec:
  rules:
  - host: phi.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: phi, port: {number: 80}}}
---
apiVersion: v1
kind: Secret
metadata: {name: registry}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths": {}}'
"""


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": True, "arm": False}


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path / "kubectl-cache")


async def _bound(kubectl: Kubectl, name: str) -> bool:
    out = await kubectl.run("get", "pvc", name, "-o", "jsonpath={.status.phase}")
    return out == "Bound"


async def _eventually(check: Any, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition still false"
        await asyncio.sleep(0.1)


async def test_kinds_beside_a_workspace_apply_and_claims_bind_to_a_local_directory(
    kubectl: Kubectl, cluster: Cluster
) -> None:
    out = await kubectl.run("apply", "-f", "-", stdin=BESIDE_A_WORKSPACE)
    for created in (
        "persistentvolumeclaim/data created",
        "horizontalpodautoscaler.autoscaling/phi created",
        "poddisruptionbudget.policy/phi created",
        "networkpolicy.networking.k8s.io/phi created",
        "ingress.networking.k8s.io/phi created",
        "secret/registry created",
    ):
        assert created in out, out
    await _eventually(lambda: _bound(kubectl, "data"))
    await _eventually(lambda: _bound(kubectl, "shared"))
    assert await kubectl.run("get", "pvc", "data", "-o", "jsonpath={.spec.storageClassName}") == "default"
    volume = await kubectl.run("get", "pvc", "shared", "-o", "jsonpath={.spec.volumeName}")
    path = await kubectl.run("get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}")
    assert cluster.workloads is not None
    assert path.startswith(f"{cluster.workloads.volume_dir}/pvc-"), (
        path
    )  # a directory pods of the claim share
    table = await kubectl.run("get", "pvc", "shared")
    assert "Bound" in table and "RWX" in table and "azurefile-csi" in table, table
    classes = await kubectl.run("get", "storageclass")
    assert "default (default)" in classes or "default" in classes.split(), classes

    await kubectl.run("delete", "pvc", "shared")

    async def volume_gone() -> bool:
        code, _, _ = await kubectl.result("get", "pv", volume)
        return code != 0

    await _eventually(volume_gone)


async def test_a_claim_of_a_missing_class_waits_and_says_which_classes_exist(kubectl: Kubectl) -> None:
    claim = BESIDE_A_WORKSPACE.split("---")[1].replace("azurefile-csi", "no-such-class")
    await kubectl.run("apply", "-f", "-", stdin=claim)

    async def said() -> bool:
        events = await kubectl.run("get", "events", "--field-selector", "involvedObject.name=shared")
        return "ProvisioningFailed" in events

    await _eventually(said)
    events = await kubectl.run("get", "events", "--field-selector", "involvedObject.name=shared")
    assert '"no-such-class" not found' in events and "azurefile-csi" in events, events
    assert await kubectl.run("get", "pvc", "shared", "-o", "jsonpath={.status.phase}") == "Pending"


@pytest.mark.parametrize(
    ("manifest", "said"),
    [
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\n"
            "stringData: {tls.crt: x}\n",
            "data[tls.key]: Required value",
        ),
        (
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\n"
            "spec: {accessModes: [ReadWriteOnce]}\n",
            "spec.resources[storage]: Required value",
        ),
        (
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
            "spec: {scaleTargetRef: {kind: InferenceSet, name: x}, maxReplicas: 0}\n",
            "spec.maxReplicas: Invalid value: 0",
        ),
    ],
)
async def test_invalid_built_ins_are_refused_naming_the_field(
    kubectl: Kubectl, manifest: str, said: str
) -> None:
    code, _, err = await kubectl.result("apply", "-f", "-", stdin=manifest)
    assert code != 0 and said in err, err


@pytest.mark.parametrize(
    ("field", "expect"),
    [
        ("pvc.spec", "storageClassName"),
        ("hpa.spec", "scaleTargetRef"),
        ("ingress.spec.rules", "host"),
        ("pdb.spec", "minAvailable"),
        ("networkpolicy.spec", "podSelector"),
        ("storageclass", "provisioner"),
        ("secret", "stringData"),
    ],
)
async def test_kubectl_explain_reads_the_built_in_schemas(kubectl: Kubectl, field: str, expect: str) -> None:
    out = await kubectl.run("explain", field)
    assert expect in out, out
