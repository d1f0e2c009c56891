"""kaito.sim.gc_tuning: the collector as `kaito up`'s two processes run with it."""

from __future__ import annotations

import gc

from kaito.sim.gc_tuning import GC_THRESHOLDS, collector_tuned


def test_rarer_collections_while_running_and_the_thresholds_it_found_restored() -> None:
    before = gc.get_threshold()
    try:
        with collector_tuned():
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 0  # start-up's objects are out of the collector's sight
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0  # and, the process ending, so is everything else
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
