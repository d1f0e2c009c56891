"""The sentence a Service gets when its ClusterIP cannot be bound on this machine."""

from __future__ import annotations

import errno

from kaito.sim.workloads.cluster_ips import unreachable_message

SERVICE = {"metadata": {"name": "workspace-phi-3-mini", "namespace": "default"}}


def test_a_privileged_port_names_the_cause_and_the_way_around() -> None:
    message = unreachable_message(
        SERVICE, "127.251.3.2", 80, PermissionError(errno.EACCES, "Permission denied")
    )
    assert message.startswith(
        "cannot listen on ClusterIP 127.251.3.2:80 of Service default/workspace-phi-3-mini: Permission denied"
    )
    assert "net.ipv4.ip_unprivileged_port_start <= 80" in message
    assert "/api/v1/namespaces/default/services/workspace-phi-3-mini:80/proxy/" in message


def test_a_high_port_has_no_privilege_hint() -> None:
    message = unreachable_message(SERVICE, "127.251.3.2", 29500, OSError(errno.EADDRINUSE, "Address in use"))
    assert "Address in use; reach the Service" in message and "root" not in message
