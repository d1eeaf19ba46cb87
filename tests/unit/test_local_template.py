"""How the local stack reads template.yaml, without a stack: names, intrinsic functions,
conditions and parameters; the functions, routes (and which request each serves), the API's
authorizer and CORS, and the queue event sources."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import ACCOUNT_ID, Template, TemplateError, load_template, parameter_overrides
from infra.local.topology import Topology, label

ROOT = Path(__file__).resolve().parents[2]
AWS_URL = "http://127.0.0.1:4566"
ISSUER = "http://127.0.0.1:3000/_local"
LOCAL = {"JwtIssuer": ISSUER, "JwtAudience": "shoebox-local", "AllowedOrigins": "http://a.test,http://b.test"}


@cache
def document() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@cache
def topology() -> Topology:
    return Topology(Template(document(), LOCAL, aws_url=AWS_URL), ROOT)


def small(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Resources": resources, **sections}


# ------------------------------------------------------------------ resolution


def test_physical_names_are_what_cloudformation_gives() -> None:
    names = topology().template.names()
    assert names["UploadsBucket"] == f"shoebox-local-uploads-{ACCOUNT_ID}"  # its BucketName, resolved
    assert names["ValidateQueue"] == "shoebox-local-ValidateQueue"  # <stack>-<LogicalId>
    assert names["ImagesTable"] == "shoebox-local-ImagesTable"
    template = Template(small({"Bucket": {"Type": "AWS::S3::Bucket"}}))
    assert template.name("Bucket") == "shoebox-local-bucket"  # bucket names are lower case


def test_refs_and_arns() -> None:
    template = topology().template
    assert template.resolve({"Ref": "ValidateQueue"}) == f"{AWS_URL}/{ACCOUNT_ID}/shoebox-local-ValidateQueue"
    assert template.resolve({"Ref": "ImagesTable"}) == "shoebox-local-ImagesTable"
    assert template.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert template.resolve({"Ref": "MaxReceiveCount"}) == "3"  # parameters are strings, Number too
    arns = {
        "ValidateQueue": f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:shoebox-local-ValidateQueue",
        "MediaBucket": f"arn:aws:s3:::shoebox-local-media-{ACCOUNT_ID}",
        "ImagesTable": f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/shoebox-local-ImagesTable",
        "HealthFunction": f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:shoebox-local-HealthFunction",
    }
    for logical_id, arn in arns.items():
        assert template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}) == arn
        assert template.resolve({"Fn::GetAtt": f"{logical_id}.Arn"}) == arn


def test_sub_fills_in_refs_attributes_and_pseudo_parameters() -> None:
    template = topology().template
    text = "${AWS::Partition}:${AWS::StackName}:${MediaBucket}:${ImagesTable.Arn}/index"
    expected = (
        f"aws:shoebox-local:shoebox-local-media-{ACCOUNT_ID}:{template.get_att('ImagesTable', 'Arn')}/index"
    )
    assert template.resolve({"Fn::Sub": text}) == expected
    with pytest.raises(TemplateError, match="is a list"):
        template.resolve({"Fn::Sub": "${AllowedOrigins}"})


def test_conditions_decide_which_resources_exist_and_which_branch_is_taken() -> None:
    # Locally an issuer is given, so no user pool is made and the authorizer trusts that issuer.
    local = topology()
    assert "UserPool" not in local.template.resources
    deployed = Template(document())  # the defaults: JwtIssuer empty, so the stack makes a pool
    assert "UserPool" in deployed.resources
    assert deployed.condition("CreateUserPool")
    assert not deployed.condition("HasAlarmEmail")
    assert Template(document(), {"AlarmEmail": "ops@example.com"}).condition("HasAlarmEmail")
    issuer = {"Fn::If": ["CreateUserPool", {"Fn::Sub": "https://idp/${UserPool}"}, {"Ref": "JwtIssuer"}]}
    assert deployed.resolve(issuer) == "https://idp/shoebox-local-UserPool"


def test_parameters_take_local_values_over_defaults() -> None:
    template = Template(document(), {**LOCAL, "MaxReceiveCount": "2"})
    assert template.parameters["MaxReceiveCount"] == "2"
    assert template.parameters["AllowedOrigins"] == ["http://a.test", "http://b.test"]
    assert template.parameters["MaxPixels"] == "100000000"
    with pytest.raises(TemplateError, match="unknown parameters"):
        Template(document(), {"NoSuchParameter": "1"})
    with pytest.raises(TemplateError, match="no default"):
        Template(small({}, Parameters={"Needed": {"Type": "String"}}))


def test_what_the_local_stack_cannot_resolve_is_named(tmp_path: Path) -> None:
    template = Template(small({"Queue": {"Type": "AWS::SQS::Queue"}}))
    for node, named in [
        ({"Fn::Join": [",", ["a", "b"]]}, "Fn::Join"),
        ({"Fn::GetAtt": ["Queue", "QueueName"]}, "Queue.QueueName"),
        ({"Ref": "Nothing"}, "Nothing"),
    ]:
        with pytest.raises(TemplateError, match=named):
            template.resolve(node)
    (tmp_path / "other.yaml").write_text("Parameters: {}\n")
    with pytest.raises(TemplateError, match="not a CloudFormation template"):
        load_template(tmp_path / "other.yaml")


# ------------------------------------------------------------------ functions


def test_functions_get_their_globals_own_settings_and_layers() -> None:
    functions = topology().functions
    validate = functions["ValidateFunction"]
    assert validate.handler == "validate_upload.handler.handler"
    assert validate.code_dir == ROOT / "functions"
    assert validate.layer_dirs == (ROOT / "layers/core", ROOT / "layers/imaging")  # Globals first
    assert (validate.timeout, validate.memory_size, validate.runtime) == (60, 1769, "python3.13")
    assert validate.environment["MAX_PIXELS"] == "100000000"  # its own variable
    assert validate.environment["MAX_IMAGE_CPU_MS"] == "2000"  # the work limit (README, Speed)
    assert validate.environment["TABLE_NAME"] == "shoebox-local-ImagesTable"  # from Globals
    assert validate.log_group == "shoebox-local-ValidateFunctionLogs"
    health = functions["HealthFunction"]
    assert (health.timeout, health.layer_dirs) == (10, (ROOT / "layers/core",))
    assert "MAX_PIXELS" not in health.environment
    assert [label(name) for name in ("CreateUploadFunction", "ValidateFunction")] == [
        "create_upload",
        "validate",
    ]


def test_queue_sources_are_the_sqs_events() -> None:
    sources = {source.function: source for source in topology().queue_sources}
    validate = sources["ValidateFunction"]
    assert validate.queue_url == f"{AWS_URL}/{ACCOUNT_ID}/shoebox-local-ValidateQueue"
    assert validate.queue_arn.endswith(":shoebox-local-ValidateQueue")
    assert (validate.batch_size, validate.batching_window, validate.report_batch_item_failures) == (
        5,
        0.0,  # no batching window (template.yaml says why)
        True,
    )
    assert sources["ThumbnailFunction"].queue_url.endswith("/shoebox-local-ThumbnailQueue")
    # ScalingConfig bounds how many batches are in flight at once; nothing bounds an API function.
    assert (validate.maximum_concurrency, sources["ThumbnailFunction"].maximum_concurrency) == (10, 10)
    assert topology().maximum_concurrency("ThumbnailFunction") == 10
    assert topology().maximum_concurrency("GetImageFunction") is None


# ------------------------------------------------------------------ the API


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/v1/health", "HealthFunction", {}),
        ("POST", "/v1/uploads", "CreateUploadFunction", {}),
        ("GET", "/v1/images", "ListImagesFunction", {}),
        ("GET", "/v1/images/abc", "GetImageFunction", {"id": "abc"}),
        ("DELETE", "/v1/images/abc", "DeleteImageFunction", {"id": "abc"}),
        ("GET", "/v1/images/a%20b/content", "GetContentFunction", {"id": "a%20b"}),  # raw, decoded later
    ],
)
def test_each_request_finds_its_route(method: str, path: str, function: str, params: dict[str, str]) -> None:
    found = topology().find_route(method, path)
    assert found is not None
    route, parameters = found
    assert (route.function, parameters) == (function, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing-here"),
        ("DELETE", "/v1/health"),
        ("GET", "/v1/images/a/b"),
        ("GET", "/v1/images/"),
        ("POST", "/v1/images"),
        ("GET", "/v1/health/"),
    ],
)
def test_other_requests_find_no_route(method: str, path: str) -> None:
    assert topology().find_route(method, path) is None


def test_literal_paths_win_over_parameters() -> None:
    template = Template(
        small(
            {
                "Api": {"Type": "AWS::Serverless::HttpApi"},
                "ById": _function("by_id", "/things/{id}"),
                "Mine": _function("mine", "/things/mine"),
            }
        )
    )
    found = Topology(template, ROOT).find_route("GET", "/things/mine")
    assert found is not None
    assert found[0].function == "Mine"


def _function(name: str, path: str) -> dict[str, Any]:
    event = {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "Api"}, "Path": path, "Method": "get"}}
    properties = {"Handler": f"{name}.handler.handler", "CodeUri": "functions/", "Events": {"E": event}}
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def test_every_route_but_health_and_share_links_has_the_jwt_authorizer() -> None:
    routes = {route.route_key: route for route in topology().routes}
    public = {
        "GET /v1/health",
        "GET /s/{token}",
        "GET /s/{token}/{variant}",
    }  # a share's token is its permission
    assert {key for key, route in routes.items() if route.authorizer is None} == public
    authorizer = routes["POST /v1/uploads"].authorizer
    assert authorizer is not None
    assert (authorizer.issuer, authorizer.audiences, authorizer.header) == (
        ISSUER,
        ("shoebox-local",),
        "authorization",
    )
    assert {route.authorizer for key, route in routes.items() if key not in public} == {authorizer}


def test_the_api_takes_its_cors_from_globals() -> None:
    cors = topology().api.cors
    assert cors is not None
    assert cors.allow_origins == ("http://a.test", "http://b.test")
    assert cors.allow_methods == ("GET", "POST", "DELETE", "OPTIONS")
    assert cors.allow_headers == ("authorization", "content-type")
    assert cors.expose_headers == ("x-request-id", "location", "retry-after")
    assert cors.max_age == 600


def test_parameter_overrides_read_as_sam_deploy_takes_them() -> None:
    text = (
        'MaxImagesPerOwner=3  MaxPendingPerOwner=2 AllowedOrigins="http://a.test,http://b.test" JwtAudience='
    )
    assert parameter_overrides(text) == {
        "MaxImagesPerOwner": "3",
        "MaxPendingPerOwner": "2",
        "AllowedOrigins": "http://a.test,http://b.test",
        "JwtAudience": "",
    }
    assert parameter_overrides("  ") == {}
    with pytest.raises(TemplateError, match="not Key=Value"):
        parameter_overrides("MaxImagesPerOwner")
    with pytest.raises(TemplateError, match="unknown parameters"):
        Template(document(), {**LOCAL, **parameter_overrides("MaxImagesPerOwnr=3")})


def test_overridden_quota_parameters_reach_the_functions_environments() -> None:
    overridden = Topology(
        Template(
            document(),
            {**LOCAL, "MaxImagesPerOwner": "3", "MaxMultipartUploadBytes": "1000", "MaxImageCpuMs": "4000"},
            aws_url=AWS_URL,
        ),
        ROOT,
    )
    create = overridden.functions["CreateUploadFunction"].environment
    assert (create["MAX_IMAGES_PER_OWNER"], create["MAX_PENDING_PER_OWNER"]) == ("3", "50")
    validate = overridden.functions["ValidateFunction"].environment
    assert (validate["MAX_MULTIPART_UPLOAD_BYTES"], validate["MAX_IMAGE_CPU_MS"]) == ("1000", "4000")
    assert overridden.functions["GetUsageFunction"].environment["MAX_IMAGES_PER_OWNER"] == "3"
