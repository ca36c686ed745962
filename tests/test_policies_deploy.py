"""The policies for what a real deploy meets and mocks do not: deploy order, zone IDs, timeouts.

Each with a passing and a violating stack (or resource), built the way the mock runner records
them and handed over as the analyzer hands them (tests/test_policies.py's `violations`), including
the dependency graph and, for a first preview, unknown ARNs.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from nfe.mockrun import ACCOUNT_ID, ResourceRecord
from tests.test_policies import MAPPING, REGION, STAGE, TARGET, function, only, resource, violations

INVOCATION = "aws:lambda/invocation:Invocation"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
INTEGRATION = "aws:apigateway/integration:Integration"
V2_INTEGRATION = "aws:apigatewayv2/integration:Integration"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SUBNET = "aws:ec2/subnet:Subnet"
TARGET_GROUP = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"


def after(record: ResourceRecord, *dependencies: ResourceRecord) -> ResourceRecord:
    """The record waiting for these resources, as the engine's `dependencies` say."""
    record.depends_on = [d.urn for d in dependencies]
    return record


def api_function(name: str, **inputs: Any) -> ResourceRecord:
    record = function(name, **inputs)
    arn = record.state["arn"]
    record.state["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return record


def unknown_outputs(record: ResourceRecord, *keys: str) -> ResourceRecord:
    """The record as a first preview sees it: these outputs (and inputs copied from them) unknown."""
    for key in keys:
        record.state[key] = UNKNOWN_STRING_VALUE
        if key in record.inputs:
            record.inputs[key] = UNKNOWN_STRING_VALUE
    return record


# --- code-waits-for-migrations --------------------------------------------------------------------


def _deploy(*, wired: bool) -> dict[str, ResourceRecord]:
    """A migrator and its invocation; an API function, a consumer, their triggers and the API's
    deployment and stage, each waiting for the invocation (directly or not) when `wired`."""
    migrator = function("migrator", timeout=300)
    migrate = after(resource(INVOCATION, "migrate", {"functionName": "migrator"}), migrator)
    gate = [migrate] if wired else []
    api = after(api_function("api", timeout=25), *gate)
    consumer = after(function("consumer", timeout=15), *gate)
    # The mapping waits for the consumer, which waits for the migration: transitively ordered.
    mapping = after(resource(MAPPING, "mapping", {"functionName": consumer.state["arn"]}), consumer)
    schedule_target = after(resource(TARGET, "publisher-schedule", {"arn": consumer.state["arn"]}), *gate)
    deployment = after(resource(DEPLOYMENT, "deployment", {"restApi": "api-123"}), *gate)
    stage = after(resource(STAGE, "stage", {"restApi": "api-123", "deployment": "dep"}), deployment)
    return {r.name: r for r in (migrator, migrate, api, consumer, mapping, schedule_target, deployment, stage)}


def test_code_waits_for_migrations_passes_when_everything_is_ordered_after_the_invocation() -> None:
    # Given a stack where code, triggers and the API wait for the migration (directly or through others)
    stack = _deploy(wired=True)
    # When checked, Then nothing is reported; the migrator itself need not wait for its own invocation
    assert violations("code-waits-for-migrations", *stack.values()) == []


def test_code_waits_for_migrations_names_each_resource_that_can_go_live_first() -> None:
    # Given the same stack with no depends_on on the invocation
    stack = _deploy(wired=False)
    # When checked
    reported = violations("code-waits-for-migrations", *stack.values())
    # Then every application function, trigger and the API deployment are reported, by kind and name;
    # the mapping and stage too, since what they wait for does not wait either
    expected = [
        "Function api",
        "Function consumer",
        "EventSourceMapping mapping",
        "EventTarget publisher-schedule",
        "Deployment deployment",
        "Stage stage",
    ]
    assert len(reported) == len(expected)
    for what in expected:
        assert any(m.startswith(f"{what} does not wait for the migration migrate") for m in reported), what


def test_code_waits_for_migrations_ignores_targets_that_start_no_function_and_stacks_without_migrations() -> None:
    # Given an EventBridge target delivering to a queue, not to a function, that waits for nothing
    stack = _deploy(wired=True)
    to_queue = resource(TARGET, "to-queue", {"arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:work"})
    assert violations("code-waits-for-migrations", *stack.values(), to_queue) == []
    # And a stack with no invocation has no migration to wait for
    assert violations("code-waits-for-migrations", function("lonely")) == []


def test_code_waits_for_migrations_follows_the_graph_when_arns_are_unknown_at_preview() -> None:
    # Given a first preview: a schedule's target ARN and the invocation's function name are unknown,
    # and the schedule does not wait for the migration
    migrator = unknown_outputs(function("migrator"), "name", "arn")
    migrate = after(unknown_outputs(resource(INVOCATION, "migrate", {"functionName": "x"}), "functionName"), migrator)
    publisher = after(unknown_outputs(function("publisher"), "arn"), migrate)
    schedule = resource(SCHEDULE, "every-minute", {"target": {"arn": UNKNOWN_STRING_VALUE, "roleArn": "r"}})
    schedule = after(schedule, publisher)
    # When checked, Then the policy still decides, from the dependencies the values came from:
    # the schedule waits for the publisher, which waits for the migration
    assert violations("code-waits-for-migrations", migrator, migrate, publisher, schedule) == []
    # And the schedule is reported once the publisher no longer waits
    publisher.depends_on = []
    reported = violations("code-waits-for-migrations", migrator, migrate, publisher, schedule)
    assert {m.split(" does not")[0] for m in reported} == {"Function publisher", "Schedule every-minute"}


# --- subnet-az-id ---------------------------------------------------------------------------------


def test_subnet_az_id() -> None:
    # Given a subnet placed by zone ID: fine
    assert violations("subnet-az-id", resource(SUBNET, "a", {"availabilityZoneId": "use1-az1"})) == []
    # When placed by AZ name, by a name not known until deploy, or left to EC2
    by_name = resource(SUBNET, "b", {"availabilityZone": "us-east-1a"})
    unknown_name = resource(SUBNET, "c", {"availabilityZone": UNKNOWN_STRING_VALUE})
    anywhere = resource(SUBNET, "d", {"cidrBlock": "10.0.0.0/24"})
    # Then each is reported (a name is a name, known or not)
    assert "placed by AZ name us-east-1a" in only(violations("subnet-az-id", by_name))
    assert "placed by AZ name (not known yet)" in only(violations("subnet-az-id", unknown_name))
    assert "EC2 picks the zone" in only(violations("subnet-az-id", anywhere))


# --- api-function-timeout -------------------------------------------------------------------------


def _integration(name: str, target: ResourceRecord, **inputs: Any) -> ResourceRecord:
    uri = target.state["invokeArn"]
    return after(resource(INTEGRATION, name, {"type": "AWS_PROXY", "uri": uri, **inputs}), target)


def test_api_function_timeout_passes_below_the_integration_limit() -> None:
    # Given an API function of 25 s behind a default (29 s) integration, and a 60 s function no API calls
    api = api_function("api", timeout=25)
    publisher = function("publisher", timeout=60)
    mock = resource(INTEGRATION, "options", {"type": "MOCK"})
    # When / Then nothing is reported
    assert violations("api-function-timeout", api, publisher, _integration("get", api), mock) == []


def test_api_function_timeout_reports_a_function_the_gateway_gives_up_on() -> None:
    # Given API Gateway's 29 s limit and a 30 s function (the stack's old value)
    slow = api_function("slow", timeout=30)
    message = only(violations("api-function-timeout", slow, _integration("get", slow), _integration("post", slow)))
    # Then it is reported once, with the limit and the integration setting it
    assert "timeout 30 s is not below the 29 s limit of its API Gateway integration get" in message
    # And 29 s is not below 29 s, and an integration's own shorter limit counts
    edge = api_function("edge", timeout=29)
    assert "29 s limit" in only(violations("api-function-timeout", edge, _integration("i", edge)))
    quick = api_function("quick", timeout=15)
    short = _integration("i", quick, timeoutMilliseconds=10_000)
    assert "15 s is not below the 10 s limit" in only(violations("api-function-timeout", quick, short))


def test_api_function_timeout_finds_api_functions_at_preview_and_behind_http_apis() -> None:
    # Given a first preview: the integration's URI (the function's invoke ARN) is unknown
    slow = unknown_outputs(api_function("slow", timeout=30), "arn", "invokeArn")
    integration = after(resource(INTEGRATION, "get", {"type": "AWS_PROXY", "uri": UNKNOWN_STRING_VALUE}), slow)
    # Then the function is found through the integration's dependencies, and reported
    assert "30 s" in only(violations("api-function-timeout", slow, integration))
    # And an HTTP API integration naming the function's ARN is held to its 30 s default
    http_fn = function("http", timeout=30)
    http = resource(V2_INTEGRATION, "route", {"integrationType": "AWS_PROXY", "integrationUri": http_fn.state["arn"]})
    assert "30 s limit" in only(violations("api-function-timeout", http_fn, http))
    assert violations("api-function-timeout", function("http", timeout=25), http) == []


# --- rds-proxy-borrow-timeout ---------------------------------------------------------------------


def _target_group(borrow: float | None) -> ResourceRecord:
    pool = {"maxConnectionsPercent": 90} | ({"connectionBorrowTimeout": borrow} if borrow is not None else {})
    return resource(TARGET_GROUP, "proxy-targets", {"dbProxyName": "proxy", "connectionPoolConfig": pool})


def test_rds_proxy_borrow_timeout_passes_within_the_shortest_function_timeout() -> None:
    # Given consumers of 15 s, an API function of 25 s, and a 10 s (or exactly 15 s) borrow timeout
    functions = [function("consumer", timeout=15), function("api", timeout=25), function("migrator", timeout=300)]
    assert violations("rds-proxy-borrow-timeout", *functions, _target_group(10)) == []
    assert violations("rds-proxy-borrow-timeout", *functions, _target_group(15)) == []
    # And a stack without a proxy has nothing to check
    assert violations("rds-proxy-borrow-timeout", *functions) == []


def test_rds_proxy_borrow_timeout_reports_a_wait_longer_than_a_function_lives() -> None:
    functions = [function("consumer", timeout=15), function("api", timeout=25)]
    # Given the stack's old 120 s, and RDS's default when unset (also 120 s)
    message = only(violations("rds-proxy-borrow-timeout", *functions, _target_group(120)))
    # Then the target group is reported against the shortest function
    assert "connectionBorrowTimeout 120 s is longer than the 15 s timeout of consumer" in message
    assert "120 s" in only(violations("rds-proxy-borrow-timeout", *functions, _target_group(None)))
    # And 0, which RDS reads as "wait without limit", is the longest wait of all
    assert "0 (no limit)" in only(violations("rds-proxy-borrow-timeout", *functions, _target_group(0)))
    # And a function left at Lambda's 3 s default is the shortest
    assert "3 s timeout of tiny" in only(
        violations("rds-proxy-borrow-timeout", *functions, function("tiny"), _target_group(10))
    )
