"""Persistent volumes: the sim's StorageClasses, and claims bound to local directories a pod can mount.

At start the simulator makes AKS's StorageClasses if they are missing (``default``, marked as the default
class, ``managed-csi``, ``managed-csi-premium``, ``azurefile-csi``, ``azurefile-csi-premium``), each with
the provisioner AKS uses. Every class is provisioned here the same way, as the local-path provisioner
does: a claim of a known class gets a PersistentVolume ``pvc-<claim uid>`` whose ``hostPath`` is a fresh
directory under the simulator's volume directory, and both are Bound. A claim without ``storageClassName``
gets the default class (kube's retroactive default StorageClass assignment); a claim naming a class that
does not exist stays Pending with a ``ProvisioningFailed`` event naming the class and the classes there are.
Deleting a claim deletes its volume (reclaim policy Delete); the directory is left for inspection.

The process runtime mounts a pod's ``persistentVolumeClaim`` volume at that directory
(:mod:`kaito.sim.workloads.processes`), so what one pod writes, the next reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from kaito.sim.server.errors import AlreadyExists, NotFound
from kaito.sim.server.store import Store
from kaito.sim.workloads.workload_controller import ControllerContext, WorkloadController

__all__ = ["DEFAULT_CLASS_ANNOTATION", "STORAGE_CLASSES", "VolumeBinder", "ensure_storage_classes"]

DEFAULT_CLASS_ANNOTATION: Final = "storageclass.kubernetes.io/is-default-class"
STORAGE_CLASSES: Final[dict[str, str]] = {
    "default": "disk.csi.azure.com",
    "managed-csi": "disk.csi.azure.com",
    "managed-csi-premium": "disk.csi.azure.com",
    "azurefile-csi": "file.csi.azure.com",
    "azurefile-csi-premium": "file.csi.azure.com",
}


_COMPONENT: Final = "persistentvolume-controller"


def ensure_storage_classes(store: Store) -> None:
    """Create the AKS StorageClasses that are missing (``default`` is the default class)."""
    for name, provisioner in STORAGE_CLASSES.items():
        body: dict[str, Any] = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "labels": {"kubernetes.io/cluster-service": "true"}},
            "provisioner": provisioner,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
        }
        if name == "default":
            body["metadata"]["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
        try:
            store.create("storage.k8s.io/v1", "StorageClass", body)
        except AlreadyExists:
            continue


class VolumeBinder(WorkloadController):
    """Binds PersistentVolumeClaims to new local PersistentVolumes (see the module docstring)."""

    def __init__(self, context: ControllerContext, volume_dir: Path) -> None:
        super().__init__(context)
        self.volume_dir = volume_dir

    def sync(self, namespace: str, name: str) -> None:
        claim = self._get_live("v1", "PersistentVolumeClaim", namespace, name)
        if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
            return
        spec = claim.get("spec") or {}
        class_name = spec.get("storageClassName")
        classes = {c["metadata"]["name"]: c for c in self.store.list("storage.k8s.io/v1", "StorageClass")[0]}
        if class_name is None:
            default = next(
                (n for n, c in classes.items() if _annotation(c, DEFAULT_CLASS_ANNOTATION) == "true"), None
            )
            if default is None:
                return  # kube leaves it Pending until a default class appears
            claim["spec"]["storageClassName"] = class_name = default
            claim = self.store.update("v1", "PersistentVolumeClaim", claim)
        if class_name not in classes:
            self._pending(claim, class_name, sorted(classes))
            return
        volume_name = f"pvc-{claim['metadata']['uid']}"
        path = self.volume_dir / volume_name
        path.mkdir(parents=True, exist_ok=True)
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        modes = list(spec.get("accessModes") or ["ReadWriteOnce"])
        volume: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": volume_name,
                "annotations": {"pv.kubernetes.io/provisioned-by": classes[class_name]["provisioner"]},
            },
            "spec": {
                "capacity": {"storage": storage},
                "accessModes": modes,
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": class_name,
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": name,
                    "namespace": namespace,
                    "uid": claim["metadata"]["uid"],
                },
            },
        }
        try:
            created = self.store.create("v1", "PersistentVolume", volume)
        except AlreadyExists:
            created = self.store.get("v1", "PersistentVolume", volume_name)
        created["status"] = {"phase": "Bound"}
        self.store.update("v1", "PersistentVolume", created, subresource="status")
        claim["spec"]["volumeName"] = volume_name
        claim = self.store.update("v1", "PersistentVolumeClaim", claim)
        claim["status"] = {"phase": "Bound", "accessModes": modes, "capacity": {"storage": storage}}
        self.store.update("v1", "PersistentVolumeClaim", claim, subresource="status")
        self.recorder.event(
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume_name}",
            component=_COMPONENT,
        )

    def release(self, namespace: str, name: str) -> None:
        """A deleted claim's volume goes too (reclaim policy Delete)."""
        for volume in self.store.list("v1", "PersistentVolume")[0]:
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            if (ref.get("namespace"), ref.get("name")) == (namespace, name):
                try:
                    self.store.get("v1", "PersistentVolumeClaim", name, namespace)
                    continue  # a new claim of the same name: its volume is not ours to delete
                except NotFound:
                    self.store.delete("v1", "PersistentVolume", volume["metadata"]["name"])

    def _pending(self, claim: dict[str, Any], class_name: str, classes: list[str]) -> None:
        message = (
            f'storageclass.storage.k8s.io "{class_name}" not found; spec.storageClassName must name one of: '
            f"{', '.join(classes) or 'none (create a StorageClass)'}"
        )
        if (claim.get("status") or {}).get("phase") != "Pending":
            claim["status"] = {"phase": "Pending"}
            self.store.update("v1", "PersistentVolumeClaim", claim, subresource="status")
        self.recorder.event(claim, "Warning", "ProvisioningFailed", message, component=_COMPONENT)


def _annotation(obj: dict[str, Any], key: str) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None
