"""kaito.provisioners: where GPU nodes come from.

Modules, one job each:

* base             the async Provisioner contract, ObservedState/Phase, the error hierarchy, the registry
* aks_pool         pure AKS decisions: pool names, the AgentPool body, pool states and Azure error codes
* aks              the AKS provisioner (one agent pool per Machine, azure-mgmt-containerservice aio)
* _aks_transport   its HTTP transport, one TLS context for all requests (private: loads the Azure SDK)
* karpenter_claim  pure Karpenter decisions: the NodeClaim for a Machine, what its status means
* karpenter        the Karpenter provisioner (NodeClaims through kaito.ctrl's Client)
* byo              bring-your-own: existing Nodes selected by a Workspace, with their GPU shape

Every public name of every public module is re-exported here.
"""

from kaito.provisioners.aks import *  # noqa: F403
from kaito.provisioners.aks import __all__ as _aks_all
from kaito.provisioners.aks_pool import *  # noqa: F403
from kaito.provisioners.aks_pool import __all__ as _aks_pool_all
from kaito.provisioners.base import *  # noqa: F403
from kaito.provisioners.base import __all__ as _base_all
from kaito.provisioners.byo import *  # noqa: F403
from kaito.provisioners.byo import __all__ as _byo_all
from kaito.provisioners.karpenter import *  # noqa: F403
from kaito.provisioners.karpenter import __all__ as _karpenter_all
from kaito.provisioners.karpenter_claim import *  # noqa: F403
from kaito.provisioners.karpenter_claim import __all__ as _karpenter_claim_all

__all__ = sorted({*_aks_all, *_aks_pool_all, *_base_all, *_byo_all, *_karpenter_all, *_karpenter_claim_all})
