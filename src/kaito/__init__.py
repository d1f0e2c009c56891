"""kaito-py: serve large language models on Kubernetes.

Packages, imported one way (`api` <- `runtimes` <- `provisioners` <- `controllers` <- `cli`):

- `kaito.api`: typed models of the Workspace and Machine kinds, validation, CRD generation.
- `kaito.runtimes`: presets, GPU SKUs, sizing and the vLLM workload (pure functions).
- `kaito.provisioners`: where GPU nodes come from (AKS, Karpenter, bring-your-own).
- `kaito.controllers`: the Workspace and Machine reconcilers.
- `kaito.ctrl`: the reusable reconcile library (knows nothing of Kaito).
- `kaito.sim`: an embedded Kubernetes API server, node simulator and AKS endpoint (knows nothing of the
  operator).
- `kaito.tune`: the trainer a tuning Job runs (`python -m kaito.tune`; imports nothing else of kaito-py).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
