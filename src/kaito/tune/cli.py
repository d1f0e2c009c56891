"""`python -m kaito.tune`: KAITO's tuning contract as a command.

    python -m kaito.tune [--config PATH] [--data-dir DIR] [--data-url URL ...] [--output-dir DIR]
                         [--model PATH] [--metrics-file PATH] [--metrics-port PORT]

Defaults are the pod's paths: the config at /mnt/config/training_config.yaml (`$YAML_FILE_PATH`), the data
under /mnt/data (`$DATASET_FOLDER_PATH`), the model at ModelConfig.pretrained_model_name_or_path, the adapter
to TrainingArguments.output_dir, gauges to <output dir>/training_metrics.prom.

Exit status 0 with the adapter and fine_tuning_completed.txt written; 1 with one sentence on stderr, in the
termination log (/dev/termination-log when writable: what Kubernetes shows as the container's termination
message) and fine_tuning_failed.txt in the output directory (so a pusher waiting for the adapter stops).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from kaito.tune.config import DEFAULT_CONFIG_PATH, ConfigError, TuneConfig, load_config
from kaito.tune.data import DEFAULT_DATA_DIR, DataError, download
from kaito.tune.train import FAILURE_MARKER, TuneError, train

__all__ = ["main"]

log = logging.getLogger("kaito.tune")
TERMINATION_LOG = "/dev/termination-log"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kaito.tune", description="Train a LoRA adapter as KAITO's tuning Job does."
    )
    parser.add_argument("--config", default=os.environ.get("YAML_FILE_PATH", DEFAULT_CONFIG_PATH))
    parser.add_argument("--data-dir", default=os.environ.get("DATASET_FOLDER_PATH", DEFAULT_DATA_DIR))
    parser.add_argument("--data-url", action="append", default=[], help="download into --data-dir first")
    parser.add_argument("--output-dir", help="instead of TrainingArguments.output_dir")
    parser.add_argument("--model", help="instead of ModelConfig.pretrained_model_name_or_path")
    parser.add_argument("--metrics-file", help="Prometheus text file of the gauges")
    parser.add_argument("--metrics-port", type=int, help="also serve GET /metrics on this port")
    return parser


def _report_failure(message: str, output_dir: Path | None) -> None:
    log.error("%s", message)
    termination = Path(os.environ.get("KAITO_TUNE_TERMINATION_LOG", TERMINATION_LOG))
    if termination.exists() and os.access(termination, os.W_OK):
        termination.write_text(message + "\n", encoding="utf-8")
    if output_dir is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            (output_dir / FAILURE_MARKER).write_text(message + "\n", encoding="utf-8")
        except OSError:
            pass  # an unwritable output directory is already the failure being reported


def main(argv: Sequence[str] | None = None) -> int:
    """Run one training; the exit status tells the Job how it went."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    output_dir = Path(args.output_dir) if args.output_dir else None
    try:
        config: TuneConfig = load_config(args.config)
        output_dir = output_dir or Path(config.training.output_dir)
        data_dir = Path(args.data_dir)
        if args.data_url:
            fetched = download(args.data_url, data_dir)
            log.info("downloaded %s", ", ".join(str(p) for p in fetched))
        metrics_file = Path(args.metrics_file) if args.metrics_file else output_dir / "training_metrics.prom"
        result = train(
            config,
            data_dir=data_dir,
            output_dir=output_dir,
            model_path=args.model,
            metrics_file=metrics_file,
            metrics_port=args.metrics_port,
        )
    except (ConfigError, DataError, TuneError) as error:
        _report_failure(str(error), output_dir)
        return 1
    except Exception as error:  # anything else is a bug or an environment problem: say it, with the trace
        traceback.print_exc()
        _report_failure(f"training failed: {type(error).__name__}: {error}", output_dir)
        return 1
    print(
        f"adapter written to {result.output_dir}: {result.steps} steps in {result.seconds:.1f} s on "
        f"{result.device}, final loss {result.final_loss:.4f}",
        flush=True,
    )
    return 0
