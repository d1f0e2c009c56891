"""The shared names: spelt as KAITO spells them, and consistent with each other."""

from __future__ import annotations

from kaito.api import names


def test_api_version_is_group_and_version() -> None:
    assert names.API_VERSION == f"{names.API_GROUP}/{names.VERSION}" == "kaito.sh/v1beta1"


def test_workspace_condition_types_are_kaitos() -> None:
    assert set(names.WORKSPACE_CONDITION_TYPES) >= {
        "ResourceReady",
        "InferenceReady",
        "JobStarted",
        "WorkspaceSucceeded",
    }


def test_machine_conditions_follow_karpenters_order() -> None:
    assert names.MACHINE_CONDITION_TYPES == ("Launched", "Registered", "Initialized", "Ready")


def test_labels_and_finalizers_live_in_the_kaito_group() -> None:
    keys = [
        names.LABEL_WORKSPACE,
        names.LABEL_WORKSPACE_NAMESPACE,
        names.LABEL_MACHINE,
        names.FINALIZER_WORKSPACE_CLEANUP,
        names.FINALIZER_MACHINE_CLEANUP,
    ]
    assert all(key.startswith(f"{names.API_GROUP}/") for key in keys)
    assert names.LABEL_WORKSPACE == "kaito.sh/workspace"
    assert names.LABEL_WORKSPACE_NAMESPACE == "kaito.sh/workspacenamespace"
