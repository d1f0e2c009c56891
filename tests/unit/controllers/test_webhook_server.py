"""The `/convert` answer: every object converted, or the failure in the review's result."""

from __future__ import annotations

import pytest

from kaito.controllers.webhook_server import conversion_response

SEED = {
    "apiVersion": "kaito.sh/v1alpha1",
    "kind": "Workspace",
    "metadata": {"name": "ws"},
    "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
    "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
}


def test_conversion_review_converts_every_object_with_the_uid() -> None:
    review = {"request": {"uid": "u", "desiredAPIVersion": "kaito.sh/v1beta1", "objects": [SEED, SEED]}}
    answer = conversion_response(review)
    assert (answer["apiVersion"], answer["kind"]) == ("apiextensions.k8s.io/v1", "ConversionReview")
    response = answer["response"]
    assert (response["uid"], response["result"]) == ("u", {"status": "Success"})
    assert [o["apiVersion"] for o in response["convertedObjects"]] == ["kaito.sh/v1beta1"] * 2


def test_a_failed_conversion_is_reported_in_the_result() -> None:
    review = {"request": {"uid": "u", "desiredAPIVersion": "kaito.sh/v9", "objects": [SEED]}}
    response = conversion_response(review)["response"]
    assert response["result"]["status"] == "Failure"
    assert response["result"]["message"].startswith("desiredAPIVersion: 'kaito.sh/v9' is not served")
    with pytest.raises(ValueError, match="a ConversionReview needs a request"):
        conversion_response({})
