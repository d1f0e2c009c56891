"""The store's persistence hook: the one place every committed write passes, and where start-up loads from.

:class:`~kaito.sim.server.store.Store` keeps its objects in memory and calls its :class:`Persistence` backend

- first :meth:`Persistence.load`, when the backend is attached: a restarted store starts from the image the
  backend kept; when it has none, :meth:`Persistence.reset` hands it the store's whole :class:`StoreImage`
  (also called when the content is replaced by hand);
- with a :class:`CommittedWrite` for every write it commits, in revision order, before the store changes and
  before any watch or listener hears of it (:meth:`Persistence.committed`). A dry run, a no-op write or a
  write the store refuses commits nothing and is not reported; a backend refuses a write by raising (an
  :class:`~kaito.sim.server.errors.ApiError` is what the client then gets), and the store keeps nothing of
  it: the revision is not used, no watch hears of it.

Invariant a backend may rely on: the revisions it is told of grow by exactly one from the image's
``resource_version``; the objects it is handed are the store's own and are never mutated after (keep them
or copy them, never change them).

Backends here: :class:`MemoryOnly` (the default; keeps nothing) and :class:`SnapshotFile` (the cluster's
snapshot-at-stop: it keeps the latest image from the writes it is told of and writes it to a JSON file,
atomically, when :meth:`SnapshotFile.save` is called; a file holds the image and optional extra sections, such
as the ARM endpoint's ``arm``). The durable one, :class:`~kaito.sim.server.durable.SqliteBackend`, commits
each write to SQLite inside :meth:`Persistence.committed`, so a write is on disk before it is acknowledged
(and one the disk refuses is an error the store does not keep), and its image carries a window of
``history`` so that watches resume across a restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "SNAPSHOT_FORMAT_VERSION",
    "CommittedWrite",
    "MemoryOnly",
    "Persistence",
    "SnapshotFile",
    "StoreImage",
    "StoredObject",
]

SNAPSHOT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredObject:
    """One stored object under its storage key (group, plural); ``object`` is the stored form."""

    group: str
    plural: str
    object: dict[str, Any]

    @property
    def namespace(self) -> str:
        return str((self.object.get("metadata") or {}).get("namespace") or "")

    @property
    def name(self) -> str:
        return str((self.object.get("metadata") or {}).get("name") or "")


@dataclass(frozen=True)
class StoreImage:
    """The whole content of a store: its objects and its global revision.

    A backend that keeps history adds ``history`` (the committed writes after revision ``compacted``, oldest
    first, each with its ``prev``) so that a restarted store replays them to watches resumed from a retained
    resourceVersion; without it (``compacted`` None) a restarted store can only serve watches from now.
    The snapshot file format keeps neither.
    """

    resource_version: int
    objects: tuple[StoredObject, ...] = ()
    history: tuple[CommittedWrite, ...] = ()
    compacted: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The snapshot file format (version 1): ``{"version", "resourceVersion", "objects": [...]}``."""
        return {
            "version": SNAPSHOT_FORMAT_VERSION,
            "resourceVersion": self.resource_version,
            "objects": [{"group": o.group, "plural": o.plural, "object": o.object} for o in self.objects],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreImage:
        """Read the snapshot format; a ValueError that names the version for any other format."""
        if data.get("version") != SNAPSHOT_FORMAT_VERSION:
            raise ValueError(
                f"unsupported snapshot version {data.get('version')!r}; this store reads version "
                f"{SNAPSHOT_FORMAT_VERSION}"
            )
        objects = tuple(
            StoredObject(str(e["group"]), str(e["plural"]), e["object"]) for e in data.get("objects") or []
        )
        return cls(int(data.get("resourceVersion", 0)), objects)


@dataclass(frozen=True)
class CommittedWrite:
    """One committed write: ``type`` is ADDED, MODIFIED or DELETED; ``object`` as stored at ``revision``.

    ``prev`` is the object as stored before this write (None for a create, or where it is not known).
    """

    revision: int
    type: str
    group: str
    plural: str
    namespace: str
    name: str
    object: dict[str, Any]
    prev: dict[str, Any] | None = None


class Persistence(Protocol):
    """Where the store's committed state goes (see the module docstring for the order of calls)."""

    def load(self) -> StoreImage | None:
        """The image to start from, or None when there is nothing kept yet."""
        ...

    def reset(self, image: StoreImage) -> None:
        """Forget what was kept: the store's content is now ``image``."""
        ...

    def committed(self, write: CommittedWrite) -> None:
        """One write, in revision order; raise to refuse it (the store then keeps nothing of it)."""
        ...


class MemoryOnly:
    """Keeps nothing: a store without persistence starts empty and forgets at exit."""

    def load(self) -> StoreImage | None:
        return None

    def reset(self, image: StoreImage) -> None:
        return None

    def committed(self, write: CommittedWrite) -> None:
        return None


@dataclass
class SnapshotFile:
    """Snapshot-at-stop: the latest image, kept from the writes, written to ``path`` by :meth:`save`.

    ``sections`` holds the file's other top-level keys as read by :meth:`load` (the cluster keeps the ARM
    endpoint's pools under ``arm``); :meth:`save` writes the ones it is given beside the image.
    """

    path: Path
    sections: dict[str, Any] = field(default_factory=dict)
    _revision: int = 0
    _objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)

    def load(self) -> StoreImage | None:
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_text())
        if not isinstance(data, dict):
            raise ValueError(
                f"snapshot {self.path} holds {type(data).__name__}; a store snapshot is a JSON object"
            )
        image = StoreImage.from_json(data)
        self.sections = {k: v for k, v in data.items() if k not in ("version", "resourceVersion", "objects")}
        self.reset(image)
        return image

    def reset(self, image: StoreImage) -> None:
        self._revision = image.resource_version
        self._objects = {(o.group, o.plural, o.namespace, o.name): o.object for o in image.objects}

    def committed(self, write: CommittedWrite) -> None:
        key = (write.group, write.plural, write.namespace, write.name)
        if write.type == "DELETED":
            self._objects.pop(key, None)
        else:
            self._objects[key] = write.object
        self._revision = write.revision

    def image(self) -> StoreImage:
        """What a restart would load: every kept object and the latest revision."""
        return StoreImage(
            self._revision,
            tuple(StoredObject(g, p, obj) for (g, p, _, _), obj in self._objects.items()),
        )

    def save(self, **sections: Any) -> None:
        """Write the image and the ``sections`` that are not None to ``path`` atomically (sibling, rename).

        The file holds every Secret, so it is written 0600 and a directory made for it 0700."""
        data = self.image().to_json()
        data.update({k: v for k, v in sections.items() if v is not None})
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, separators=(",", ":")))
        tmp.chmod(0o600)
        tmp.replace(self.path)
