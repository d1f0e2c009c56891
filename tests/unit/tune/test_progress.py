"""kaito.tune's progress: a log line per logging step, gauges in a text file and on /metrics."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kaito.tune.progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gauges(text: str) -> dict[str, str]:
    return dict(line.split() for line in text.splitlines() if not line.startswith("#"))


def test_each_step_is_logged_and_written_to_the_metrics_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    metrics = tmp_path / "out" / "training_metrics.prom"
    progress = Progress(4, metrics_file=metrics, clock=clock)
    assert gauges(metrics.read_text())["kaito_tune_step"] == "0"
    clock.now = 102.5
    with caplog.at_level(logging.INFO, logger="kaito.tune"):
        progress.step(1, 0.25, 3.5, 0.01, log_it=True)
        progress.step(2, 0.5, 3.25, 0.01, log_it=False)
    assert [r.getMessage() for r in caplog.records] == [
        "step 1/4 epoch 0.25 loss 3.5000 lr 0.01 elapsed 2.5s"
    ]
    values = gauges(metrics.read_text())
    assert values["kaito_tune_step"] == "2"
    assert values["kaito_tune_loss"] == "3.25"
    assert values["kaito_tune_steps_total_planned"] == "4"
    assert values["kaito_tune_completed"] == "0"
    assert "# TYPE kaito_tune_loss gauge" in metrics.read_text()
    progress.done()
    assert gauges(metrics.read_text())["kaito_tune_completed"] == "1"
    assert not list(metrics.parent.glob("*.tmp"))


def test_metrics_are_served_on_get_metrics_only() -> None:
    progress = Progress(3)
    port = progress.serve("127.0.0.1", 0)
    try:
        progress.step(1, 0.3, 2.0, 0.001, log_it=False)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            assert gauges(response.read().decode())["kaito_tune_step"] == "1"
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert error.value.code == 404
    finally:
        progress.close()
