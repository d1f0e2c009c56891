"""JSON in and out of the API server, at the cost a cluster of a thousand Workspaces can afford.

Two costs showed up when the operator drove a thousand Workspaces through the simulator:

- every answer and every watch event is one JSON encoding of an object; :func:`dumps` encodes with orjson
  (several times faster than ``json.dumps``) into the same compact form (``separators=(",", ":")``). What
  orjson refuses (an integer wider than 64 bits, a key that is not a string) falls back to ``json.dumps``, so
  nothing that encoded before fails now. Non-ASCII text goes out as UTF-8 rather than ``\\u`` escapes: the
  same JSON to every decoder, and what kube-apiserver sends. Decoding stays with ``json.loads``, which keeps
  wide integers exact (orjson would turn them into floats).
- server-side apply bodies are ``application/apply-patch+yaml``, but every client in this repository (and
  kubectl) sends JSON, which PyYAML parses about fifty times slower than ``json``. :func:`load_yaml` reads
  a body that is valid JSON with ``json`` and anything else with ``yaml.safe_load``. JSON is YAML, and kube
  reads both into the same JSON, so the answer only differs where PyYAML's YAML 1.1 differs from kube's
  reader: ``1e3`` is a number to JSON and to kube, a string to PyYAML. JSON's ``NaN``/``Infinity`` are not
  JSON; such a body goes to YAML, as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import yaml

__all__ = ["dumps", "load_yaml"]

_JSON_START = frozenset("{[")


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON (UTF-8 bytes)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a >64-bit integer, a non-string key
        return json.dumps(value, separators=(",", ":")).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_yaml(text: str) -> Any:
    """A YAML document (``yaml.safe_load``), read with ``json`` when it is a JSON object or array."""
    if text.lstrip()[:1] in _JSON_START:
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError:
            pass  # YAML's flow style or a JSON error: PyYAML decides, and words any error
    return yaml.safe_load(text)
