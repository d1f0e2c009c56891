"""Label selectors match as the API server's do; unreadable ones are refused with the requirement named."""

from __future__ import annotations

import pytest

from kaito.ctrl.selectors import parse_label_selector

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("env in (prod, staging)", True),
        ("env notin (prod)", False),
        ("app=web,tier in (front,back),!legacy", True),
        ("app=web,tier=back", False),
    ],
)
def test_selectors_match_as_kubernetes_does(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


def test_a_mapping_is_match_labels() -> None:
    assert parse_label_selector({"app": "web"}).matches(LABELS)
    assert not parse_label_selector({"app": "web", "x": "y"}).matches(LABELS)
    assert parse_label_selector(None).matches(None)


def test_an_unreadable_requirement_is_named() -> None:
    with pytest.raises(ValueError, match=r"requirement 'app=\(web' is not understood"):
        parse_label_selector("tier=front,app=(web")
