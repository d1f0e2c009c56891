"""String formats: what image references, strengths, names and URLs are accepted."""

from __future__ import annotations

import pytest

from kaito.api.formats import (
    data_url_problem,
    dns_label_problem,
    dns_subdomain_problem,
    image_reference_problem,
    is_image_reference,
    is_strength,
)

GOOD_IMAGES = [
    "nginx",
    "nginx:1.27",
    "library/nginx",
    "mcr.microsoft.com/aks/kaito/kaito-base:0.1.0",
    "localhost:5000/team/model",
    "MyRegistry.azurecr.io/adapters/phi-3-adapter:0.0.1",
    "registry.io/a/b__c/d-e.f:Tag_1.2-rc",
    "registry.io/model@sha256:" + "a" * 64,
    "registry.io/model:1@sha256:" + "0" * 64,
]
BAD_IMAGES = [
    ("", "form"),
    ("phi 3", "form"),
    ("registry.io//model", "form"),
    ("registry.io/model:", "form"),
    ("registry.io/model@sha256:abc", "form"),
    ("-model", "form"),
    ("registry.io/Model:1", "lowercase"),
    ("registry.io/" + "a" * 250 + ":1", "more than 255"),
]


@pytest.mark.parametrize("image", GOOD_IMAGES)
def test_well_formed_images_are_accepted(image: str) -> None:
    assert image_reference_problem(image) is None
    assert is_image_reference(image)


@pytest.mark.parametrize(("image", "why"), BAD_IMAGES)
def test_malformed_images_say_why(image: str, why: str) -> None:
    problem = image_reference_problem(image)
    assert problem is not None and why in problem
    assert not is_image_reference(image)


@pytest.mark.parametrize("value", ["0", "1", "0.5", "1.0", "1.000", ".25", "0.", "00.75", "01"])
def test_strengths_between_zero_and_one(value: str) -> None:
    assert is_strength(value)


@pytest.mark.parametrize("value", ["", ".", "1.5", "2", "-0.5", "+0.5", "1e-1", "abc", " 0.5", "1.01", "0,5"])
def test_strengths_outside_or_not_numbers(value: str) -> None:
    assert not is_strength(value)


@pytest.mark.parametrize(
    ("value", "label_ok", "subdomain_ok"),
    [
        ("phi-3-mini", True, True),
        ("a", True, True),
        ("phi.3.mini", False, True),
        ("Phi", False, False),
        ("-phi", False, False),
        ("phi_3", False, False),
        ("a" * 64, False, True),
        ("a" * 254, False, False),
    ],
)
def test_dns_names(value: str, label_ok: bool, subdomain_ok: bool) -> None:
    assert (dns_label_problem(value) is None) is label_ok
    assert (dns_subdomain_problem(value) is None) is subdomain_ok


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://huggingface.co/datasets/x/resolve/main/a.parquet?download=true", None),
        ("http://8.8.8.8/data.json", None),
        ("ftp://example.com/data", "http or https"),
        ("https:///path-only", "no host"),
        ("http://localhost:8080/x", "local"),
        ("http://api.localhost/x", "local"),
        ("http://metadata.google.internal/computeMetadata", "metadata"),
        ("http://127.0.0.1/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://169.254.169.254/metadata", "link-local"),
        ("http://[::1]/x", "loopback"),
        ("http://[bad/x", "not a URL"),
    ],
)
def test_data_urls_must_be_public_http(url: str, why: str | None) -> None:
    problem = data_url_problem(url)
    if why is None:
        assert problem is None
    else:
        assert problem is not None and why in problem
