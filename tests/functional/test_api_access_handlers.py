"""What every API function shares: ownership (404, never 403), authentication, request ids."""

from __future__ import annotations

from typing import Any

import pytest

from shoebox import records
from tests.events import LambdaContext, load_event
from tests.functional.harness import TABLE, Api, Cloud

ROUTES = [
    ("create_upload", "apigw_create_upload"),
    ("list_images", "apigw_list_images"),
    ("get_image", "apigw_get_image"),
    ("get_content", "apigw_get_content"),
    ("delete_image", "apigw_delete_image"),
    ("create_share", "apigw_create_share"),
    ("list_shares", "apigw_list_shares"),
    ("delete_share", "apigw_delete_share"),
]
BY_ID = {"get_image", "get_content", "delete_image", "create_share", "list_shares"}
# No authorizer in front of these: the share token is the permission.
PUBLIC_ROUTES = [("view_share", "apigw_view_share"), ("get_shared_content", "apigw_get_shared_content")]


def test_someone_elses_image_is_404_everywhere(api: Api, cloud: Cloud) -> None:
    image_id = api.upload_slot(sub="alice")["id"]
    cloud.make_ready(image_id)

    replies = {
        "get": api.get(image_id, sub="bob"),
        "content": api.content(image_id, sub="bob"),
        "thumbnail": api.content(image_id, "256", sub="bob"),
        "delete": api.delete(image_id, sub="bob"),
    }

    for name, reply in replies.items():
        assert reply.status == 404, name
        assert reply.error["code"] == "NOT_FOUND", name
    # Exactly what a missing image gets: no existence leak in the body either.
    missing = api.get("AAAAAAAAAAAAAAAAAAAAAA", sub="bob")
    assert replies["get"].error["message"] == missing.error["message"]
    assert api.list(sub="bob").json["items"] == []
    assert api.get(image_id, sub="alice").status == 200


@pytest.mark.parametrize(("function", "event"), ROUTES)
def test_a_request_without_claims_is_401(api: Api, cloud: Cloud, function: str, event: str) -> None:
    # Only reachable if something bypassed the JWT authorizer: the function refuses too.
    image_id = api.upload_slot()["id"]

    path = {"id": image_id} if function in BY_ID else None
    reply = api.call(function, load_event(event, path=path, authenticated=False))

    assert reply.status == 401
    assert reply.error["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("claims", [{"sub": ""}, {"sub": None}, {"sub": 42}])
def test_a_blank_or_odd_subject_is_401(api: Api, cloud: Cloud, claims: dict[str, object]) -> None:
    event = load_event("apigw_list_images", claims=claims)
    assert api.call("list_images", event).status == 401


@pytest.mark.parametrize(("function", "event"), ROUTES + PUBLIC_ROUTES)
def test_every_event_in_events_is_answered_with_its_request_id(
    api: Api, cloud: Cloud, function: str, event: str
) -> None:
    # The sample events as they are (their image id does not exist): a real answer, not a crash;
    # `invoke` checks the x-request-id and the error body.
    reply = api.call(function, load_event(event))
    assert reply.status in {200, 201, 404}


def test_a_request_id_is_made_when_the_event_has_none(api: Api, cloud: Cloud) -> None:
    event = load_event("apigw_list_images")
    del event["requestContext"]["requestId"]

    raw = api.handlers["list_images"](event, LambdaContext())
    assert raw["statusCode"] == 200
    assert len(raw["headers"]["x-request-id"]) >= 16


def test_an_unknown_route_on_a_function_is_a_json_404(api: Api, cloud: Cloud) -> None:
    event = load_event("apigw_get_image", path={"id": "x"})
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/nowhere"

    reply = api.call("get_image", event)

    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"


def test_a_wrong_method_on_a_function_is_a_json_405(api: Api, cloud: Cloud) -> None:
    event = load_event("apigw_get_image", path={"id": "AAAAAAAAAAAAAAAAAAAAAA"})
    event["requestContext"]["http"]["method"] = "PATCH"

    reply = api.call("get_image", event)

    assert reply.status == 405
    assert reply.error["code"] == "METHOD_NOT_ALLOWED"


def test_an_unexpected_failure_is_a_plain_500(
    api: Api, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = api.upload_slot()["id"]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: table arn:aws:dynamodb:...")

    monkeypatch.setattr(records, "get_owned", broken)
    reply = api.get(image_id)

    assert reply.status == 500
    assert reply.error == {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}
    assert "secret" not in reply.body


def test_a_missing_table_is_a_plain_500_not_a_404(
    api: Api, cloud: Cloud, aws_clients: dict[str, Any]
) -> None:
    image_id = api.upload_slot()["id"]
    aws_clients["dynamodb"].delete_table(TableName=TABLE)

    reply = api.get(image_id)

    assert reply.status == 500
    assert reply.error["code"] == "INTERNAL_ERROR"
