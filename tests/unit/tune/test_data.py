"""kaito.tune's data: found as KAITO's trainer finds it, read from JSON / JSON Lines, rows into texts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kaito.tune.config import DatasetSettings
from kaito.tune.data import DataError, download, find_dataset, read_rows, row_texts, split_rows

CHAT = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def render(messages: list[Any]) -> str:
    return "|".join(f"{m['role']}:{m['content']}" for m in messages)


def test_the_first_file_naming_a_format_is_the_dataset(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not data")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train-00000.parquet").write_bytes(b"")
    assert find_dataset(DatasetSettings(), tmp_path) == (tmp_path / "sub" / "train-00000.parquet", "parquet")


def test_an_empty_data_directory_says_what_it_expected(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=f"no dataset file under {tmp_path}: expected a file whose name mentions"
    ):
        find_dataset(DatasetSettings(), tmp_path)


def test_a_dataset_path_without_a_known_format_asks_for_dataset_extension(tmp_path: Path) -> None:
    (tmp_path / "rows.txt").write_text("{}")
    with pytest.raises(DataError, match=r"set DatasetConfig\.dataset_extension"):
        find_dataset(DatasetSettings(dataset_path=str(tmp_path / "rows.txt")), tmp_path)
    found = find_dataset(
        DatasetSettings(dataset_path=str(tmp_path / "rows.txt"), dataset_extension="jsonl"), tmp_path
    )
    assert found == (tmp_path / "rows.txt", "jsonl")


@pytest.mark.parametrize(
    "content",
    [json.dumps([{"text": "a"}, {"text": "b"}]), '{"text": "a"}\n\n{"text": "b"}\n'],
    ids=["json-array", "json-lines"],
)
def test_json_and_json_lines_read_as_rows(tmp_path: Path, content: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(content)
    assert read_rows(path, "json") == [{"text": "a"}, {"text": "b"}]


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(DataError, match="line 1"):
        read_rows(path, "jsonl")


@pytest.mark.parametrize(
    ("settings", "rows", "texts"),
    [
        (DatasetSettings(), [{"messages": CHAT}], ["user:hi|assistant:hello"]),
        (DatasetSettings(messages_column="conv"), [{"conv": CHAT}], ["user:hi|assistant:hello"]),
        (DatasetSettings(), [{"text": "plain"}], ["plain"]),
        (
            DatasetSettings(context_column="q", response_column="a"),
            [{"q": "2+2?", "a": "4"}],
            ["2+2?\n4"],
        ),
    ],
)
def test_rows_become_texts(settings: DatasetSettings, rows: list[dict[str, Any]], texts: list[str]) -> None:
    assert row_texts(rows, settings, render) == texts


def test_a_missing_column_lists_the_columns_the_data_has() -> None:
    with pytest.raises(DataError) as error:
        row_texts([{"prompt": "p", "completion": "c"}], DatasetSettings(), render)
    assert "no column 'text' (DatasetConfig.response_column)" in str(error.value)
    assert "the data has columns completion, prompt" in str(error.value)


def test_the_split_is_seeded_and_keeps_every_row() -> None:
    texts = [str(i) for i in range(10)]
    train, held = split_rows(texts, DatasetSettings(train_test_split=0.8, shuffle_seed=7))
    assert (len(train), len(held)) == (8, 2)
    assert sorted(train + held) == sorted(texts)
    assert split_rows(texts, DatasetSettings(train_test_split=0.8, shuffle_seed=7)) == (train, held)
    assert split_rows(texts, DatasetSettings(train_test_split=1, shuffle_dataset=False)) == (texts, [])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "train.jsonl").write_text('{"text": "a"}\n')
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_are_downloaded_under_their_own_names(served: str, tmp_path: Path) -> None:
    (path,) = download([f"{served}/train.jsonl?download=true"], tmp_path / "data")
    assert path == tmp_path / "data" / "train.jsonl"
    assert read_rows(path, "jsonl") == [{"text": "a"}]
    with pytest.raises(DataError, match="could not download data URL"):
        download([f"{served}/missing.parquet"], tmp_path / "data")
    with pytest.raises(DataError, match="is not http"):
        download(["file:///etc/passwd"], tmp_path / "data")
