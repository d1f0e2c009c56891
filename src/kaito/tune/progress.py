"""Training progress, told twice: a log line per logging step, and Prometheus-style gauges.

The gauges are written to a text file after every step (atomically: a reader never sees half a file;
node-exporter's textfile collector format) and, when a port is given, served on `GET /metrics` by a
tiny HTTP server in a daemon thread:

    kaito_tune_steps_total_planned 10
    kaito_tune_step 3
    kaito_tune_epoch 0.3
    kaito_tune_loss 6.21
    kaito_tune_learning_rate 0.0002
    kaito_tune_elapsed_seconds 1.2
    kaito_tune_completed 0
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["Progress", "render_metrics"]

log = logging.getLogger("kaito.tune")

_HELP = {
    "kaito_tune_steps_total_planned": "Optimizer steps the run will take.",
    "kaito_tune_step": "Optimizer steps completed.",
    "kaito_tune_epoch": "Epochs completed (fractional).",
    "kaito_tune_loss": "Training loss of the last step.",
    "kaito_tune_learning_rate": "Learning rate of the last step.",
    "kaito_tune_elapsed_seconds": "Seconds since training started.",
    "kaito_tune_completed": "1 once the adapter is written, else 0.",
}


def render_metrics(values: dict[str, float]) -> str:
    """Prometheus text exposition of the gauges (in a fixed order)."""
    lines = []
    for name, help_text in _HELP.items():
        if name not in values:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {values[name]:g}"]
    return "\n".join(lines) + "\n"


@dataclass
class Progress:
    """Where training stands; `step()` logs and publishes. `clock` is injectable for tests."""

    total_steps: int
    metrics_file: Path | None = None
    clock: Callable[[], float] = time.monotonic
    values: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._started = self.clock()
        self.values.update(
            kaito_tune_steps_total_planned=self.total_steps,
            kaito_tune_step=0,
            kaito_tune_completed=0,
            kaito_tune_elapsed_seconds=0,
        )
        self._publish()

    def step(self, step: int, epoch: float, loss: float, learning_rate: float, *, log_it: bool) -> None:
        """Record one finished optimizer step."""
        elapsed = self.clock() - self._started
        self.values.update(
            kaito_tune_step=step,
            kaito_tune_epoch=round(epoch, 4),
            kaito_tune_loss=round(loss, 6),
            kaito_tune_learning_rate=learning_rate,
            kaito_tune_elapsed_seconds=round(elapsed, 3),
        )
        if log_it:
            log.info(
                "step %d/%d epoch %.2f loss %.4f lr %.3g elapsed %.1fs",
                step,
                self.total_steps,
                epoch,
                loss,
                learning_rate,
                elapsed,
            )
        self._publish()

    def done(self) -> None:
        """The adapter is written."""
        self.values["kaito_tune_completed"] = 1
        self.values["kaito_tune_elapsed_seconds"] = round(self.clock() - self._started, 3)
        self._publish()

    def _publish(self) -> None:
        if self.metrics_file is None:
            return
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.metrics_file.with_name(self.metrics_file.name + ".tmp")
        partial.write_text(render_metrics(self.values), encoding="utf-8")
        os.replace(partial, self.metrics_file)

    def serve(self, host: str, port: int) -> int:
        """Serve GET /metrics on host:port in a daemon thread; returns the bound port (0 picks one)."""
        progress = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                body = render_metrics(dict(progress.values)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="kaito-tune-metrics", daemon=True).start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop the /metrics server, if any."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
