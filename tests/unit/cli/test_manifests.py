"""`kaito manifests crds`: writes the checked-in CRDs, prints them with --stdout, fails clearly."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from kaito.api.crd import all_crds, crd_filename
from kaito.cli import manifests

CRD_DIR = Path(__file__).parents[3] / "manifests" / "crd"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kaito")
    manifests.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_crds_writes_one_file_per_crd_equal_to_the_checked_in_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "crd"
    assert run(["manifests", "crds", "--output-dir", str(target)]) == 0
    written = sorted(p.name for p in target.iterdir())
    assert written == sorted(crd_filename(crd) for crd in all_crds())
    for name in written:
        assert (target / name).read_text() == (CRD_DIR / name).read_text()
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {target / name}" for name in map(crd_filename, all_crds())
    ]


def test_default_output_dir_is_manifests_crd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["manifests", "crds"]) == 0
    assert {p.name for p in (tmp_path / "manifests" / "crd").iterdir()} == {
        crd_filename(c) for c in all_crds()
    }


def test_stdout_prints_every_crd_as_one_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["manifests", "crds", "--stdout"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents == all_crds()


def test_unwritable_output_dir_fails_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert run(["manifests", "crds", "--output-dir", str(blocker)]) == 1
    assert f"cannot write to {blocker}" in capsys.readouterr().err


def test_manifests_without_a_subcommand_prints_the_install(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["manifests"]) == 0
    kinds = [doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out) if doc]
    assert kinds.count("CustomResourceDefinition") == len(all_crds())
    assert {"ClusterRole", "Deployment"} <= set(kinds)


def test_stdout_and_output_dir_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        run(["manifests", "crds", "--stdout", "--output-dir", "x"])
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
