"""kaito.api: the typed API of kaito-py, the Workspace and Machine kinds (kaito.sh/v1beta1).

Modules, lowest first (each imports only those above it):

- `names`: group, version, kinds, condition types, labels and finalizers, spelt as KAITO spells them.
- `base`: `ApiModel` (camelCase wire, snake_case Python, strict, unknown fields refused) and `Time`.
- `meta`: ObjectMeta, OwnerReference, ListMeta, LabelSelector.
- `conditions`: metav1.Condition and the set/find/remove helpers.
- `formats`: image references, DNS names, adapter strengths, data URLs.
- `rules`: the CEL rules the CRDs carry, with their messages.
- `errors`: FieldError and InvalidObjectError; parsing with field-named errors.
- `partition`: GPU partitions (MIG profiles, whole-GPU accelerator counts) a Workspace may ask for.
- `workspace`, `machine`: the two kinds.
- `validation`: `validate()`, what the controller checks before acting on a Workspace.
- `v1alpha1`: the Workspace as KAITO first served it (served, converted, never stored).
- `conversion`: v1alpha1 <-> v1beta1, lossless both ways (the `/convert` webhook's logic).
- `crd`: CustomResourceDefinitions generated from the models.

Every public name of every module is re-exported here (each written once, in its module's `__all__`).
This package imports nothing from the rest of kaito: runtimes, provisioners and controllers build on it.
"""

from __future__ import annotations

from kaito.api.base import *  # noqa: F403
from kaito.api.base import __all__ as _base_all
from kaito.api.conditions import *  # noqa: F403
from kaito.api.conditions import __all__ as _conditions_all
from kaito.api.conversion import *  # noqa: F403
from kaito.api.conversion import __all__ as _conversion_all
from kaito.api.crd import *  # noqa: F403
from kaito.api.crd import __all__ as _crd_all
from kaito.api.errors import *  # noqa: F403
from kaito.api.errors import __all__ as _errors_all
from kaito.api.formats import *  # noqa: F403
from kaito.api.formats import __all__ as _formats_all
from kaito.api.machine import *  # noqa: F403
from kaito.api.machine import __all__ as _machine_all
from kaito.api.meta import *  # noqa: F403
from kaito.api.meta import __all__ as _meta_all
from kaito.api.names import *  # noqa: F403
from kaito.api.names import __all__ as _names_all
from kaito.api.partition import *  # noqa: F403
from kaito.api.partition import __all__ as _partition_all
from kaito.api.rules import *  # noqa: F403
from kaito.api.rules import __all__ as _rules_all
from kaito.api.v1alpha1 import *  # noqa: F403
from kaito.api.v1alpha1 import __all__ as _v1alpha1_all
from kaito.api.validation import *  # noqa: F403
from kaito.api.validation import __all__ as _validation_all
from kaito.api.workspace import *  # noqa: F403
from kaito.api.workspace import __all__ as _workspace_all

__all__ = sorted(
    {
        *_base_all,
        *_conditions_all,
        *_conversion_all,
        *_crd_all,
        *_errors_all,
        *_formats_all,
        *_machine_all,
        *_meta_all,
        *_names_all,
        *_partition_all,
        *_rules_all,
        *_v1alpha1_all,
        *_validation_all,
        *_workspace_all,
    }
)
