"""`python -m kaito.tune` failing before training: one sentence on stderr, in the termination log, and as
fine_tuning_failed.txt in the output directory (so a pusher waiting for the adapter stops)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito.tune.cli import main


def test_a_bad_config_fails_with_the_sentence_everywhere_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    termination = tmp_path / "termination-log"
    termination.write_text("")
    monkeypatch.setenv("KAITO_TUNE_TERMINATION_LOG", str(termination))
    config = tmp_path / "training_config.yaml"
    config.write_text("training_config:\n  TrainingArguments: {max_steps: lots}\n")

    status = main([f"--config={config}", f"--output-dir={tmp_path / 'out'}", f"--data-dir={tmp_path}"])

    assert status == 1
    message = "TrainingArguments.max_steps is 'lots'; write a whole number"
    assert termination.read_text().strip() == message
    assert (tmp_path / "out" / "fine_tuning_failed.txt").read_text().strip() == message
    assert [r.getMessage() for r in caplog.records if r.name == "kaito.tune"] == [message]
