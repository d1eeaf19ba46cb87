"""template.yaml's dashboard ⇄ code: every metric it charts is one the functions emit (name,
namespace and dimensions as the code publishes them) or AWS's own metric of a resource of this
template; and it charts what operations asked for: uploads issued and accepted, rejections by
every code, processing time p50/p99 per step, every dead-letter queue, API 4xx/5xx, the CDN's
cache hit ratio."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.local.template import load_template
from shoebox.pipeline import STEP_NAMES
from shoebox.records import Method
from shoebox.rejections import RejectionCode

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = DOCUMENT["Resources"]
GLOBAL_ENVIRONMENT = DOCUMENT["Globals"]["Function"]["Environment"]["Variables"]
_SUB = re.compile(r"\$\{([^}]*)\}")


def _body() -> tuple[dict[str, Any], set[str]]:
    """The dashboard's JSON, each ${...} replaced by its own text (`HttpApi`, `Q.QueueName`), and
    the names it substitutes."""
    (text,) = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"].values()  # Fn::Sub
    return json.loads(_SUB.sub(lambda match: match.group(1), text)), set(_SUB.findall(text))


def _metrics() -> list[tuple[str, str, dict[str, str], dict[str, Any], str]]:
    """(namespace, name, dimensions, options, widget region) of each charted metric."""
    found = []
    for widget in _body()[0]["widgets"]:
        properties = widget["properties"]
        for line in properties["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            parts = line[:-1] if options else line
            namespace, name, *pairs = parts
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            found.append((namespace, name, dimensions, {**properties, **options}, properties["region"]))
    return found


def _emitted() -> dict[str, set[str]]:
    """Each metric the code publishes, with its dimensions: read from the sources, as `add_metric`
    (with the module's `add_dimension`s) and the single-dimension helpers of shoebox.observability."""
    emitted: dict[str, set[str]] = {}
    for path in [*ROOT.glob("functions/*/*.py"), *ROOT.glob("layers/core/shoebox/*.py")]:
        source = path.read_text()
        extra = set(re.findall(r'add_dimension\(name="(\w+)"', source))
        for name in re.findall(r'add_metric\(name="(\w+)"', source):
            emitted.setdefault(name, set()).update({"service", *extra})
        for name, dimension in re.findall(r'_with_dimension\(\s*"(\w+)",[^,]+,[^,]+,\s*"(\w+)"', source):
            emitted.setdefault(name, set()).update({"service", dimension})
    return emitted


def test_the_code_emits_what_this_test_reads() -> None:
    emitted = _emitted()
    assert emitted["UploadsIssued"] == {"service", "method"}
    assert emitted["ImagesRejected"] == {"service", "code"}
    assert emitted["ProcessingMilliseconds"] == {"service", "step"}
    assert emitted["ImagesAccepted"] == {"service"}


def test_every_shoebox_metric_is_one_the_code_emits_with_its_dimensions() -> None:
    emitted = _emitted()
    ours = [metric for metric in _metrics() if not metric[0].startswith("AWS/")]
    assert ours
    for namespace, name, dimensions, _, region in ours:
        assert namespace == GLOBAL_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"], name
        assert name in emitted, f"the dashboard charts {name}, which no function emits"
        # CloudWatch matches a metric by its exact set of dimensions: one too many or too few
        # and the line stays empty.
        assert set(dimensions) == emitted[name], name
        assert dimensions["service"] == GLOBAL_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"], name
        assert region == "AWS::Region", name  # ${AWS::Region}: the stack's own


def test_it_charts_uploads_rejections_by_every_code_and_processing_percentiles() -> None:
    charted: dict[str, list[tuple[dict[str, str], dict[str, Any]]]] = {}
    for _, name, dimensions, options, _ in _metrics():
        charted.setdefault(name, []).append((dimensions, options))
    assert {dims["method"] for dims, _ in charted["UploadsIssued"]} == {method.value for method in Method}
    assert "ImagesAccepted" in charted
    assert {dims["code"] for dims, _ in charted["ImagesRejected"]} == {code.value for code in RejectionCode}
    percentiles = {(dims["step"], options["stat"]) for dims, options in charted["ProcessingMilliseconds"]}
    assert percentiles == {(step, stat) for step in STEP_NAMES.values() for stat in ("p50", "p99")}


def test_every_aws_metric_is_of_a_resource_of_this_template() -> None:
    aws = [metric for metric in _metrics() if metric[0].startswith("AWS/")]
    dead_letter_queues = {
        resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in resource["Properties"]
    }
    assert dead_letter_queues
    charted: dict[str, set[str]] = {}
    for namespace, name, dimensions, _, region in aws:
        charted.setdefault(f"{namespace} {name}", set()).update(dimensions.values())
        if namespace == "AWS/ApiGateway":
            assert name in {"4xx", "5xx"}, name
            assert set(dimensions) == {"ApiId"}, name
            assert RESOURCES[dimensions["ApiId"]]["Type"] == "AWS::Serverless::HttpApi"
        elif namespace == "AWS/SQS":
            assert name == "ApproximateNumberOfMessagesVisible"
            assert set(dimensions) == {"QueueName"}
            queue, attribute = dimensions["QueueName"].split(".")
            assert (queue, attribute) in {(name, "QueueName") for name in dead_letter_queues}
        elif namespace == "AWS/CloudFront":
            # CloudFront's metrics live in us-east-1 under Region=Global.
            assert (name, region, dimensions.get("Region")) == ("CacheHitRate", "us-east-1", "Global")
            distribution = RESOURCES[dimensions["DistributionId"]]
            assert distribution["Type"] == "AWS::CloudFront::Distribution"
        else:
            raise AssertionError(f"{namespace} {name}: a namespace this test does not know")
    assert charted["AWS/ApiGateway 4xx"]
    assert charted["AWS/ApiGateway 5xx"]
    assert {value.split(".")[0] for value in charted["AWS/SQS ApproximateNumberOfMessagesVisible"]} == (
        dead_letter_queues
    )
    assert "AWS/CloudFront CacheHitRate" in charted


def test_the_cache_hit_ratio_has_its_paid_subscription_behind_a_parameter() -> None:
    # CacheHitRate exists only with CloudFront's additional metrics, which cost money: opt-in.
    [subscription] = [r for r in RESOURCES.values() if r["Type"] == "AWS::CloudFront::MonitoringSubscription"]
    assert subscription["Properties"]["DistributionId"] == {"Ref": "CdnDistribution"}
    config = subscription["Properties"]["MonitoringSubscription"]["RealtimeMetricsSubscriptionConfig"]
    assert config == {"RealtimeMetricsSubscriptionStatus": "Enabled"}
    condition = DOCUMENT["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Equals": [{"Ref": "CdnCacheMetrics"}, "true"]}
    assert DOCUMENT["Parameters"]["CdnCacheMetrics"]["Default"] == "false"


def test_the_dashboard_names_only_what_exists() -> None:
    _, substituted = _body()
    for name in substituted:
        target = name.split(".")[0]
        assert target in RESOURCES or target.startswith("AWS::"), name
