"""kaito.sim.child: its config and handshake (bad input named), and the process: handshake, then a clean stop
when its lifeline (stdin) closes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kaito.sim.child import ChildConfig, Handshake


def test_the_config_goes_through_json_unchanged() -> None:
    config = ChildConfig(port=8443, kubeconfig_path="/k", karpenter=True, data_dir="/d", insecure=False)
    assert ChildConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"prot": 1}', "unknown field 'prot'"),
        ('{"port": 70000}', "port is 70000"),
        ('{"port": "80"}', "port is '80'"),
        ('{"karpenter": "yes"}', "karpenter is 'yes'"),
        ('{"data_dir": 3}', "data_dir is 3"),
        ('{"process_runtime": []}', "process_runtime must be an object"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChildConfig.from_json(text)


def test_a_handshake_missing_a_field_is_refused_naming_it() -> None:
    good = Handshake("u", "k", "a", "c", "s", "r", "n")
    assert Handshake.from_json(good.to_json()) == good
    broken = json.loads(good.to_json())
    del broken["arm_ca"]
    with pytest.raises(ValueError, match="arm_ca is None"):
        Handshake.from_json(json.dumps(broken))


@pytest.mark.integration
def test_the_child_hands_shakes_then_stops_cleanly_when_its_stdin_closes(tmp_path: Path) -> None:
    config = ChildConfig(kubeconfig_path=str(tmp_path / "kc"), data_dir=str(tmp_path / "data"))
    child = subprocess.Popen(
        [sys.executable, "-m", "kaito.sim.child", config.to_json()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdin is not None
        handshake = Handshake.from_json(child.stdout.readline())
        assert handshake.url.startswith("https://127.0.0.1:")
        assert handshake.kubeconfig == str(tmp_path / "kc") and Path(handshake.arm_ca).exists()
        child.stdin.close()  # the parent's word to stop (or its death)
        assert child.wait(30) == 0
        assert (tmp_path / "data" / "kaito-sim.db").exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_child_refuses_a_bad_config_on_stderr_with_exit_1() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kaito.sim.child", '{"port": -1}'],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "port is -1" in done.stderr and done.stdout == ""
