"""kaito.sim's top level: what a user of the embedded cluster needs, in few modules (rooms hold the rest).

That every room's exports come from its modules' ``__all__`` is checked for every package in
tests/unit/test_public_api.py."""

from __future__ import annotations

import pkgutil

import kaito.sim


def test_the_top_level_is_the_clusters_face_and_the_internals_stay_in_their_rooms() -> None:
    assert "Cluster" in kaito.sim.__all__ and "write_kubeconfig" in kaito.sim.__all__
    for internal in ("Store", "ApiServer", "WorkloadSimulator", "ArmServer", "Strategy"):
        assert internal not in kaito.sim.__all__


def test_at_most_twelve_modules_stay_at_the_top_level() -> None:
    top = [m for m in pkgutil.iter_modules(kaito.sim.__path__) if not m.ispkg]
    assert len(top) + 1 <= 12  # and __init__
