"""`kaito up`: manifests, argument checks, and the README's command end to end on the embedded cluster."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest

from kaito import ctrl
from kaito.cli import build_parser
from kaito.cli.up import UpOptions, default_data_dir, load_manifests, up

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
INVALID = Path(__file__).resolve().parents[2] / "data" / "invalid"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot read the file"),
        ("a: [", "not valid YAML"),
        ("- 1\n", "document 1 is not a Kubernetes object"),
        ("", "holds no object"),
    ],
)
def test_load_manifests_refuses_with_the_reason(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "ws.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_manifests(path)


def test_load_manifests_reads_every_document(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\n"
    )
    assert [o["kind"] for o in load_manifests(path)] == ["ConfigMap", "Secret"]


@pytest.mark.parametrize(
    ("argv", "message"), [(("--port", "-1"), "--port is -1"), (("--timeout", "0"), "--timeout is 0")]
)
def test_bad_arguments_exit_2(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["up", *argv])
    assert args.func(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [("/srv/data", Path("/srv/data/kaito-py")), ("", None), ("relative/dir", None)],
)
def test_kaito_up_keeps_its_cluster_in_the_users_data_dir_by_default(
    monkeypatch: pytest.MonkeyPatch, xdg: str, expected: Path | None
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", xdg)  # a relative XDG_DATA_HOME is ignored, as the spec says
    assert default_data_dir() == (expected or Path.home() / ".local" / "share" / "kaito-py")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [((), "default"), (("--data-dir", "/d"), Path("/d")), (("--in-memory",), None)],
)
def test_kaito_up_data_dir_options(argv: tuple[str, ...], expected: object) -> None:
    args = build_parser().parse_args(["up", *argv])
    assert args.in_memory is (expected is None)
    assert args.data_dir == (expected if isinstance(expected, Path) else None)


@pytest.mark.integration
async def test_up_applies_the_phi3_sample_prints_each_phase_and_exits_when_ready(tmp_path: Path) -> None:
    out = io.StringIO()
    options = UpOptions(
        apply=SAMPLES / "workspace-phi-3-mini.yaml",
        exit_when_ready=True,
        kubeconfig_out=tmp_path / "kubeconfig",
        health_port=None,
    )
    started = time.monotonic()
    code = await up(options, out, asyncio.Event())
    elapsed = time.monotonic() - started
    text = out.getvalue()
    assert code == 0, text
    assert elapsed < 30, text
    assert f"export KUBECONFIG={tmp_path / 'kubeconfig'}" in text
    for phase in (
        "validated",
        "planned 1 node(s) of Standard_NC6s_v3",
        "machines launched",
        "nodes ready",
        "workload created",
        "inference ready",
        "Workspace default/workspace-phi-3-mini is Ready",
    ):
        assert phase in text, text
    assert (tmp_path / "kubeconfig").exists()


@pytest.mark.integration
async def test_up_exits_1_with_the_reason_when_the_workspace_fails(tmp_path: Path) -> None:
    invalid = INVALID / "controller" / "unknown-inference-preset.yaml"
    out = io.StringIO()
    options = UpOptions(apply=invalid, exit_when_ready=True, kubeconfig_out=tmp_path / "kc", health_port=None)
    assert await up(options, out, asyncio.Event()) == 1
    text = out.getvalue()
    assert 'admission webhook "validation.workspace.kaito.sh" denied the request' in text  # refused at apply
    assert (
        'inference.preset.name: Invalid value: "no-such-model-7b" is not a supported inference preset' in text
    )


@pytest.mark.integration
async def test_up_without_exit_when_ready_serves_until_stopped(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    options = UpOptions(kubeconfig_out=tmp_path / "kc", health_port=None)
    running = asyncio.create_task(up(options, out, stop))
    while "press Ctrl-C" not in out.getvalue():
        assert not running.done(), out.getvalue()
        await asyncio.sleep(0.05)
    stop.set()
    assert await running == 0


def test_serve_sizes_the_stand_in_model_for_the_longest_applied_context() -> None:
    from kaito.cli.up import _context_needed

    def workspace(preset: str) -> dict[str, object]:
        return {"kind": "Workspace", "inference": {"preset": {"name": preset}}}

    assert _context_needed([]) == 4096
    assert _context_needed([workspace("phi-3-mini-4k-instruct")]) == 4096
    assert (
        _context_needed([workspace("phi-3-mini-4k-instruct"), workspace("phi-3-mini-128k-instruct")])
        == 131072
    )
    assert _context_needed([workspace("no-such-preset")]) == 4096  # the operator reports the unknown preset
    assert build_parser().parse_args(["up", "--serve"]).serve is True


@pytest.mark.integration
async def test_up_serves_the_seed_v1alpha1_workspace_with_its_webhooks(tmp_path: Path) -> None:
    """KAITO's quick start on `kaito up`: the seed's v1alpha1 Workspace, verbatim, becomes Ready and reads
    back in both versions; an instanceType change is refused by the admission webhook."""
    out = io.StringIO()
    stop = asyncio.Event()
    kubeconfig = tmp_path / "kc"
    options = UpOptions(
        apply=SAMPLES / "seed" / "workspace-phi-3-mini.yaml", kubeconfig_out=kubeconfig, health_port=None
    )
    running = asyncio.create_task(up(options, out, stop))
    try:
        deadline = time.monotonic() + 60
        while "workspace-phi-3-mini is Ready" not in out.getvalue():
            assert not running.done() and time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.05)
        async with await ctrl.Client.from_kubeconfig(str(kubeconfig), field_manager="test") as client:
            name = "workspace-phi-3-mini"
            alpha = await client.get(("kaito.sh/v1alpha1", "Workspace"), name, "default")
            beta = await client.get(("kaito.sh/v1beta1", "Workspace"), name, "default")
            assert (alpha["apiVersion"], beta["apiVersion"]) == ("kaito.sh/v1alpha1", "kaito.sh/v1beta1")
            succeeded = [c for c in alpha["status"]["conditions"] if c["type"] == "WorkspaceSucceeded"]
            assert succeeded[0]["status"] == "True"
            with pytest.raises(ctrl.ApiError, match=r"resource\.instanceType: Forbidden: field is immutable"):
                await client.patch(
                    ("kaito.sh/v1alpha1", "Workspace"),
                    name,
                    {"resource": {"instanceType": "Standard_NC12s_v3"}},
                    namespace="default",
                )
    finally:
        stop.set()
        assert await running == 0, out.getvalue()
    assert "webhooks: /validate-workspace and /convert on https://127.0.0.1:" in out.getvalue()


def test_followed_machines_are_indexed_by_their_workspace_and_move_with_their_labels() -> None:
    from kaito.api import API_VERSION, KIND_MACHINE, LABEL_WORKSPACE, LABEL_WORKSPACE_NAMESPACE
    from kaito.cli.up import _Followed, _machine_owner

    def machine(name: str, workspace: str) -> dict[str, object]:
        labels = {LABEL_WORKSPACE: workspace, LABEL_WORKSPACE_NAMESPACE: "default"}
        return {"metadata": {"name": name, "namespace": "kaito", "labels": labels}}

    followed = _Followed((API_VERSION, KIND_MACHINE), _machine_owner)
    assert followed.put(machine("m1", "a")) == ("default", "a")
    followed.put(machine("m2", "a"))
    assert set(followed.by_owner[("default", "a")]) == {("kaito", "m1"), ("kaito", "m2")}
    # relabelled: the change concerns the Workspace it left, and it is found under the new one
    assert followed.discard(machine("m2", "b")) == ("default", "a")
    assert followed.put(machine("m2", "b")) == ("default", "b")
    assert set(followed.by_owner[("default", "a")]) == {("kaito", "m1")}
    assert set(followed.by_owner[("default", "b")]) == {("kaito", "m2")}
    followed.discard(machine("m1", "a"))
    assert not followed.by_owner[("default", "a")] and ("kaito", "m1") not in followed.objects
