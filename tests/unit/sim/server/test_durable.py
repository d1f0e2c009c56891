"""The SQLite backend: what a store committed is what a reopened store finds, in order, with its history."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kaito.sim.server.durable import DB_FILE, DataDirInUse, SqliteBackend, open_data_dir
from kaito.sim.server.errors import Gone, InternalError
from kaito.sim.server.store import Store

CM = ("v1", "ConfigMap")


def _cm(name: str, value: str = "1") -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "default"}, "data": {"v": value}}


def _reopen(path: Path, **options: int) -> tuple[Store, SqliteBackend]:
    backend = SqliteBackend(path, **options)
    return Store(persistence=backend), backend


def test_a_reopened_store_has_every_committed_object_at_its_resource_version(tmp_path: Path) -> None:
    db = tmp_path / DB_FILE
    store, backend = _reopen(db)
    for i in range(5):
        store.create(*CM, _cm(f"c{i}"))
    store.update(*CM, {**_cm("c1", "2"), "metadata": {**store.get(*CM, "c1", "default")["metadata"]}})
    store.delete(*CM, "c3", "default")
    before = {o["metadata"]["name"]: o for o, _ in [(o, 0) for o in store.list(*CM, "default")[0]]}
    last = store.resource_version
    backend.close()

    again, backend = _reopen(db)
    items, rv = again.list(*CM, "default")
    assert {o["metadata"]["name"]: o for o in items} == before
    assert {o["metadata"]["name"] for o in items} == {"c0", "c1", "c2", "c4"}
    assert again.get(*CM, "c1", "default")["data"] == {"v": "2"}
    assert rv == str(last)
    assert again.peek(("", "namespaces"), "", "kube-system") is not None  # the defaults came back too
    backend.close()


def test_resource_versions_keep_growing_across_reopens_even_after_a_compacted_delete(tmp_path: Path) -> None:
    db = tmp_path / DB_FILE
    seen: list[int] = []
    for round_ in range(3):
        store, backend = _reopen(db, retain=1, compact_every=1)
        created = store.create(*CM, _cm(f"r{round_}"))
        seen.append(int(created["metadata"]["resourceVersion"]))
        store.delete(*CM, f"r{round_}", "default")  # the newest row is a tombstone, compacted at once
        seen.append(store.resource_version)
        backend.close()
    assert seen == sorted(seen) and len(set(seen)) == len(seen), seen


@pytest.mark.parametrize(("retain", "resumable"), [(100, True), (2, False)])
async def test_a_watch_resumes_after_reopen_from_a_retained_revision_and_older_ones_get_410(
    tmp_path: Path, retain: int, resumable: bool
) -> None:
    db = tmp_path / DB_FILE
    store, backend = _reopen(db, retain=retain, compact_every=1)
    first = store.create(*CM, _cm("a"))
    since = first["metadata"]["resourceVersion"]
    store.create(*CM, _cm("b"))
    store.patch(*CM, "a", {"data": {"v": "2"}}, "application/merge-patch+json", "default")
    store.create(*CM, _cm("c"))
    store.delete(*CM, "b", "default")
    backend.close()

    again, backend = _reopen(db, retain=retain)
    if not resumable:
        with pytest.raises(Gone):
            again.watch(*CM, "default", resource_version=since)
        backend.close()
        return
    watch = again.watch(*CM, "default", resource_version=since)
    events = []
    async with asyncio.timeout(5):
        async for event in watch:
            events.append((event.type, event.object["metadata"]["name"]))
            if len(events) == 4:
                break
    watch.close()
    assert events == [("ADDED", "b"), ("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]
    backend.close()


def test_compaction_keeps_the_current_state_and_only_a_bounded_window(tmp_path: Path) -> None:
    db = tmp_path / DB_FILE
    store, backend = _reopen(db, retain=10, compact_every=5)
    store.create(*CM, _cm("hot"))
    for i in range(100):
        store.patch(*CM, "hot", {"data": {"v": str(i)}}, "application/merge-patch+json", "default")
    backend.close()
    again, backend = _reopen(db, retain=10, compact_every=5)
    assert again.get(*CM, "hot", "default")["data"] == {"v": "99"}
    rows = backend._db.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
    assert rows <= 10 + 5 + 4 + 1, rows  # the window, one batch, the default namespaces, the row before
    assert again.compacted_revision >= again.resource_version - 15
    backend.close()


def test_a_transaction_cut_off_by_a_kill_is_never_seen(tmp_path: Path) -> None:
    db = tmp_path / DB_FILE
    store, backend = _reopen(db)
    store.create(*CM, _cm("kept"))
    backend.close()
    child = textwrap.dedent(
        f"""
        import os, sqlite3
        db = sqlite3.connect({str(db)!r}, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO kv (id, grp, plural, namespace, name, type, prev_revision, value) "
                   "VALUES (999, '', 'configmaps', 'default', 'half', 'ADDED', NULL, '{{}}')")
        os.kill(os.getpid(), 9)
        """
    )
    result = subprocess.run([sys.executable, "-c", child], check=False, timeout=60)
    assert result.returncode == -9
    again, backend = _reopen(db)
    names = {o["metadata"]["name"] for o in again.list(*CM, "default")[0]}
    assert names == {"kept"}
    assert again.resource_version < 999
    backend.close()


def test_sections_are_kept_beside_the_objects(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / DB_FILE)
    assert backend.section("arm") is None
    backend.save_section("arm", {"pools": [1]})
    backend.save_section("arm", {"pools": [1, 2]})
    backend.close()
    backend = SqliteBackend(tmp_path / DB_FILE)
    assert backend.section("arm") == {"pools": [1, 2]}
    backend.close()


def test_the_data_dir_is_private_and_one_cluster_at_a_time(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    backend, lock = open_data_dir(directory)
    Store(persistence=backend)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with pytest.raises(DataDirInUse, match="in use by another running kaito-sim"):
        open_data_dir(directory)
    backend.close()
    lock.close()
    again, lock = open_data_dir(directory)  # free once the first let go
    again.close()
    lock.close()


def test_a_database_of_another_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / DB_FILE)
    backend._db.execute("UPDATE meta SET value = '7' WHERE key = 'format'")
    backend.close()
    with pytest.raises(ValueError, match="has format 7; this kaito-sim reads format 1"):
        SqliteBackend(tmp_path / DB_FILE)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retain": 0}, "retain is 0"),
        ({"compact_every": 0}, "compact_every is 0"),
        ({"synchronous": "OFF"}, "synchronous is 'OFF'"),
    ],
)
def test_bad_options_are_refused_by_name(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SqliteBackend(tmp_path / DB_FILE, **options)  # type: ignore[arg-type]
    assert not os.path.exists(tmp_path / DB_FILE)


BIG = "x" * 20_000  # a row this size needs new pages, which a full database cannot give


@pytest.mark.parametrize(
    ("write", "refused"),
    [
        (lambda s: s.create(*CM, _cm("new", BIG)), "configmaps default/new"),
        (
            lambda s: s.patch(*CM, "small", {"data": {"v": BIG}}, "application/merge-patch+json", "default"),
            "configmaps default/small",
        ),
        (lambda s: s.delete(*CM, "big", "default"), "configmaps default/big"),  # its tombstone holds it
    ],
    ids=["create", "patch", "delete"],
)
def test_a_write_the_disk_refuses_is_an_error_and_the_store_keeps_nothing_of_it(
    tmp_path: Path, write: Callable[[Store], object], refused: str
) -> None:
    db = tmp_path / DB_FILE
    store, backend = _reopen(db)
    store.create(*CM, _cm("small"))
    store.create(*CM, _cm("big", BIG))
    before = {o["metadata"]["name"]: o for o in store.list(*CM, "default")[0]}
    rv = store.resource_version
    watch = store.watch(*CM, "default", resource_version=str(rv))
    pages = backend._db.execute("PRAGMA page_count").fetchone()[0]
    backend._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full

    with pytest.raises(InternalError, match=f"refused the write of {refused} .*full.*nothing was changed"):
        write(store)

    assert {o["metadata"]["name"]: o for o in store.list(*CM, "default")[0]} == before
    assert store.resource_version == rv
    assert watch.pending() == 0
    backend._db.execute("PRAGMA max_page_count = 1073741823")  # room again: the next write goes on from rv
    after = store.create(*CM, _cm("later"))
    assert after["metadata"]["resourceVersion"] == str(rv + 1)
    expected = {o["metadata"]["name"]: o for o in store.list(*CM, "default")[0]}
    backend.close()
    again, backend = _reopen(db)
    assert {o["metadata"]["name"]: o for o in again.list(*CM, "default")[0]} == expected
    backend.close()
