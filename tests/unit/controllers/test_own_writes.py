"""OwnWrites: our written copy stands in for a cached copy our writes replaced, and only for that."""

from __future__ import annotations

from kaito.controllers.own_writes import OwnWrites


def test_a_cached_copy_our_write_replaced_reads_as_what_we_wrote() -> None:
    own: OwnWrites[str] = OwnWrites()
    own.remember("ns/a", "1", "written at 2", "2")
    assert own.view("ns/a", "cached at 1", "1") == "written at 2"
    assert own.view("ns/a", "cached at 1", "1") == "written at 2"  # until the cache catches up


def test_the_cache_catching_up_or_someone_elses_write_wins_and_is_forgotten() -> None:
    for version in ("2", "3"):  # our own write arrived, or another writer's came after it
        own: OwnWrites[str] = OwnWrites()
        own.remember("ns/a", "1", "written at 2", "2")
        assert own.view("ns/a", f"cached at {version}", version) == f"cached at {version}"
        assert len(own) == 0
        assert own.view("ns/a", "cached at 1", "1") == "cached at 1"  # nothing left to stand in


def test_a_chain_of_writes_stands_in_for_every_version_along_it() -> None:
    own: OwnWrites[str] = OwnWrites()
    own.remember("ns/a", "1", "finalizer at 2", "2")
    own.remember("ns/a", "2", "status at 3", "3")
    assert own.view("ns/a", "cached at 1", "1") == "status at 3"
    assert own.view("ns/a", "cached at 2", "2") == "status at 3"


def test_a_write_from_a_copy_we_did_not_write_starts_a_new_chain() -> None:
    own: OwnWrites[str] = OwnWrites()
    own.remember("ns/a", "1", "ours at 2", "2")
    own.remember("ns/a", "5", "ours at 6", "6")  # written from someone else's version 5
    assert own.view("ns/a", "cached at 1", "1") == "cached at 1"


def test_keys_are_apart_and_forget_drops_one() -> None:
    own: OwnWrites[str] = OwnWrites()
    own.remember("ns/a", "1", "a at 2", "2")
    own.remember("ns/b", "1", "b at 3", "3")
    own.forget("ns/a")
    assert own.view("ns/a", "a cached", "1") == "a cached"
    assert own.view("ns/b", "b cached", "1") == "b at 3"
    assert own.view("ns/c", "c cached", None) == "c cached"


def test_seen_forgets_once_the_cache_holds_a_version_our_writes_did_not_replace() -> None:
    own: OwnWrites[str] = OwnWrites()
    own.remember("ns/a", "1", "finalizer at 2", "2")
    own.remember("ns/a", "2", "status at 3", "3")
    own.seen("ns/a", "2")  # a late event of a version we replaced: the cache is still behind
    assert own.view("ns/a", "cached at 2", "2") == "status at 3"
    own.seen("ns/a", "3")  # our last write arrived
    assert len(own) == 0
    own.seen("ns/b", "1")  # nothing remembered: nothing to do
    assert len(own) == 0
