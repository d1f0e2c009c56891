"""String formats the API accepts: image references, DNS names, adapter strengths, data-source URLs, and
Hugging Face model ids.

Each format is one regular expression used in two places that must agree: `validate()` (Python `re`) and the
CRD's `x-kubernetes-validations` rules (CEL `matches`, RE2). The expressions are therefore written in the
common subset of both dialects and without backslashes (`[.]` instead of an escaped dot), so they can be
pasted into a CEL string literal unchanged.

The image grammar is distribution/reference's (what `docker pull` and KAITO's webhook accept):
`[domain[:port]/]path[:tag][@digest]`, where path components are lowercase. Registries given by a bracketed
IPv6 address are not accepted (the grammar for them needs escaped brackets). A strength is a plain decimal
between 0 and 1 inclusive ("0.5", "1", ".25"); exponents and signs are refused so that the CRD rule and the
Python check accept exactly the same strings.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "DNS_LABEL_PATTERN",
    "DNS_SUBDOMAIN_PATTERN",
    "HF_MODEL_ID_PATTERN",
    "IMAGE_REFERENCE_PATTERN",
    "STRENGTH_PATTERN",
    "data_url_problem",
    "dns_label_problem",
    "dns_subdomain_problem",
    "image_reference_problem",
    "is_hf_model_id",
    "is_image_reference",
    "is_strength",
]

_ALPHANUMERIC = "[a-z0-9]+"
_SEPARATOR = "(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = f"{_DOMAIN_COMPONENT}(?:[.]{_DOMAIN_COMPONENT})*"
_DOMAIN = f"{_HOST}(?::[0-9]+)?"
_NAME = f"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

IMAGE_REFERENCE_PATTERN: Final = f"^{_NAME}(?::{_TAG})?(?:@{_DIGEST})?$"
STRENGTH_PATTERN: Final = "^(0*1([.]0*)?|0*[.][0-9]+|0+([.][0-9]*)?)$"
DNS_LABEL_PATTERN: Final = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN: Final = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A Hugging Face repository id, `org/model` (KAITO accepts one as preset.name and sizes it from the hub).
HF_MODEL_ID_PATTERN: Final = "^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"

_IMAGE_RE = re.compile(IMAGE_REFERENCE_PATTERN)
_HF_MODEL_ID_RE = re.compile(HF_MODEL_ID_PATTERN)
_STRENGTH_RE = re.compile(STRENGTH_PATTERN)
_DNS_LABEL_RE = re.compile(DNS_LABEL_PATTERN)
_DNS_SUBDOMAIN_RE = re.compile(DNS_SUBDOMAIN_PATTERN)
_MAX_IMAGE_NAME = 255
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.google", "instance-data.ec2.internal"})


def is_image_reference(value: str) -> bool:
    """Whether `value` is a well-formed image reference."""
    return image_reference_problem(value) is None


def image_reference_problem(value: str) -> str | None:
    """Why `value` is not a well-formed image reference, or None when it is."""
    if not _IMAGE_RE.match(value):
        if _IMAGE_RE.match(value.lower()):
            return "repository names must be lowercase"
        return "it does not have the form [registry/]repository[:tag][@digest]"
    name = value.split("@", 1)[0]
    last_slash = name.rfind("/")
    if ":" in name[last_slash + 1 :]:
        name = name[: name.rfind(":")]
    if len(name) > _MAX_IMAGE_NAME:
        return f"the repository name is {len(name)} characters long, more than {_MAX_IMAGE_NAME}"
    return None


def is_hf_model_id(value: str) -> bool:
    """`org/model`, as the Hugging Face hub spells a model repository."""
    return bool(_HF_MODEL_ID_RE.match(value))


def is_strength(value: str) -> bool:
    """Whether `value` is a decimal number between 0 and 1 inclusive."""
    return bool(_STRENGTH_RE.match(value))


def dns_label_problem(value: str) -> str | None:
    """Why `value` is not an RFC 1123 label (what Kubernetes requires of most names), or None."""
    if len(value) > 63:
        return f"it is {len(value)} characters long, more than 63"
    if not _DNS_LABEL_RE.match(value):
        return "it must be lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns_subdomain_problem(value: str) -> str | None:
    """Why `value` is not an RFC 1123 subdomain (labels joined by '.'), or None."""
    if len(value) > 253:
        return f"it is {len(value)} characters long, more than 253"
    if not _DNS_SUBDOMAIN_RE.match(value):
        return "it must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    return None


def data_url_problem(value: str) -> str | None:
    """Why `value` is not an acceptable public data-source URL (http or https, not a local, private,
    link-local or cloud-metadata address, as KAITO's webhook requires), or None."""
    try:
        parts = urlsplit(value)
        hostname = (parts.hostname or "").lower()
    except ValueError:
        return "it is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "it must use http or https"
    if not hostname:
        return "it has no host"
    if hostname == "localhost" or hostname.endswith(".localhost") or hostname in _METADATA_HOSTS:
        return "it must not point at a local or cloud-metadata endpoint"
    try:
        address = ipaddress.ip_address(hostname.split("%", 1)[0])
    except ValueError:
        return None
    if address.is_loopback or address.is_private or address.is_link_local or address.is_multicast:
        return "it must not point at a loopback, private or link-local address"
    return None
