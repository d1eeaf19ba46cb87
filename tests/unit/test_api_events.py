"""The API Gateway events in events/ (and what the loader makes of them) are real payload 2.0."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from tests.events import EVENTS_DIR, load_event

API_EVENTS = sorted(path.stem for path in EVENTS_DIR.glob("apigw_*.json"))
# The share links' public routes: no authorizer, so no claims and no Authorization header.
PUBLIC_EVENTS = {"apigw_view_share", "apigw_get_shared_content"}


@pytest.mark.parametrize("name", API_EVENTS)
def test_each_file_is_an_http_api_payload_2_event(name: str) -> None:
    event = load_event(name)
    model = APIGatewayProxyEventV2Model.model_validate(event)

    assert model.version == "2.0"
    method, route = model.routeKey.split(" ", 1)
    assert model.requestContext.http.method == method
    assert model.requestContext.routeKey == model.routeKey
    assert model.rawPath == model.requestContext.http.path
    assert route.format(**(model.pathParameters or {})) == model.rawPath
    assert all(name == name.lower() for name in model.headers)
    if name in PUBLIC_EVENTS:
        assert model.requestContext.authorizer is None
        assert "authorization" not in model.headers
        return
    assert model.requestContext.authorizer is not None
    assert model.requestContext.authorizer.jwt is not None
    claims = model.requestContext.authorizer.jwt.claims
    # The JWT authorizer hands claims over as strings.
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["sub"]


def test_overrides_stay_consistent() -> None:
    event = load_event(
        "apigw_get_content",
        path={"id": "AAAAAAAAAAAAAAAAAAAAAA"},
        query={"variant": "512"},
        sub="bob",
        headers={"X-Extra": "1"},
    )
    APIGatewayProxyEventV2Model.model_validate(event)

    assert event["rawPath"] == "/v1/images/AAAAAAAAAAAAAAAAAAAAAA/content"
    assert event["requestContext"]["http"]["path"] == event["rawPath"]
    assert event["pathParameters"] == {"id": "AAAAAAAAAAAAAAAAAAAAAA"}
    assert event["rawQueryString"] == "variant=512"
    assert event["queryStringParameters"] == {"variant": "512"}
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "bob"
    assert event["headers"]["x-extra"] == "1"


def test_each_load_has_a_fresh_request_id() -> None:
    first, second = load_event("apigw_list_images"), load_event("apigw_list_images")
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]


def test_bodies_keep_content_length_and_encoding() -> None:
    event = load_event("apigw_create_upload", body={"filename": "é.jpg"})
    assert event["isBase64Encoded"] is False
    assert int(event["headers"]["content-length"]) == len(event["body"].encode())

    encoded = load_event("apigw_create_upload_no_content_type", body={"size": 1})
    assert encoded["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(encoded["body"])) == {"size": 1}

    empty = load_event("apigw_create_upload", body=None)
    assert "body" not in empty
    assert "content-length" not in empty["headers"]


def test_an_unauthenticated_event_has_no_authorizer_and_no_token() -> None:
    event = load_event("apigw_get_image", authenticated=False)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert "authorizer" not in event["requestContext"]
    assert "authorization" not in event["headers"]
