"""The persistence hook: each committed write reaches the backend in order, and a restart loads from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kaito.sim.server.errors import Conflict, InternalError
from kaito.sim.server.persistence import CommittedWrite, SnapshotFile, StoredObject, StoreImage
from kaito.sim.server.store import Store

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


class RecordingBackend:
    """A backend that keeps every call, and hands back an image on load when it has one."""

    def __init__(self, image: StoreImage | None = None) -> None:
        self.image = image
        self.writes: list[CommittedWrite] = []
        self.resets: list[StoreImage] = []

    def load(self) -> StoreImage | None:
        return self.image

    def reset(self, image: StoreImage) -> None:
        self.resets.append(image)

    def committed(self, write: CommittedWrite) -> None:
        self.writes.append(write)


def _image_from(writes: list[CommittedWrite]) -> StoreImage:
    """What a durable backend would have kept from the writes: the last state of each object."""
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for w in writes:
        key = (w.group, w.plural, w.namespace, w.name)
        if w.type == "DELETED":
            latest.pop(key, None)
        else:
            latest[key] = w.object
    return StoreImage(writes[-1].revision, tuple(StoredObject(g, p, o) for (g, p, _, _), o in latest.items()))


def test_every_committed_write_reaches_the_backend_in_revision_order() -> None:
    backend = RecordingBackend()
    store = Store(persistence=backend)
    cm = store.create("v1", "ConfigMap", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    store.patch("v1", "ConfigMap", "a", {"data": {"k": "2"}}, "application/merge-patch+json", "default")
    store.delete("v1", "ConfigMap", "a", "default")

    revisions = [w.revision for w in backend.writes]
    assert revisions == list(range(1, store.resource_version + 1))  # default namespaces, then the ConfigMap
    tail = [(w.type, w.plural, w.name) for w in backend.writes[-3:]]
    assert tail == [
        ("ADDED", "configmaps", "a"),
        ("MODIFIED", "configmaps", "a"),
        ("DELETED", "configmaps", "a"),
    ]
    assert backend.writes[-3].object["data"] == cm["data"]
    assert backend.writes[-2].object["data"] == {"k": "2"}
    assert backend.writes[-1].namespace == "default"


def test_what_commits_nothing_is_not_reported() -> None:
    backend = RecordingBackend()
    store = Store(persistence=backend)
    store.create("v1", "ConfigMap", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    seen = len(backend.writes)
    store.create("v1", "ConfigMap", {"metadata": {"name": "b"}}, dry_run=True)
    store.patch("v1", "ConfigMap", "a", {"data": {"k": "1"}}, "application/merge-patch+json", "default")
    with pytest.raises(Conflict):
        store.update("v1", "ConfigMap", {"metadata": {"name": "a", "resourceVersion": "1"}, "data": {}})
    assert len(backend.writes) == seen


class RefusingBackend(RecordingBackend):
    """Refuses every write once ``full`` is set, as a backend on a full disk does."""

    full = False

    def committed(self, write: CommittedWrite) -> None:
        if self.full:
            raise InternalError("the disk is full")
        super().committed(write)


def test_a_write_the_backend_refuses_leaves_the_store_and_its_watchers_as_they_were() -> None:
    backend = RefusingBackend()
    store = Store(persistence=backend)
    store.create("v1", "ConfigMap", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    rv, heard = store.resource_version, []
    store.add_listener(heard.append)
    watch = store.watch("v1", "ConfigMap", "default", resource_version=str(rv))
    backend.full = True
    for refused in (
        lambda: store.create("v1", "ConfigMap", {"metadata": {"name": "b"}}),
        lambda: store.patch("v1", "ConfigMap", "a", {"data": {"k": "2"}}, "application/merge-patch+json"),
        lambda: store.delete("v1", "ConfigMap", "a", "default"),
    ):
        with pytest.raises(InternalError, match="the disk is full"):
            refused()
    assert [o["metadata"]["name"] for o in store.list("v1", "ConfigMap", "default")[0]] == ["a"]
    assert store.get("v1", "ConfigMap", "a", "default")["data"] == {"k": "1"}
    assert (store.resource_version, heard, watch.pending()) == (rv, [], 0)
    backend.full = False
    created = store.create("v1", "ConfigMap", {"metadata": {"name": "b"}})
    assert created["metadata"]["resourceVersion"] == str(rv + 1) == str(backend.writes[-1].revision)


def test_a_store_without_an_image_hands_its_own_to_the_backend() -> None:
    backend = RecordingBackend()
    store = Store()
    store.create("v1", "ConfigMap", {"metadata": {"name": "before"}})
    store.use_persistence(backend)
    (image,) = backend.resets
    assert image.resource_version == store.resource_version
    assert ("configmaps", "before") in {(o.plural, o.name) for o in image.objects}


def test_a_restarted_store_loads_what_the_backend_kept() -> None:
    first = RecordingBackend()
    store = Store(persistence=first)
    store.create("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    store.create("example.com/v1", "Widget", {"metadata": {"name": "w"}, "spec": {"size": 3}})
    store.create("v1", "Service", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    ip = store.get("v1", "Service", "s", "default")["spec"]["clusterIP"]

    second = RecordingBackend(_image_from(first.writes))
    restarted = Store(persistence=second)

    assert restarted.resource_version == store.resource_version
    assert restarted.get("example.com/v1", "Widget", "w", "default")["spec"] == {
        "size": 3
    }  # the CRD serves it
    assert [ns["metadata"]["name"] for ns in restarted.list("v1", "Namespace")[0]] == [
        ns["metadata"]["name"] for ns in store.list("v1", "Namespace")[0]
    ]
    svc = restarted.create("v1", "Service", {"metadata": {"name": "t"}, "spec": {"ports": [{"port": 80}]}})
    assert svc["spec"]["clusterIP"] != ip  # the allocator resumed after the loaded address
    assert second.writes[0].revision == store.resource_version + 1
    assert second.resets == []


def test_snapshot_file_keeps_the_latest_image_and_writes_it_with_extra_sections(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = SnapshotFile(path)
    store = Store(persistence=backend)
    store.create("v1", "ConfigMap", {"metadata": {"name": "a"}, "data": {"k": "1"}})
    store.create("v1", "ConfigMap", {"metadata": {"name": "gone"}})
    store.delete("v1", "ConfigMap", "gone", "default")
    assert not path.exists()  # written on save, not on every write
    backend.save(arm={"pools": []}, absent=None)

    data = json.loads(path.read_text())
    assert data["resourceVersion"] == store.resource_version
    assert data["arm"] == {"pools": []} and "absent" not in data
    names = {e["object"]["metadata"]["name"] for e in data["objects"] if e["plural"] == "configmaps"}
    assert names == {"a"}

    reopened = SnapshotFile(path)
    restarted = Store(persistence=reopened)
    assert reopened.sections == {"arm": {"pools": []}}
    assert restarted.get("v1", "ConfigMap", "a", "default")["data"] == {"k": "1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"version": 2, "objects": []}', "unsupported snapshot version 2"), ("[]", "holds list")],
)
def test_snapshot_file_refuses_what_it_cannot_read_by_saying_why(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        Store(persistence=SnapshotFile(path))
