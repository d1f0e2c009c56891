"""The training data: fetched from URLs or found in a directory, read as rows, turned into texts.

Where the data comes from, as KAITO's trainer finds it:
- `DatasetConfig.dataset_path` (relative paths are under /mnt), else
- the first file under the data directory (/mnt/data, `$DATASET_FOLDER_PATH`, or --data-dir) whose name
  mentions a supported format: parquet, json (also .jsonl: one object per line), csv is not read here;
- `--data-url URL` (repeatable) downloads into the data directory first (what KAITO's data-downloader init
  container does in the pod).

What a row becomes (first that applies): the chat `messages_column` (or a column named `messages`: a list
of {role, content}) rendered with the tokenizer's chat template; `context_column` + `response_column`
joined by a newline; `response_column` (default `text`). A row without the column is an error naming the
columns the data has.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kaito.tune.config import DatasetSettings

__all__ = [
    "DEFAULT_DATA_DIR",
    "DataError",
    "download",
    "find_dataset",
    "read_rows",
    "row_texts",
    "split_rows",
]

DEFAULT_DATA_DIR = "/mnt/data"
_FORMATS = ("parquet", "jsonl", "json")
Row = dict[str, Any]


class DataError(ValueError):
    """The data cannot be found or read; the message names the file or column and what would work."""


def download(urls: Sequence[str], into: Path, *, timeout: float = 60.0) -> list[Path]:
    """Fetch each http(s) URL into `into`, named after the URL's last path segment (query dropped)."""
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, url in enumerate(urls):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https"):
            raise DataError(f"data URL {url!r} is not http(s); give a public http:// or https:// link")
        name = Path(parsed.path).name or f"data-{index}"
        target = into / name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise DataError(f"could not download data URL {url!r}: {error}") from None
        paths.append(target)
    return paths


def _format_of(path: Path, explicit: str | None) -> str | None:
    if explicit:
        return explicit.lower().lstrip(".")
    name = path.name.lower()
    return next((fmt for fmt in _FORMATS if fmt in name), None)


def find_dataset(settings: DatasetSettings, data_dir: Path) -> tuple[Path, str]:
    """The data file and its format (parquet, jsonl or json)."""
    if settings.dataset_path:
        path = Path(settings.dataset_path)
        if not path.is_absolute():
            path = Path("/mnt") / settings.dataset_path
        fmt = _format_of(path, settings.dataset_extension)
        if not path.is_file():
            raise DataError(f"DatasetConfig.dataset_path {settings.dataset_path!r} is not a file ({path})")
        if fmt not in _FORMATS:
            raise DataError(
                f"DatasetConfig.dataset_path {settings.dataset_path!r}: cannot tell its format; name it "
                "*.parquet, *.json or *.jsonl, or set DatasetConfig.dataset_extension"
            )
        return path, fmt
    if not data_dir.is_dir():
        raise DataError(f"the data directory {data_dir} does not exist; mount the training data there")
    for root, _dirs, files in sorted(os.walk(data_dir)):
        for name in sorted(files):
            path = Path(root) / name
            fmt = _format_of(path, settings.dataset_extension)
            if fmt in _FORMATS:
                return path, fmt
    raise DataError(
        f"no dataset file under {data_dir}: expected a file whose name mentions parquet, json or jsonl "
        "(or set DatasetConfig.dataset_path)"
    )


def read_rows(path: Path, fmt: str) -> list[Row]:
    """Every row of the data file as a dict."""
    if fmt == "parquet":
        import pyarrow.parquet as pq  # only parquet needs pyarrow

        try:
            rows: list[Row] = pq.read_table(path).to_pylist()
        except Exception as error:  # pyarrow raises its own ArrowInvalid and OSErrors
            raise DataError(f"{path} is not a readable parquet file: {error}") from None
        return rows
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            data = json.loads(text)
        else:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not JSON or JSON Lines (line {error.lineno}: {error.msg}); write one object per line"
        ) from None
    if not all(isinstance(row, dict) for row in data):
        raise DataError(f'{path}: every row must be a JSON object such as {{"text": "..."}}')
    return list(data)


def row_texts(
    rows: Sequence[Row], settings: DatasetSettings, render_chat: Callable[[list[Any]], str]
) -> list[str]:
    """One training text per row (see the module docstring for the column rules)."""
    if not rows:
        raise DataError("the dataset has no rows")
    columns = sorted(rows[0])
    messages = settings.messages_column or ("messages" if "messages" in rows[0] else None)
    texts = []
    for index, row in enumerate(rows):
        if messages is not None:
            value = row.get(messages)
            if not isinstance(value, list):
                raise DataError(
                    f"row {index}: column {messages!r} must be a list of {{role, content}} messages; "
                    f"the data has columns {', '.join(columns)}"
                )
            texts.append(render_chat(value))
            continue
        if settings.response_column not in row:
            raise DataError(
                f"row {index} has no column {settings.response_column!r} (DatasetConfig.response_column); "
                f"the data has columns {', '.join(columns)}: set response_column or messages_column to one"
            )
        text = str(row[settings.response_column])
        if settings.context_column:
            if settings.context_column not in row:
                raise DataError(
                    f"row {index} has no column {settings.context_column!r} (DatasetConfig.context_column); "
                    f"the data has columns {', '.join(columns)}"
                )
            text = f"{row[settings.context_column]}\n{text}"
        texts.append(text)
    return texts


def split_rows(texts: list[str], settings: DatasetSettings) -> tuple[list[str], list[str]]:
    """(train, eval): shuffled with shuffle_seed when asked, split by train_test_split (1: no eval)."""
    ordered = list(texts)
    if settings.shuffle_dataset:
        random.Random(settings.shuffle_seed).shuffle(ordered)
    if settings.train_test_split >= 1 or len(ordered) < 2:
        return ordered, []
    cut = max(1, min(len(ordered) - 1, round(len(ordered) * settings.train_test_split)))
    return ordered[:cut], ordered[cut:]
