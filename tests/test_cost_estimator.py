"""The estimator on hand-built resources: line items checked by hand against aws-prices.md."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from nfe.config import StackConfig, load_stack_file, parse
from nfe.cost import CostEstimate, PreviewResource, estimate, load_table
from nfe.cost.preview import UNKNOWN
from nfe.cost.pricers import PRICERS
from nfe.cost.prices import PRICES_DIR, UNITS, Quantity, parse_table
from nfe.cost.types import FREE_TYPES

ROOT = Path(__file__).resolve().parents[1]
STACK = "urn:pulumi:dev::nfe::"
PULUMI_AWS = Path(str(__import__("pulumi_aws").__file__)).parent


def config(**overrides: Any) -> StackConfig:
    values: dict[str, Any] = {"environment": "dev", "monthlyBudgetUsd": 60}
    values.update(overrides)
    return parse(values)


def res(type_token: str, name: str, inputs: dict[str, Any] | None = None, parent: str | None = None) -> PreviewResource:
    chain = type_token
    if parent is not None:
        chain = parent.split("::")[2] + "$" + type_token
    return PreviewResource(f"{STACK}{chain}::{name}", type_token, name, parent, inputs or {})


def component(type_token: str, name: str) -> PreviewResource:
    return PreviewResource(f"{STACK}{type_token}::{name}", type_token, name, None, {}, custom=False)


def db(multi_az: bool = False, **extra: Any) -> PreviewResource:
    inputs = {
        "engine": "postgres",
        "instanceClass": "db.t4g.micro",
        "allocatedStorage": 20,
        "storageType": "gp3",
        "multiAz": multi_az,
        "backupRetentionPeriod": 7,
        "manageMasterUserPassword": True,
    }
    inputs.update(extra)
    return res("aws:rds/instance:Instance", "db", inputs)


def fn(name: str, memory: int = 512, arch: str = "arm64", **extra: Any) -> PreviewResource:
    return res("aws:lambda/function:Function", name, {"memorySize": memory, "architectures": [arch], **extra})


def schedule(expression: str = "rate(1 minute)", **extra: Any) -> PreviewResource:
    # Top level, like the bare functions here: the same component ("stack") as the publisher.
    inputs = {"name": "outbox-publisher-schedule-dev", "scheduleExpression": expression, **extra}
    return res("aws:cloudwatch/eventRule:EventRule", "outbox-publisher-schedule", inputs)


def line(result: CostEstimate, resource: str, dimension: str) -> float:
    matches = [i.monthly for i in result.items if i.resource == resource and i.dimension == dimension]
    assert len(matches) == 1, (resource, dimension, [i.basis for i in result.items])
    return matches[0]


def test_db_t4g_micro_single_az_is_730_hours_at_0_016() -> None:
    # Given a single-AZ db.t4g.micro with 20 GB gp3 and an RDS-managed master password
    # When it is priced in us-east-1
    result = estimate([db(multi_az=False)], config())
    # Then 730 h x $0.016 = $11.68, 20 GB x $0.115 = $2.30, and the managed secret $0.40
    assert line(result, "db", "instance") == pytest.approx(11.68)
    assert line(result, "db", "storage") == pytest.approx(2.30)
    assert line(result, "db", "master-secret") == pytest.approx(0.40)
    assert line(result, "db", "backup") == 0.0
    assert result.monthly_total == pytest.approx(14.38)
    basis = next(i.basis for i in result.items if i.dimension == "instance")
    assert basis.startswith("instance: 730 h x $0.016/h")


def test_multi_az_doubles_instance_hours_and_storage() -> None:
    # Given the same instance single- and multi-AZ
    single = estimate([db(multi_az=False)], config())
    multi = estimate([db(multi_az=True)], config())
    # Then Multi-AZ bills twice the instance hours ($23.36) and twice the gp3 rate ($4.60)
    assert line(multi, "db", "instance") == pytest.approx(2 * line(single, "db", "instance"))
    assert line(multi, "db", "instance") == pytest.approx(23.36)
    assert line(multi, "db", "storage") == pytest.approx(2 * line(single, "db", "storage"))


def test_storage_type_left_out_defaults_to_gp2_which_has_no_price() -> None:
    # Given an instance without storageType (AWS then uses gp2)
    inputs = {k: v for k, v in db().inputs.items() if k != "storageType"}
    result = estimate([res("aws:rds/instance:Instance", "db", inputs)], config())
    # Then it is unpriced, not priced as gp3
    assert not result.items
    assert "gp2" in result.unpriced[0].reason


def test_proxy_bills_the_instance_vcpus_with_a_two_vcpu_minimum() -> None:
    # Given a proxy in front of a db.t4g.micro (2 vCPU)
    resources = [db(), res("aws:rds/proxy:Proxy", "proxy", {"engineFamily": "POSTGRESQL"})]
    result = estimate(resources, config())
    # Then 0.015 x 2 vCPU x 730 h = $21.90 (the seed's $11 assumed one vCPU)
    assert line(result, "proxy", "proxy") == pytest.approx(21.90)
    # And with a table saying the class had 1 vCPU, the 2-vCPU minimum still bills 2
    table = load_table("us-east-1")
    one_vcpu = replace(
        table,
        quantities={
            **table.quantities,
            "rds.vcpu.db.t4g.micro": Quantity("rds.vcpu.db.t4g.micro", "vCPU", 1, "test", None),
        },
    )
    assert line(estimate(resources, config(), table=one_vcpu), "proxy", "proxy") == pytest.approx(21.90)


def test_lambda_compute_uses_memory_duration_invocations_and_architecture() -> None:
    # Given the faturamento API alone carrying the faturamento service's 1M invocations of 40 ms
    usage = {"functions": {"faturamento": {"invocations": 1_000_000, "avgDurationMs": 40}}}
    arm = estimate([fn("faturamento-api", 512, "arm64")], config(usage=usage))
    x86 = estimate([fn("faturamento-api", 512, "x86_64")], config(usage=usage))
    # Then compute is 1M x 0.04 s x 0.5 GB = 20,000 GB-s at the arm64 or x86 GB-s price
    assert line(arm, "faturamento-api", "compute") == pytest.approx(20_000 * 0.0000133334)
    assert line(x86, "faturamento-api", "compute") == pytest.approx(20_000 * 0.0000166667)
    assert line(arm, "faturamento-api", "requests") == pytest.approx(0.20)


def test_twice_the_invocations_twice_the_lambda_request_cost() -> None:
    # Given the same function under 1M and 2M invocations per month
    def usage(n: int) -> dict[str, Any]:
        return {"functions": {"faturamento": {"invocations": n, "avgDurationMs": 40}}}

    once = estimate([fn("faturamento-api")], config(usage=usage(1_000_000)))
    twice = estimate([fn("faturamento-api")], config(usage=usage(2_000_000)))
    # Then request and compute costs double
    assert line(twice, "faturamento-api", "requests") == pytest.approx(2 * line(once, "faturamento-api", "requests"))
    assert line(twice, "faturamento-api", "compute") == pytest.approx(2 * line(once, "faturamento-api", "compute"))


def test_a_service_invocations_split_evenly_between_its_api_and_consumer() -> None:
    # Given both faturamento functions, a publisher on its one-minute schedule and the migrator
    resources = [
        fn("faturamento-api"),
        fn("faturamento-consumer"),
        fn("outbox-publisher", 256),
        schedule(),
        fn("db-migrator", 256),
    ]
    result = estimate(resources, config())
    # Then each faturamento function gets half of 1M, the publisher one run a minute, the migrator nothing
    assert line(result, "faturamento-api", "requests") == pytest.approx(0.10)
    assert line(result, "faturamento-consumer", "requests") == pytest.approx(0.10)
    assert line(result, "outbox-publisher", "requests") == pytest.approx(43_800 * 0.20 / 1e6)
    assert line(result, "db-migrator", "requests") == 0.0


def test_a_function_outside_the_topology_is_unpriced() -> None:
    # Given a Lambda whose name matches no function of nfe/topology.py
    result = estimate([fn("image-resizer")], config())
    # Then there is no usage for it: unpriced, with the reason
    assert not result.items
    assert "topology" in result.unpriced[0].reason


def test_active_tracing_adds_one_trace_per_invocation() -> None:
    # Given a traced and an untraced faturamento API (1M invocations)
    traced = estimate([fn("faturamento-api", tracingConfig={"mode": "Active"})], config())
    plain = estimate([fn("faturamento-api")], config())
    # Then the traced one pays 1M traces x $5/1M = $5.00 more
    assert line(traced, "faturamento-api", "traces") == pytest.approx(5.00)
    assert traced.monthly_total - plain.monthly_total == pytest.approx(5.00)


def test_sqs_counts_three_requests_per_message_and_dlqs_carry_none() -> None:
    # Given one queue and its DLQ carrying the usage's 1M messages
    resources = [res("aws:sqs/queue:Queue", "estoque-reserva"), res("aws:sqs/queue:Queue", "estoque-reserva-dlq")]
    result = estimate(resources, config())
    # Then 3M requests x $0.40/1M = $1.20 on the queue, $0 on the DLQ
    assert line(result, "estoque-reserva", "requests") == pytest.approx(1.20)
    assert line(result, "estoque-reserva-dlq", "requests") == 0.0


def test_interface_endpoint_is_billed_per_az_of_its_subnets() -> None:
    # Given an interface endpoint in two subnets and a gateway endpoint
    two = res(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "events",
        {
            "vpcEndpointType": "Interface",
            "subnetIds": ["subnet-a", "subnet-b"],
            "serviceName": "com.amazonaws.us-east-1.events",
        },
    )
    gateway = res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"})
    result = estimate([two, gateway], config())
    # Then 2 AZ x 730 h x $0.01 = $14.60; the gateway endpoint is priced, at $0 (not unpriced)
    assert line(result, "events", "endpoint") == pytest.approx(14.60)
    assert line(result, "s3", "endpoint") == 0.0
    assert result.unpriced == []


def test_unknown_type_is_reported_unpriced_and_never_counted() -> None:
    # Given a priced KMS key and a type the tables do not know
    key = res("aws:kms/key:Key", "key")
    mystery = res("aws:sns/topic:Topic", "alarms")
    alone = estimate([key], config())
    both = estimate([key, mystery], config())
    # Then the unknown type is listed unpriced, with a reason, and the total does not move
    assert [(u.resource, u.type) for u in both.unpriced] == [("alarms", "aws:sns/topic:Topic")]
    assert both.unpriced[0].reason
    assert both.monthly_total == alone.monthly_total == pytest.approx(1.00)
    assert both.to_json()["unpriced"] == [
        {"resource": "alarms", "type": "aws:sns/topic:Topic", "reason": "no price line for this type"}
    ]


def test_free_types_and_components_are_counted_free_not_unpriced() -> None:
    # Given a component, an IAM role and a security group
    resources = [
        component("nfe:index:SecureDatabase", "database"),
        res("aws:iam/role:Role", "role"),
        res("aws:ec2/securityGroup:SecurityGroup", "sg"),
    ]
    result = estimate(resources, config())
    # Then nothing is priced and nothing is unpriced
    assert (result.items, result.unpriced, result.free_resources) == ([], [], 3)


def test_items_are_attributed_to_the_nearest_component_ancestor() -> None:
    # Given a key inside a sub-resource of the SecureDatabase component
    parent = component("nfe:index:SecureDatabase", "database")
    middle = res("aws:iam/role:Role", "database-role", parent=parent.urn)
    key = res("aws:kms/key:Key", "database-key", parent=middle.urn)
    result = estimate([parent, middle, key], config())
    # Then its line belongs to "database"; a top-level resource belongs to "stack"
    assert result.items[0].component == "database"
    assert estimate([res("aws:kms/key:Key", "k")], config()).items[0].component == "stack"


def test_an_input_unknown_at_preview_makes_the_resource_unpriced() -> None:
    # Given an instance whose class is only known after apply
    result = estimate([db(instanceClass=UNKNOWN)], config())
    # Then it is unpriced with that reason, not guessed
    assert not result.items
    assert result.unpriced[0].reason == "input instanceClass is unknown until apply"


def test_prices_not_found_in_sa_east_1_make_the_resource_unpriced() -> None:
    # Given a Brazilian stack with a queue (SQS price not found there) and a Lambda (priced there)
    sa = config(region="sa-east-1", network={"availabilityZoneIds": ["sae1-az1", "sae1-az2"]})
    result = estimate([res("aws:sqs/queue:Queue", "estoque-reserva"), fn("faturamento-api")], sa)
    # Then the queue is unpriced naming the missing line, and the Lambda is priced at the same rate
    assert [u.resource for u in result.unpriced] == ["estoque-reserva"]
    assert "sqs.requests.standard not found for sa-east-1" in result.unpriced[0].reason
    assert line(result, "faturamento-api", "requests") == pytest.approx(0.20)
    assert result.region == "sa-east-1"


def test_free_tier_is_off_by_default_and_shared_in_proportion() -> None:
    # Given 2M Lambda invocations in three functions (faturamento 1M; estoque's 1M split in two)
    resources = [fn("faturamento-api"), fn("estoque-api"), fn("estoque-consumer", 256)]
    paid = estimate(resources, config())
    free = estimate(resources, config(), free_tier=True)
    requests = [i for i in free.items if i.dimension == "requests"]
    # Then without --free-tier all 2M requests are billed ($0.40); with it 1M are free ($0.20)
    assert sum(i.monthly for i in paid.items if i.dimension == "requests") == pytest.approx(0.40)
    assert sum(i.monthly for i in requests) == pytest.approx(0.20)
    assert all("free" in i.basis for i in requests)
    # And 35,000 GB-s of compute are all inside the 400,000 GB-s allowance
    assert sum(i.monthly for i in free.items if i.dimension == "compute") == 0.0


def test_json_has_the_agreed_shape() -> None:
    # Given an estimate of a small stack
    document = estimate([db(), res("aws:sns/topic:Topic", "alarms")], config()).to_json()
    # Then the top level and item keys are exactly the interface's
    assert set(document) == {"stack", "region", "currency", "monthlyTotal", "items", "unpriced", "baseline"}
    assert document["currency"] == "USD"
    assert all(set(i) == {"resource", "type", "component", "monthly", "basis"} for i in document["items"])
    assert {"name", "monthlyTotal", "items"} <= set(document["baseline"])
    json.dumps(document)


def test_the_seed_baseline_lines_do_not_add_up_to_its_claim() -> None:
    # Given the seed baseline recomputed with us-east-1 prices
    baseline = estimate([], config()).baseline
    # Then its five lines sum to $171 against a $180 claim, and list prices replace them where found
    assert baseline.monthly_total == 171.0
    assert baseline.claimed_total == 180.0
    by_line = {b.line.split(" ")[0]: b for b in baseline.lines}
    assert by_line["Database"].list_price == pytest.approx(0.032 * 730 + 20 * 0.23)
    assert by_line["ALB"].list_price == pytest.approx((0.0225 + 0.008) * 730)
    # And the broker has no list price: the seed's $28 stays, labelled as the seed's own claim
    assert by_line["RabbitMQ"].list_price is None
    assert "seed's own claim" in by_line["RabbitMQ"].basis
    assert baseline.list_price_total == pytest.approx(
        sum(b.seed if b.list_price is None else b.list_price for b in baseline.lines), abs=0.01
    )


def test_every_type_token_named_is_a_real_pulumi_aws_type() -> None:
    # Given every aws: token the estimator prices or knows to be free
    tokens = sorted(t for t in FREE_TYPES | set(PRICERS) if t.startswith("aws:"))
    # When looked up in the installed pulumi-aws package's @pulumi.type_token declarations
    missing = []
    for token in tokens:
        module = token.split(":")[1].split("/")[0]
        folder = PULUMI_AWS / (f"{module}_" if (PULUMI_AWS / f"{module}_").is_dir() else module)
        marker = f'@pulumi.type_token("{token}")'
        if not any(marker in path.read_text() for path in folder.glob("*.py")):
            missing.append(token)
    # Then none is a typo that would make a priced type look free or unknown
    assert missing == []


def _citations(source: str) -> set[str]:
    # "L (lambda.json); C; O" cites L, C and O: each "; " part starts with a source key.
    return {part.strip().split(" ")[0] for part in source.split(";")}


@pytest.mark.parametrize("region", ["us-east-1", "sa-east-1"])
def test_price_tables_are_complete_and_sourced(region: str) -> None:
    # Given a region's price table file
    document = json.loads((PRICES_DIR / f"{region}.json").read_text())
    table = parse_table(document)
    other = load_table("sa-east-1" if region == "us-east-1" else "us-east-1")
    # Then it prices the same keys as the other region, each line with a known unit and a cited source
    assert set(table.prices) == set(other.prices)
    for raw in document["prices"]:
        assert set(raw) == {"key", "unit", "price", "source", "date"}
        assert raw["unit"] in UNITS
        assert _citations(raw["source"]) <= set(table.sources), raw
        # And a null price cites "NF" (not found) alone, with no date
        assert (raw["price"] is None) == (_citations(raw["source"]) == {"NF"}), raw
        if raw["price"] is None:
            assert raw["date"] is None
    for fact in [*document["freeTier"], *document["quantities"]]:
        assert _citations(fact["source"]) <= set(table.sources) - {"NF"}, fact


def test_the_scheduled_publisher_runs_as_often_as_its_schedule_says() -> None:
    # Given the publisher beside its schedule, at the design's rate and at others
    def runs(expression: str, **extra: Any) -> float:
        result = estimate([fn("outbox-publisher", 256), schedule(expression, **extra)], config())
        requests = next(i for i in result.items if i.dimension == "requests")
        assert expression in requests.basis or extra
        return requests.monthly / 0.20 * 1e6

    # Then rate(1 minute) is 730 h x 60 = 43,800 runs a month, not the seed's 500,000
    assert runs("rate(1 minute)") == pytest.approx(43_800)
    assert runs("rate(5 minutes)") == pytest.approx(8_760)
    assert runs("rate(1 hour)") == pytest.approx(730)
    # And a cron of every 15 minutes all day is 4 x 24 a day over 730 / 24 days
    assert runs("cron(0/15 * * * ? *)") == pytest.approx(4 * 730)
    assert runs("cron(0 8-17 ? * * *)") == pytest.approx(10 * 730 / 24)
    # And a disabled schedule runs nothing
    assert runs("rate(1 minute)", state="DISABLED") == 0.0


def test_a_publisher_without_a_readable_schedule_is_unpriced() -> None:
    # Given the publisher alone, with a cron that picks weekdays, and with an unknown expression
    cases = {
        "alone": [fn("outbox-publisher", 256)],
        "weekdays": [fn("outbox-publisher", 256), schedule("cron(0 8 ? * MON-FRI *)")],
        "unknown": [fn("outbox-publisher", 256), schedule(UNKNOWN)],
    }
    reasons = {case: estimate(resources, config()).unpriced[0].reason for case, resources in cases.items()}
    # Then it is unpriced with the reason, never priced at a made-up figure
    assert reasons["alone"].startswith("no scheduled rule beside it")
    assert "monthly count is not modelled" in reasons["weekdays"]
    assert reasons["unknown"] == "schedule outbox-publisher-schedule: input scheduleExpression is unknown until apply"


def test_usage_invocations_for_the_publisher_override_its_schedule() -> None:
    # Given a usage file that sets the publisher's invocations
    usage = {"functions": {"publisher": {"invocations": 100_000, "avgDurationMs": 120}}}
    result = estimate([fn("outbox-publisher", 256), schedule()], config(usage=usage))
    # Then that figure is used, and the basis says where it came from
    requests = next(i for i in result.items if i.dimension == "requests")
    assert requests.monthly == pytest.approx(0.02)
    assert "usage.functions.publisher" in requests.basis


def test_the_default_usage_and_both_stacks_leave_the_publisher_to_its_schedule() -> None:
    # Given the default usage and the stack files
    defaults = config().usage.functions["publisher"]
    stacks = [load_stack_file(ROOT / f"Pulumi.{stack}.yaml").usage.functions["publisher"] for stack in ("dev", "prod")]
    # Then none sets the publisher's invocations (the seed's 500,000 cannot happen with this design)
    assert [u.invocations for u in (defaults, *stacks)] == [None, None, None]
    assert all(u.avg_duration_ms == 120 for u in (defaults, *stacks))


def test_schema_discovery_free_allowance_applies_under_free_tier() -> None:
    # Given a discoverer on a bus carrying 1M and then 8M events a month
    def discovery(events: int, free_tier: bool) -> float:
        resources = [res("aws:schemas/discoverer:Discoverer", "discoverer")]
        result = estimate(resources, config(usage={"eventsPublished": events}), free_tier=free_tier)
        return line(result, "discoverer", "discovery")

    # Then without --free-tier every event is billed at $0.10/1M
    assert discovery(1_000_000, False) == pytest.approx(0.10)
    # And with it the first 5M ingested events a month are free (EventBridge user guide)
    assert discovery(1_000_000, True) == 0.0
    assert discovery(8_000_000, True) == pytest.approx(0.30)
    assert load_table("us-east-1").free_tier["freeTier.eventbridge.schema.discovery"].value == 5_000_000


def test_a_dashboard_is_a_flat_monthly_fee() -> None:
    # Given a CloudWatch dashboard
    result = estimate([res("aws:cloudwatch/dashboard:Dashboard", "ops", {"dashboardName": "nfe-dev"})], config())
    # Then it costs $3.00 a month in us-east-1; no source gives the sa-east-1 price: unpriced there
    assert line(result, "ops", "dashboard") == pytest.approx(3.00)
    sa = config(region="sa-east-1", network={"availabilityZoneIds": ["sae1-az1", "sae1-az2"]})
    unpriced = estimate([res("aws:cloudwatch/dashboard:Dashboard", "ops")], sa).unpriced
    assert "cloudwatch.dashboard not found for sa-east-1" in unpriced[0].reason
