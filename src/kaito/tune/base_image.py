"""KAITO's base image entry points, run by kaito.tune where a runtime maps the image's paths to local ones.

A tuning Job of a KAITO preset runs, in KAITO's base image (`kaito.controllers.tuning`):

    cd /workspace/tfs/ && python3 metrics_server.py &
    accelerate launch --num_processes=<gpus> /workspace/tfs/fine_tuning.py

The directory ``kaito/tune/tfs`` holds scripts by those two names; a runtime that runs the base image on this
machine (kaito.sim's process runtime under `kaito up --serve`) maps /workspace/tfs to it, so KAITO's own
shell line runs them:

- ``fine_tuning.py`` runs `kaito.tune` (:func:`fine_tuning`) on the pod's paths: the config at
  ``$YAML_FILE_PATH`` (else /mnt/config/training_config.yaml), the data under ``$DATASET_FOLDER_PATH`` (else
  /mnt/data), the config's ``TrainingArguments.output_dir`` and ``ModelConfig.pretrained_model_name_or_path``
  (default /workspace/tfs/weights, which the image links to the downloaded weights). The config names
  paths inside the image, so each is looked up in the runtime's path map (``$KAITO_SIM_PATH_MAP``, a JSON
  object image path -> local path; longest match wins); so is /dev/termination-log, where kaito.tune
  writes its error sentence. Without a map, as in a real container, paths are used as they are.
- ``metrics_server.py`` (:func:`metrics_server`): KAITO's serves the GPUs' metrics; on CPU there are none, so
  it says where kaito.tune's own gauges go (``<output_dir>/training_metrics.prom``) and exits 0.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

from kaito.tune.cli import TERMINATION_LOG, main
from kaito.tune.config import DEFAULT_CONFIG_PATH, ConfigError, TuneConfig, load_config
from kaito.tune.data import DEFAULT_DATA_DIR

__all__ = ["PATH_MAP_ENV", "fine_tuning", "fine_tuning_args", "local_path", "metrics_server", "path_map"]

PATH_MAP_ENV = "KAITO_SIM_PATH_MAP"


def path_map(env: Mapping[str, str]) -> dict[str, str]:
    """The runtime's image path -> local path map from the environment ({} when absent)."""
    raw = env.get(PATH_MAP_ENV, "")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"${PATH_MAP_ENV} is not JSON ({error}); expected an object path -> path") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ConfigError(f"${PATH_MAP_ENV} must be a JSON object of path -> path strings")
    return parsed


def local_path(path: str, paths: Mapping[str, str]) -> str:
    """`path` with its longest mapped prefix (a whole path part) replaced by the local path."""
    for inside in sorted(paths, key=len, reverse=True):
        prefix = inside.rstrip("/")
        if path == prefix or path.startswith(prefix + "/"):
            return paths[inside].rstrip("/") + path[len(prefix) :]
    return path


def fine_tuning_args(config_path: str, config: TuneConfig, env: Mapping[str, str]) -> list[str]:
    """`python -m kaito.tune` arguments for KAITO's fine_tuning.py contract, every path made local."""
    paths = path_map(env)
    return [
        f"--config={local_path(config_path, paths)}",
        f"--data-dir={local_path(env.get('DATASET_FOLDER_PATH') or DEFAULT_DATA_DIR, paths)}",
        f"--output-dir={local_path(config.training.output_dir, paths)}",
        f"--model={local_path(config.model_path, paths)}",
    ]


def _config_path(env: Mapping[str, str]) -> str:
    return env.get("YAML_FILE_PATH") or DEFAULT_CONFIG_PATH


def fine_tuning(env: Mapping[str, str] | None = None) -> int:
    """What /workspace/tfs/fine_tuning.py does here: run kaito.tune on the pod's (mapped) paths."""
    env = os.environ if env is None else env
    config_path = _config_path(env)
    try:
        paths = path_map(env)
    except ConfigError as error:
        print(f"fine_tuning: {error}", file=sys.stderr)
        return 1
    termination = local_path(TERMINATION_LOG, paths)  # kaito.tune's last words go there
    if termination != TERMINATION_LOG and "KAITO_TUNE_TERMINATION_LOG" not in os.environ:
        os.environ["KAITO_TUNE_TERMINATION_LOG"] = termination
    try:
        config = load_config(local_path(config_path, paths))
    except ConfigError:  # kaito.tune reports it: its log, the termination message, the failure marker
        return main([f"--config={local_path(config_path, paths)}"])
    return main(fine_tuning_args(config_path, config, env))


def metrics_server(env: Mapping[str, str] | None = None) -> int:
    """What /workspace/tfs/metrics_server.py does here: no GPUs to report; say where the gauges are."""
    env = os.environ if env is None else env
    config_path = _config_path(env)
    try:
        paths = path_map(env)
        output = local_path(load_config(local_path(config_path, paths)).training.output_dir, paths)
    except ConfigError as error:
        print(f"metrics_server: {error}", file=sys.stderr)
        return 0
    print(
        "metrics_server: no GPU metrics on CPU; kaito.tune writes its gauges to "
        f"{output}/training_metrics.prom",
        flush=True,
    )
    return 0
