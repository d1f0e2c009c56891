"""The names kaito-py shares with KAITO and Kubernetes: API group, kinds, condition types, labels, finalizers.

Every string that another component (kubectl, a dashboard, a user's script, KAITO itself) may match on lives
here, spelled exactly as KAITO spells it, so existing users see the same columns, conditions and labels. Code
elsewhere imports these constants instead of repeating the literals.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ANNOTATION_BYPASS_RESOURCE_CHECKS",
    "ANNOTATION_ENABLE_LB",
    "ANNOTATION_NODE_IMAGE_FAMILY",
    "ANNOTATION_RUNTIME",
    "API_GROUP",
    "API_VERSION",
    "CONDITION_INFERENCE_READY",
    "CONDITION_JOB_STARTED",
    "CONDITION_NODE_CLAIM_READY",
    "CONDITION_RESOURCE_READY",
    "CONDITION_WORKSPACE_DELETING",
    "CONDITION_WORKSPACE_SUCCEEDED",
    "FINALIZER_MACHINE_CLEANUP",
    "FINALIZER_WORKSPACE_CLEANUP",
    "GPU_TAINT_EFFECT",
    "GPU_TAINT_KEY",
    "GPU_TAINT_VALUE",
    "KIND_MACHINE",
    "KIND_WORKSPACE",
    "LABEL_MACHINE",
    "LABEL_MACHINE_TYPE",
    "LABEL_WORKSPACE",
    "LABEL_WORKSPACE_NAMESPACE",
    "MACHINE_CONDITION_INITIALIZED",
    "MACHINE_CONDITION_LAUNCHED",
    "MACHINE_CONDITION_READY",
    "MACHINE_CONDITION_REGISTERED",
    "MACHINE_CONDITION_TYPES",
    "NODE_IMAGE_FAMILIES",
    "OPERATOR_NAMESPACE",
    "PLURAL_MACHINES",
    "PLURAL_WORKSPACES",
    "PROVISIONER_AKS",
    "PROVISIONER_KARPENTER",
    "REASON_AWAITING_RECONCILIATION",
    "STATE_FAILED",
    "STATE_NOT_READY",
    "STATE_PENDING",
    "STATE_READY",
    "STATE_RUNNING",
    "STATE_SUCCEEDED",
    "VERSION",
    "WEBHOOK_CERT_SECRET",
    "WEBHOOK_CONFIGURATION",
    "WEBHOOK_CONVERT_PATH",
    "WEBHOOK_SERVICE_NAME",
    "WEBHOOK_VALIDATE_PATH",
    "WORKSPACE_CONDITION_TYPES",
]

API_GROUP: Final = "kaito.sh"
VERSION: Final = "v1beta1"
API_VERSION: Final = "kaito.sh/v1beta1"  # f"{API_GROUP}/{VERSION}", spelt out so it types as a Literal

# The operator's webhooks (manifests/webhook): the Service the API server calls, the paths it serves, the
# ValidatingWebhookConfiguration (also the webhook's name) and the Secret holding its CA and serving cert.
OPERATOR_NAMESPACE: Final = "kaito-system"
WEBHOOK_SERVICE_NAME: Final = "kaito-webhook-service"
WEBHOOK_VALIDATE_PATH: Final = "/validate-workspace"
WEBHOOK_CONVERT_PATH: Final = "/convert"
WEBHOOK_CONFIGURATION: Final = "validation.workspace.kaito.sh"
WEBHOOK_CERT_SECRET: Final = "kaito-webhook-cert"
ANNOTATION_BYPASS_RESOURCE_CHECKS: Final = "kaito.sh/bypass-resource-checks"

KIND_WORKSPACE: Final = "Workspace"
KIND_MACHINE: Final = "Machine"
PLURAL_WORKSPACES: Final = "workspaces"
PLURAL_MACHINES: Final = "machines"

# Workspace condition types (KAITO's api/v1beta1/condition_types.go).
CONDITION_RESOURCE_READY: Final = "ResourceReady"
CONDITION_INFERENCE_READY: Final = "InferenceReady"
CONDITION_JOB_STARTED: Final = "JobStarted"
CONDITION_WORKSPACE_SUCCEEDED: Final = "WorkspaceSucceeded"
CONDITION_WORKSPACE_DELETING: Final = "WorkspaceDeleting"
CONDITION_NODE_CLAIM_READY: Final = "NodeClaimReady"
WORKSPACE_CONDITION_TYPES: Final = (
    CONDITION_RESOURCE_READY,
    CONDITION_INFERENCE_READY,
    CONDITION_JOB_STARTED,
    CONDITION_WORKSPACE_SUCCEEDED,
    CONDITION_WORKSPACE_DELETING,
    CONDITION_NODE_CLAIM_READY,
)

# Workspace `status.state` values (KAITO's WorkspaceState).
STATE_PENDING: Final = "Pending"
STATE_READY: Final = "Ready"
STATE_NOT_READY: Final = "NotReady"
STATE_RUNNING: Final = "Running"
STATE_SUCCEEDED: Final = "Succeeded"
STATE_FAILED: Final = "Failed"

# Machine condition types: Karpenter's NodeClaim vocabulary, in the order a node goes through them.
MACHINE_CONDITION_LAUNCHED: Final = "Launched"
MACHINE_CONDITION_REGISTERED: Final = "Registered"
MACHINE_CONDITION_INITIALIZED: Final = "Initialized"
MACHINE_CONDITION_READY: Final = "Ready"
MACHINE_CONDITION_TYPES: Final = (
    MACHINE_CONDITION_LAUNCHED,
    MACHINE_CONDITION_REGISTERED,
    MACHINE_CONDITION_INITIALIZED,
    MACHINE_CONDITION_READY,
)
# Karpenter's reason for a condition nobody has looked at yet (status Unknown).
REASON_AWAITING_RECONCILIATION: Final = "AwaitingReconciliation"

PROVISIONER_AKS: Final = "aks"
PROVISIONER_KARPENTER: Final = "karpenter"

# Labels that tie Machines and Nodes to the Workspace that asked for them (KAITO's keys).
LABEL_WORKSPACE: Final = "kaito.sh/workspace"
LABEL_WORKSPACE_NAMESPACE: Final = "kaito.sh/workspacenamespace"
LABEL_MACHINE: Final = "kaito.sh/machine"
LABEL_MACHINE_TYPE: Final = "kaito.sh/machine-type"

# The Workspace annotation that picks the serving runtime (KAITO's): "vllm" (default) or "transformers".
ANNOTATION_RUNTIME: Final = "kaito.sh/runtime"
# Workspace annotations KAITO reads: a LoadBalancer Service (value "True"), and the node image family of
# the nodes provisioned for it (ubuntu or azurelinux, any case).
ANNOTATION_ENABLE_LB: Final = "kaito.sh/enablelb"
ANNOTATION_NODE_IMAGE_FAMILY: Final = "kaito.sh/node-image-family"
NODE_IMAGE_FAMILIES: Final = ("azurelinux", "ubuntu")

FINALIZER_WORKSPACE_CLEANUP: Final = "kaito.sh/workspace-cleanup"
FINALIZER_MACHINE_CLEANUP: Final = "kaito.sh/machine-cleanup"

# The taint every provisioned GPU node carries (gpu-provisioner's and KAITO's NodeClaims): sku=gpu:NoSchedule.
GPU_TAINT_KEY: Final = "sku"
GPU_TAINT_VALUE: Final = "gpu"
GPU_TAINT_EFFECT: Final = "NoSchedule"
