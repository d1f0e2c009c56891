"""Heavy dependencies load only when they are used: importing kaito.ctrl, the controllers or the `plan` verb
leaves the simulator, aiohttp, kubernetes-asyncio and the Azure SDK unloaded (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("kaito.sim", "aiohttp", "kubernetes_asyncio", "azure", "tenacity")

PLAN = """
import contextlib, io
from kaito.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["plan", "--preset", "phi-3-mini-4k-instruct", "--instance-type", "Standard_NC6s_v3"])
assert code == 0, code
"""


def loaded_after(code: str) -> list[str]:
    """The heavy top-level packages present in sys.modules after running `code` in a new interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    present = json.loads(out.splitlines()[-1])
    return sorted(name for name in HEAVY if any(m == name or m.startswith(f"{name}.") for m in present))


@pytest.mark.parametrize(
    ("what", "code"),
    [
        ("import kaito.ctrl", "import kaito.ctrl"),
        ("import kaito.controllers", "import kaito.controllers"),
        ("import kaito.provisioners", "import kaito.provisioners"),
        ("kaito plan", PLAN),
    ],
)
def test_heavy_modules_stay_unloaded(what: str, code: str) -> None:
    assert loaded_after(code) == [], f"{what} loaded heavy modules"


def test_they_load_when_used() -> None:
    code = (
        "from kaito.ctrl.transport import KubeTransport\nfrom kaito.provisioners.aks import build_agent_pool"
    )
    code += "\nfrom kaito.api.machine import Machine, MachineSpec\nfrom kaito.api.meta import ObjectMeta"
    code += "\nbuild_agent_pool(Machine(metadata=ObjectMeta(name='m'), spec=MachineSpec(instance_type='x')))"
    code += "\nimport asyncio, contextlib\nfrom kaito.ctrl.errors import ConfigError"
    code += "\nfrom kaito.ctrl.transport import load_configuration"
    code += (
        "\nwith contextlib.suppress(ConfigError):\n    asyncio.run(load_configuration('/no/such/kubeconfig'))"
    )
    assert loaded_after(code) == [
        "aiohttp",
        "azure",
        "kubernetes_asyncio",
    ]  # the guard above would notice a rename of what it watches


def test_importing_the_reconcile_library_loads_none_of_its_modules() -> None:
    prefixes = ("kaito.ctrl.", "pydantic", "asyncio", "ssl")
    probe = f"import kaito.ctrl, sys\nprint(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    probe = "import kaito.ctrl, sys\nkaito.ctrl.Request\nassert 'kaito.ctrl.reconcile' in sys.modules"
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_kaito_plan_leaves_the_api_models_unloaded() -> None:
    probe = PLAN + "\nimport sys\nassert 'kaito.api' not in sys.modules, 'kaito.api loaded'"
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_the_reconcile_library_defers_its_metrics_until_a_controller_is_made() -> None:
    present = loaded_after("import kaito.ctrl")
    assert present == []
    probe = (
        "import kaito.ctrl, sys\nassert 'prometheus_client' not in sys.modules, 'prometheus_client loaded'"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
