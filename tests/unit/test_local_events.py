"""The local stack's event mapping, without a stack: HTTP request -> API Gateway payload 2.0 event
(checked against the real payloads in events/), function result -> HTTP response, the CORS headers
API Gateway adds, and SQS messages -> the event and batch-failure rules of Lambda's event source
mapping."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from infra.local import apigw
from infra.local.topology import Cors, QueueSource
from infra.local.workers import failed_ids, is_s3_test_event, sqs_record
from tests.events import EVENTS_DIR

CORS = Cors(
    allow_origins=("http://localhost:3000",),
    allow_methods=("GET", "POST", "DELETE", "OPTIONS"),
    allow_headers=("authorization", "content-type"),
    expose_headers=("x-request-id", "location"),
    max_age=600,
)


def _real(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return loaded


def _request(**given: Any) -> apigw.Request:
    fields: dict[str, Any] = {"method": "GET", "raw_path": "/v1/images/abc", "raw_query": "", "headers": []}
    return apigw.Request(**{**fields, "body": b"", "source_ip": "127.0.0.1", **given})


def _context(**given: Any) -> apigw.Context:
    fields = {"route_key": "GET /v1/images/{id}", "api_id": "HttpApi", "domain_name": "127.0.0.1:3000"}
    return apigw.Context(**{**fields, **given})


@pytest.mark.parametrize("name", ["apigw_get_image", "apigw_create_upload"])
def test_the_event_is_what_api_gateway_sends(name: str) -> None:
    # The same request API Gateway turned into events/<name>.json, as the local gateway sees it.
    real = _real(name)
    context = real["requestContext"]
    claims: dict[str, Any] = {
        key: int(value) if value.isdigit() else value
        for key, value in context["authorizer"]["jwt"]["claims"].items()
    }
    request = apigw.Request(
        method=context["http"]["method"],
        raw_path=real["rawPath"],
        raw_query=real["rawQueryString"],
        headers=list(real["headers"].items()),
        body=base64.b64decode(real["body"]) if real["isBase64Encoded"] else real.get("body", "").encode(),
        source_ip=context["http"]["sourceIp"],
    )
    built = apigw.build_event(
        request,
        apigw.Context(
            route_key=real["routeKey"],
            api_id=context["apiId"],
            domain_name=context["domainName"],
            path_parameters=real.get("pathParameters", {}),
            claims=claims,
            scopes=context["authorizer"]["jwt"]["scopes"],
            request_id=context["requestId"],
        ),
        now=context["timeEpoch"] / 1000,
    )
    assert built == real
    APIGatewayProxyEventV2Model.model_validate(built)


def test_repeated_headers_and_query_parameters_are_joined_and_cookies_moved() -> None:
    request = _request(
        raw_path="/v1/images/a%20b",
        raw_query="x=1&x=2&y=",
        headers=[("X-Custom", "a"), ("x-custom", "b"), ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "probe")],
    )
    event = apigw.build_event(request, _context(path_parameters={"id": "a b"}))
    assert event["headers"] == {"x-custom": "a,b", "user-agent": "probe"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert (event["rawPath"], event["requestContext"]["http"]["path"]) == (
        "/v1/images/a%20b",
        "/v1/images/a b",
    )
    assert event["pathParameters"] == {"id": "a b"}
    assert event["requestContext"]["http"]["userAgent"] == "probe"
    assert "authorizer" not in event["requestContext"]  # a public route


def test_bodies_are_text_when_api_gateway_passes_text_else_base64() -> None:
    def body(content_type: str, data: bytes) -> tuple[str, bool]:
        event = apigw.build_event(_request(headers=[("content-type", content_type)], body=data), _context())
        return event["body"], event["isBase64Encoded"]

    assert body("application/json", b'{"a": 1}') == ('{"a": 1}', False)
    assert body("application/vnd.api+json; charset=utf-8", b"{}") == ("{}", False)
    assert body("text/plain", b"\xff\xfe") == (base64.b64encode(b"\xff\xfe").decode(), True)  # not UTF-8
    assert body("application/octet-stream", b"\x00\xff") == ("AP8=", True)
    assert "body" not in apigw.build_event(_request(), _context())


def test_claims_are_handed_over_as_strings() -> None:
    claims = {"sub": "erin", "exp": 1700000000, "groups": ["a", "b"], "admin": False, "address": {"c": "d"}}
    event = apigw.build_event(_request(), _context(claims=claims, scopes=None))
    jwt = event["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"] == {
        "sub": "erin",
        "exp": "1700000000",
        "groups": "[a b]",
        "admin": "false",
        "address": '{"c":"d"}',
    }
    assert jwt["scopes"] is None


def test_a_result_becomes_api_gateways_response() -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-Request-Id": "r1"},
        "cookies": ["a=1; Path=/", "b=2; Path=/"],
        "body": "made",
    }
    mapped = apigw.map_result(result)
    assert (mapped.status, mapped.body) == (201, b"made")
    assert mapped.headers == [
        ("content-type", "text/plain"),
        ("x-request-id", "r1"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2; Path=/"),
    ]
    binary = apigw.map_result({"statusCode": 200, "isBase64Encoded": True, "body": "AQI="})
    assert binary.body == b"\x01\x02"
    assert apigw.map_result({"statusCode": 204}).body == b""


def test_a_result_without_status_code_is_a_json_body() -> None:
    mapped = apigw.map_result({"hello": "world"})
    assert (mapped.status, json.loads(mapped.body)) == (200, {"hello": "world"})
    assert mapped.headers == [("content-type", "application/json")]
    with pytest.raises(apigw.MalformedResponse):
        apigw.map_result({"statusCode": "soon"})


def test_cors_headers_for_an_allowed_origin_only() -> None:
    simple = apigw.cors_headers(CORS, "http://localhost:3000", preflight=False)
    assert simple == [
        ("access-control-allow-origin", "http://localhost:3000"),
        ("access-control-expose-headers", "x-request-id,location"),
    ]
    assert apigw.cors_headers(CORS, "https://evil.example", preflight=False) == []
    assert apigw.cors_headers(CORS, None, preflight=False) == []
    assert apigw.cors_headers(None, "http://localhost:3000", preflight=False) == []


def test_a_preflight_is_answered_for_allowed_methods_and_headers() -> None:
    def preflight(method: str, headers: str | None) -> dict[str, str]:
        found = apigw.cors_headers(
            CORS, "http://localhost:3000", preflight=True, request_method=method, request_headers=headers
        )
        return dict(found)

    allowed = preflight("POST", "Authorization, content-type")
    assert allowed["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed["access-control-allow-methods"] == "GET,POST,DELETE,OPTIONS"
    assert allowed["access-control-allow-headers"] == "authorization,content-type"
    assert allowed["access-control-max-age"] == "600"
    assert preflight("PUT", None) == {}
    assert preflight("POST", "x-other") == {}


def test_the_functions_cors_headers_give_way_to_the_gateways() -> None:
    headers = [("Access-Control-Allow-Origin", "*"), ("content-type", "text/plain")]
    assert apigw.without_cors(headers) == [("content-type", "text/plain")]


def test_api_gateways_own_errors_are_a_message() -> None:
    response = apigw.message(404, "Not Found", [("apigw-requestid", "r")])
    assert (response.status, json.loads(response.body)) == (404, {"message": "Not Found"})
    assert ("apigw-requestid", "r") in response.headers


# ------------------------------------------------------------------ SQS


def test_a_record_is_what_lambda_sends_for_an_sqs_message() -> None:
    (real,) = _real("sqs_s3_object_created")["Records"]
    message: Any = {
        "MessageId": real["messageId"],
        "ReceiptHandle": real["receiptHandle"],
        "Body": real["body"],
        "Attributes": real["attributes"],
        "MD5OfBody": real["md5OfBody"],
    }
    source = QueueSource("ValidateFunction", real["eventSourceARN"], "http://q", 5, 1.0, True)
    assert sqs_record(message, source) == real


def test_s3_test_events_are_told_from_notifications() -> None:
    (test_event,) = _real("sqs_s3_test_event")["Records"]
    (notification,) = _real("sqs_s3_object_created")["Records"]
    assert is_s3_test_event(test_event["body"])
    assert not is_s3_test_event(notification["body"])
    assert not is_s3_test_event("not json")


def test_batch_item_failures_by_lambdas_rules() -> None:
    ids = ["m1", "m2", "m3"]
    reporting = QueueSource("F", "arn", "url", 5, 0.0, report_batch_item_failures=True)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids, reporting) == {"m2"}
    assert failed_ids({"batchItemFailures": []}, ids, reporting) == set()
    assert failed_ids(None, ids, reporting) == set()
    # An unusable response fails the whole batch.
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m9"}]}, ids, reporting) == set(ids)
    assert failed_ids({"batchItemFailures": [{}]}, ids, reporting) == set(ids)
    # Without ReportBatchItemFailures, a successful invocation succeeds for every message.
    silent = QueueSource("F", "arn", "url", 5, 0.0, report_batch_item_failures=False)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids, silent) == set()
