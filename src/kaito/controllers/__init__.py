"""kaito.controllers: the operator's reconcilers, built on kaito.ctrl, kaito.runtimes and kaito.provisioners.

Modules, one job each:

* machine, machine_status       the Machine reconciler (a GPU node through a provisioner) and its pure status
* workspace                     the Workspace reconciler: nodes, then the workload or Job, then the status
* workspace_plan                preset, GPU shape and node count of a Workspace (pure)
* workspace_machines            which Machines to create and which may go, new before old (pure)
* workspace_workload            the owned, hashed inference objects and their readiness (pure)
* tuning                        the fine-tuning Job and its outcome (pure)
* tuning_config                 KAITO's training config: the defaults per method, output_dir (pure)
* workspace_status              the next status and the Events its changes tell (pure)
* workspace_progress            the phases `kaito up` prints (pure)
* workspace_metrics             phase-duration histograms and Workspaces by state
* own_writes                    read your own writes: our last written copy while the cache lags it
* orphans                       the sweep deleting pools/NodeClaims whose Machine is gone
* model_hub                     reads a Hugging Face model's config.json and weight size, builds its preset
* webhook_review                what the admission webhook answers: create checks, KAITO's update rules (pure)
* webhook_certs                 the webhook's CA and serving certificate, minted and checked (pure)
* webhook_manifests             the webhook's Service and ValidatingWebhookConfiguration; install_webhooks
* webhook_server                /validate-workspace and /convert over TLS; the Secret and caBundles it keeps
* operator                      one Manager with both controllers and the sweep, from an OperatorConfig

Every public name of every module is re-exported here.
"""

from kaito.controllers.inferenceset import *  # noqa: F403
from kaito.controllers.inferenceset import __all__ as _inferenceset_all
from kaito.controllers.inferenceset_plan import *  # noqa: F403
from kaito.controllers.inferenceset_plan import __all__ as _inferenceset_plan_all
from kaito.controllers.machine import *  # noqa: F403
from kaito.controllers.machine import __all__ as _machine_all
from kaito.controllers.machine_status import *  # noqa: F403
from kaito.controllers.machine_status import __all__ as _machine_status_all
from kaito.controllers.model_hub import *  # noqa: F403
from kaito.controllers.model_hub import __all__ as _model_hub_all
from kaito.controllers.multirole import *  # noqa: F403
from kaito.controllers.multirole import __all__ as _multirole_all
from kaito.controllers.multirole_plan import *  # noqa: F403
from kaito.controllers.multirole_plan import __all__ as _multirole_plan_all
from kaito.controllers.operator import *  # noqa: F403
from kaito.controllers.operator import __all__ as _operator_all
from kaito.controllers.orphans import *  # noqa: F403
from kaito.controllers.orphans import __all__ as _orphans_all
from kaito.controllers.own_writes import *  # noqa: F403
from kaito.controllers.own_writes import __all__ as _own_writes_all
from kaito.controllers.tuning import *  # noqa: F403
from kaito.controllers.tuning import __all__ as _tuning_all
from kaito.controllers.tuning_config import *  # noqa: F403
from kaito.controllers.tuning_config import __all__ as _tuning_config_all
from kaito.controllers.webhook_certs import *  # noqa: F403
from kaito.controllers.webhook_certs import __all__ as _webhook_certs_all
from kaito.controllers.webhook_manifests import *  # noqa: F403
from kaito.controllers.webhook_manifests import __all__ as _webhook_manifests_all
from kaito.controllers.webhook_review import *  # noqa: F403
from kaito.controllers.webhook_review import __all__ as _webhook_review_all
from kaito.controllers.webhook_server import *  # noqa: F403
from kaito.controllers.webhook_server import __all__ as _webhook_server_all
from kaito.controllers.workspace import *  # noqa: F403
from kaito.controllers.workspace import __all__ as _workspace_all
from kaito.controllers.workspace_machines import *  # noqa: F403
from kaito.controllers.workspace_machines import __all__ as _workspace_machines_all
from kaito.controllers.workspace_metrics import *  # noqa: F403
from kaito.controllers.workspace_metrics import __all__ as _workspace_metrics_all
from kaito.controllers.workspace_plan import *  # noqa: F403
from kaito.controllers.workspace_plan import __all__ as _workspace_plan_all
from kaito.controllers.workspace_progress import *  # noqa: F403
from kaito.controllers.workspace_progress import __all__ as _workspace_progress_all
from kaito.controllers.workspace_status import *  # noqa: F403
from kaito.controllers.workspace_status import __all__ as _workspace_status_all
from kaito.controllers.workspace_workload import *  # noqa: F403
from kaito.controllers.workspace_workload import __all__ as _workspace_workload_all

__all__ = sorted(
    {
        *_inferenceset_all,
        *_inferenceset_plan_all,
        *_machine_all,
        *_machine_status_all,
        *_model_hub_all,
        *_multirole_all,
        *_multirole_plan_all,
        *_operator_all,
        *_orphans_all,
        *_own_writes_all,
        *_tuning_all,
        *_tuning_config_all,
        *_webhook_certs_all,
        *_webhook_manifests_all,
        *_webhook_review_all,
        *_webhook_server_all,
        *_workspace_all,
        *_workspace_machines_all,
        *_workspace_metrics_all,
        *_workspace_plan_all,
        *_workspace_progress_all,
        *_workspace_status_all,
        *_workspace_workload_all,
    }
)
