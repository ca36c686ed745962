"""What each priced resource type consumes in a month: quantities and the price lines they bill on.

Each pricer reads one resource's camelCase inputs and the stack's usage and returns `Charge`s, or
raises `Unpriceable` when an input it needs is missing, unknown at preview, secret, or names
something the price table has no line for. Inputs are read through `get` / `number` / `flag` /
`items` only, which refuse unknown and secret values at any depth. Assumptions are module
constants, quoted in docs/cost.md.
"""

from __future__ import annotations

from collections.abc import Callable

from nfe.cost import archive, hosting
from nfe.cost.cognito import USER_POOL, price_user_pool
from nfe.cost.metrics import metrics_of
from nfe.cost.pricing import (
    DB_INSTANCE,
    EVENT_BUS,
    LAMBDA,
    LOG_GROUP,
    PROXY_TARGET,
    QUEUE,
    REST_API,
    VPC_ENDPOINT,
    Charge,
    FunctionDemand,
    PricingContext,
    Resource,
    Unpriceable,
    flag,
    get,
    items,
    num,
    number,
    physical_name,
)
from nfe.topology import FUNCTIONS, queues_for

# Each SQS message costs a SendMessage, a ReceiveMessage and a DeleteMessage (one 64 KB chunk each;
# our events are far smaller). Lambda's idle long polling of empty queues is not modelled.
SQS_REQUESTS_PER_MESSAGE = 3
# Average size of one saga event on the bus, for the archive (our events are small JSON documents).
AVG_EVENT_KB = 1.0
# A log group or archive without retention keeps growing; it is priced as it stands after a year.
UNBOUNDED_RETENTION_MONTHS = 12
# One LCU is the reference's worked example and an upper bound at the seed's traffic.
ALB_ASSUMED_LCUS = 1.0
# Secrets a function of nfe/topology.py reads, recognised by the tag the program sets on them
# (components/sefaz_participant.py), with the hours each of its containers keeps the value: the SEFAZ
# participant reads the A1 certificate once per container and keeps it an hour
# (functions/sefaz/certificate.py DEFAULT_MAX_AGE_SECONDS).
SECRET_READERS: dict[tuple[str, str], tuple[str, float]] = {
    ("nfe:secret", "sefaz-certificate"): ("sefaz-autorizador", 1.0),
}


def direct_events_per_invocation(function: str | None) -> int:
    """Events a function puts on the bus itself, at most, per invocation: a consumer that publishes and
    has no database has no outbox (the SEFAZ participant), so its answers are PutEvents of its own,
    one per record of its batch, and not part of usage.eventsPublished (the outboxes' events)."""
    spec = next((f for f in FUNCTIONS if f.name == function), None)
    if spec is None or not spec.publishes_events or spec.database_role is not None or spec.kind != "consumer":
        return 0
    return max((q.batch_size for q in queues_for(spec.name)), default=1)


def _direct_events(ctx: PricingContext) -> tuple[float, str]:
    """The events the stack's direct publishers put on the bus a month, and how that was reached."""
    total, parts = 0.0, []
    for resource in ctx.of_type(LAMBDA):
        demand = ctx.demands.get(resource.urn)
        if not isinstance(demand, FunctionDemand):
            continue
        per = direct_events_per_invocation(demand.function)
        if per:
            total += demand.invocations * per
            parts.append(f"{demand.function} {num(demand.invocations)} invocations x {per}")
    return total, ", ".join(parts)


def _architecture(resource: Resource) -> str:
    architectures = items(resource, "architectures")
    if not architectures:
        return "x86_64"  # AWS's default
    if len(architectures) != 1 or architectures[0] not in ("arm64", "x86_64"):
        raise Unpriceable(f"architectures {architectures!r} have no price line")
    return str(architectures[0])


def _metrics_enabled(resource: Resource) -> bool:
    # Powertools reads POWERTOOLS_METRICS_DISABLED as a boolean string (local mode sets it).
    disabled = get(resource, "environment.variables.POWERTOOLS_METRICS_DISABLED", "false")
    return str(disabled).strip().lower() not in ("1", "true", "yes", "on")


def price_lambda(resource: Resource, ctx: PricingContext) -> list[Charge]:
    demand = ctx.demands.get(resource.urn)
    if demand is None or isinstance(demand, str):
        raise Unpriceable(demand or "no usage figure")
    if number(resource, "ephemeralStorage.size", 512) > 512:
        raise Unpriceable("ephemeral storage above 512 MB has no price line")
    memory_mb = number(resource, "memorySize", 128)
    arch = _architecture(resource)
    memory_gb = memory_mb / 1024
    invocations = demand.invocations
    gb_seconds = invocations * demand.duration_ms / 1000 * memory_gb
    charges = [
        Charge(
            "requests",
            invocations,
            "lambda.requests",
            derivation="",
            note=demand.how,
            free_pool="freeTier.lambda.requests",
        ),
        Charge(
            "compute",
            gb_seconds,
            f"lambda.duration.{arch}",
            derivation=f"{num(invocations)} x {num(demand.duration_ms)} ms x {num(memory_gb)} GB",
            note=arch,
            free_pool="freeTier.lambda.compute",
        ),
    ]
    if get(resource, "tracingConfig.mode", "PassThrough") == "Active":
        charges.append(
            Charge(
                "traces",
                invocations,
                "xray.traces.recorded",
                note="X-Ray active tracing; upper bound: one trace per invocation",
                free_pool="freeTier.xray.traces",
            )
        )
    emitted = metrics_of(demand.function) if demand.function and _metrics_enabled(resource) else []
    if emitted:
        charges.append(
            Charge(
                "custom-metrics",
                len(emitted),
                "cloudwatch.metric.custom",
                note="EMF, one per name and dimension set: " + ", ".join(m.name for m in emitted),
            )
        )
    return charges


# --- API Gateway, EventBridge, SQS --------------------------------------------------------------


def price_rest_api(resource: Resource, ctx: PricingContext) -> list[Charge]:
    usage = ctx.config.usage
    requests, how = ctx.share(usage.api_requests, REST_API, "apiRequests", "REST APIs")
    data_gb, data_how = ctx.share(usage.data_transfer_out_gb, REST_API, "dataTransferOutGb", "REST APIs")
    return [
        Charge(
            "requests", requests, "apigateway.rest.requests", note=how, free_pool="freeTier.apigateway.rest.requests"
        ),
        Charge(
            "data-out",
            data_gb,
            "datatransfer.out.internet",
            note=f"{data_how}; responses to the internet",
            free_pool="freeTier.datatransfer.out",
        ),
    ]


def price_stage(resource: Resource, ctx: PricingContext) -> list[Charge]:
    if flag(resource, "cacheClusterEnabled", False):
        raise Unpriceable("the API cache has no price line")
    return []


def _bus_events(ctx: PricingContext) -> tuple[float, str]:
    """Every event a bus carries: the outboxes' (usage.eventsPublished) and the direct publishers'."""
    events, how = ctx.share(ctx.config.usage.events_published, EVENT_BUS, "eventsPublished", "buses")
    direct, _ = ctx.share(_direct_events(ctx)[0], EVENT_BUS, "direct", "buses")
    if direct:
        return events + direct, f"{how} + {num(direct)} put by the SEFAZ participant"
    return events, how


def price_event_bus(resource: Resource, ctx: PricingContext) -> list[Charge]:
    events, how = ctx.share(ctx.config.usage.events_published, EVENT_BUS, "eventsPublished", "buses")
    charges = [Charge("events", events, "eventbridge.events.custom", note=f"{how}; one 64 KB chunk each")]
    total, direct_how = _direct_events(ctx)
    if total:
        direct, _ = ctx.share(total, EVENT_BUS, "direct", "buses")
        charges.append(
            Charge(
                "direct-events",
                direct,
                "eventbridge.events.custom",
                derivation=direct_how,
                note="put by a function without an outbox, the SEFAZ participant: one per record, an upper "
                "bound (an attempt SEFAZ does not answer puts none); not in usage.eventsPublished",
            )
        )
    return charges


def _retained_months(days: float, what: str) -> tuple[float, str]:
    if days <= 0:
        return UNBOUNDED_RETENTION_MONTHS, f"{what} kept forever: shown after {UNBOUNDED_RETENTION_MONTHS} months"
    days_per_month = 730 / 24
    return days / days_per_month, f"{num(days)}-day retention = {num(days / days_per_month)} months of data"


def price_event_archive(resource: Resource, ctx: PricingContext) -> list[Charge]:
    events, how = _bus_events(ctx)
    gb = events * AVG_EVENT_KB / (1024 * 1024)
    months, retention = _retained_months(number(resource, "retentionDays", 0), "archive")
    derivation = f"{num(events)} events x {num(AVG_EVENT_KB)} KB"
    return [
        Charge("archive-in", gb, "eventbridge.archive.processing", derivation=derivation, note=how),
        Charge(
            "archive-storage",
            gb * months,
            "eventbridge.archive.storage",
            derivation=f"{num(gb)} GB x {num(months)}",
            note=retention,
        ),
    ]


def price_discoverer(resource: Resource, ctx: PricingContext) -> list[Charge]:
    events, how = _bus_events(ctx)
    return [
        Charge(
            "discovery",
            events,
            "eventbridge.schema.discovery",
            note=f"{how}; one 8 KB chunk each",
            free_pool="freeTier.eventbridge.schema.discovery",
        )
    ]


def _is_dlq(resource: Resource) -> bool:
    # The logical name decides when it says so; otherwise the `name` input must be known.
    if "dlq" in resource.name.lower():
        return True
    name = physical_name(resource)
    return name is not None and "dlq" in name.lower()


def _main_queues(ctx: PricingContext) -> list[Resource]:
    main = []
    for queue in ctx.of_type(QUEUE):
        try:
            if not _is_dlq(queue):
                main.append(queue)
        except Unpriceable as exc:
            # Its share of the messages depends on how many main queues there are.
            raise Unpriceable(
                f"usage.sqsMessages is shared between the main queues, and {queue.name}'s {exc.reason}"
            ) from None
    return main


def price_queue(resource: Resource, ctx: PricingContext) -> list[Charge]:
    key = "sqs.requests.fifo" if flag(resource, "fifoQueue", False) else "sqs.requests.standard"
    if _is_dlq(resource):
        return [
            Charge(
                "requests",
                0,
                key,
                note="dead-letter queue: no failed messages assumed",
                free_pool="freeTier.sqs.requests",
            )
        ]
    main = _main_queues(ctx)
    messages = ctx.config.usage.sqs_messages / len(main)
    how = (
        "usage.sqsMessages"
        if len(main) == 1
        else f"usage.sqsMessages {num(ctx.config.usage.sqs_messages)} / {len(main)} queues"
    )
    return [
        Charge(
            "requests",
            messages * SQS_REQUESTS_PER_MESSAGE,
            key,
            derivation=f"{num(messages)} messages x {SQS_REQUESTS_PER_MESSAGE} (send, receive, delete)",
            note=how,
            free_pool="freeTier.sqs.requests",
        )
    ]


# --- Database -----------------------------------------------------------------------------------


def price_db_instance(resource: Resource, ctx: PricingContext) -> list[Charge]:
    engine = get(resource, "engine")
    if engine != "postgres":
        raise Unpriceable(f"engine {engine!r} has no price lines (the table prices PostgreSQL)")
    instance_class = get(resource, "instanceClass")
    multi_az = flag(resource, "multiAz", False)
    az_key, az_label = ("multi-az", "Multi-AZ") if multi_az else ("single-az", "Single-AZ")
    # AWS defaults when the program leaves storageType out: gp2, or io1 when iops is set.
    storage_type = get(resource, "storageType", None) or ("io1" if get(resource, "iops", None) else "gp2")
    if storage_type != "gp3":
        raise Unpriceable(f"storage type {storage_type} has no price line (the table prices gp3)")
    storage_gb = number(resource, "allocatedStorage")
    charges = [
        Charge("instance", ctx.hours, f"rds.postgres.{instance_class}.{az_key}", note=f"{instance_class}, {az_label}"),
        Charge(
            "storage",
            storage_gb,
            f"rds.storage.gp3.{az_key}",
            note="gp3, Multi-AZ: twice the Single-AZ rate" if multi_az else "gp3, Single-AZ",
        ),
    ]
    retention = number(resource, "backupRetentionPeriod", 0)
    if retention > 0:
        charges.append(
            Charge(
                "backup",
                0,
                "rds.backup.storage",
                note=f"{num(retention)}-day backups assumed to fit the free {num(storage_gb)} GB, 100% of storage",
            )
        )
    if flag(resource, "manageMasterUserPassword", False):
        charges.append(
            Charge(
                "master-secret",
                1,
                "secretsmanager.secret",
                note="RDS-managed master user secret, billed though not a Pulumi resource",
            )
        )
    return charges


def _fronted_instance(ctx: PricingContext) -> Resource:
    instances = ctx.of_type(DB_INSTANCE)
    if len(instances) == 1:
        return instances[0]  # nothing to tell apart: the targets need not be read
    targets = {get(t, "dbInstanceIdentifier") for t in ctx.of_type(PROXY_TARGET)}
    fronted = [i for i in instances if get(i, "identifier", None) in targets]
    if len(fronted) != 1:
        raise Unpriceable("cannot tell which DB instance the proxy fronts; its price is per vCPU of that instance")
    return fronted[0]


def price_db_proxy(resource: Resource, ctx: PricingContext) -> list[Charge]:
    instance_class = get(_fronted_instance(ctx), "instanceClass")
    vcpus = ctx.table.quantities.get(f"rds.vcpu.{instance_class}")
    minimum = ctx.table.quantities.get("rds.proxy.minimumVcpu")
    if vcpus is None or minimum is None:
        raise Unpriceable(f"vCPU count of {instance_class} is not in the price table")
    billed = max(vcpus.value, minimum.value)
    return [
        Charge(
            "proxy",
            billed * ctx.hours,
            "rds.proxy.vcpu",
            derivation=f"{num(billed)} vCPU x {ctx.hours} h",
            note=f"{instance_class} has {num(vcpus.value)} vCPU; {num(minimum.value)}-vCPU minimum",
        )
    ]


# --- Keys, secrets, network ---------------------------------------------------------------------


def price_kms_key(resource: Resource, ctx: PricingContext) -> list[Charge]:
    return [Charge("key", 1, "kms.key", note="customer managed key; requests not in usage")]


def _secret_reads(ctx: PricingContext, reader: str, cache_hours: float) -> Charge:
    """GetSecretValue calls a month by `reader`'s containers: each reads once and keeps the value
    `cache_hours`, and there are at most its reserved concurrency of them at a time."""
    calls, parts = 0.0, []
    for function in ctx.of_type(LAMBDA):
        demand = ctx.demands.get(function.urn)
        if not isinstance(demand, FunctionDemand) or demand.function != reader:
            continue
        reserved = number(function, "reservedConcurrentExecutions", -1)
        if reserved < 0:
            calls += demand.invocations
            parts.append(f"{num(demand.invocations)} invocations (no reserved concurrency bounds its containers)")
            continue
        calls += min(demand.invocations, reserved * ctx.hours / cache_hours)
        containers = f"{num(reserved)} containers x {ctx.hours} h / {num(cache_hours)} h"
        parts.append(f"min({num(demand.invocations)} invocations, {containers})")
    note = (
        f"{reader} reads it once per container and keeps it {num(cache_hours)} h; more if containers are "
        "replaced often, never more than one per invocation"
        if parts
        else f"{reader} is not in the stack: nobody reads it"
    )
    return Charge("api-calls", calls, "secretsmanager.api", derivation=", ".join(parts), note=note)


def price_secret(resource: Resource, ctx: PricingContext) -> list[Charge]:
    charges = [Charge("secret", 1, "secretsmanager.secret")]
    for (key, value), (reader, cache_hours) in SECRET_READERS.items():
        if get(resource, f"tags.{key}", None) == value:
            charges.append(_secret_reads(ctx, reader, cache_hours))
    return charges


def _interface_endpoints(ctx: PricingContext) -> list[Resource]:
    found = []
    for endpoint in ctx.of_type(VPC_ENDPOINT):
        try:
            if get(endpoint, "vpcEndpointType", "Gateway") == "Interface":
                found.append(endpoint)
        except Unpriceable as exc:
            # Its share of the endpoint data depends on how many interface endpoints there are.
            raise Unpriceable(
                f"usage.endpointDataGb is shared between the interface endpoints, and {endpoint.name}'s {exc.reason}"
            ) from None
    return found


def price_vpc_endpoint(resource: Resource, ctx: PricingContext) -> list[Charge]:
    kind = get(resource, "vpcEndpointType", "Gateway")
    if kind == "Gateway":
        # Shown at $0 rather than counted among the free types: a reviewer sees the endpoint was priced.
        return [
            Charge("endpoint", ctx.hours, "vpc.endpoint.gateway", note="gateway endpoint (S3, DynamoDB): no charge")
        ]
    if kind != "Interface":
        raise Unpriceable(f"{kind} endpoints have no price line")
    subnets = get(resource, "subnetIds", None)
    if not isinstance(subnets, list) or not subnets:
        raise Unpriceable("an interface endpoint without subnetIds: its AZ count is unknown")
    # An endpoint takes at most one subnet per AZ, so its subnets are its AZs. The subnet ids
    # themselves may be unknown (a first preview): only their count matters.
    azs = len(subnets)
    interface_count = len(_interface_endpoints(ctx))
    total = ctx.config.usage.endpoint_data_gb
    data_gb = total / max(1, interface_count)
    how = (
        "usage.endpointDataGb"
        if interface_count <= 1
        else f"usage.endpointDataGb {num(total)} / {interface_count} endpoints"
    )
    service = resource.inputs.get("serviceName")
    label = service.rsplit(".", 1)[-1] if isinstance(service, str) and "." in service else "interface"
    return [
        Charge(
            "endpoint",
            azs * ctx.hours,
            "vpc.endpoint.interface.hour",
            derivation=f"{azs} AZ x {ctx.hours} h",
            note=label,
        ),
        Charge("endpoint-data", data_gb, "vpc.endpoint.interface.data", note=how),
    ]


def price_nat_gateway(resource: Resource, ctx: PricingContext) -> list[Charge]:
    return [
        Charge("gateway", ctx.hours, "nat.hour"),
        Charge("nat-data", 0, "nat.data", note="data processed is not in usage: 0 GB assumed"),
    ]


def price_load_balancer(resource: Resource, ctx: PricingContext) -> list[Charge]:
    kind = get(resource, "loadBalancerType", "application")
    if kind != "application":
        raise Unpriceable(f"{kind} load balancers have no price line")
    return [
        Charge("balancer", ctx.hours, "alb.hour"),
        Charge(
            "lcu",
            ALB_ASSUMED_LCUS * ctx.hours,
            "alb.lcu",
            derivation=f"{num(ALB_ASSUMED_LCUS)} LCU x {ctx.hours} h",
            note="assumed",
        ),
    ]


def price_mq_broker(resource: Resource, ctx: PricingContext) -> list[Charge]:
    engine = str(get(resource, "engineType")).lower()
    instance = get(resource, "hostInstanceType")
    mode = get(resource, "deploymentMode", "SINGLE_INSTANCE")
    if engine != "rabbitmq" or mode != "SINGLE_INSTANCE":
        raise Unpriceable(f"{engine} {mode} brokers have no price line")
    return [Charge("broker", ctx.hours, f"mq.rabbitmq.{instance}.single-instance", note=instance)]


# --- CloudWatch ---------------------------------------------------------------------------------


def price_log_group(resource: Resource, ctx: PricingContext) -> list[Charge]:
    gb, how = ctx.share(ctx.config.usage.log_ingestion_gb, LOG_GROUP, "logIngestionGb", "log groups")
    months, retention = _retained_months(number(resource, "retentionInDays", 0), "logs")
    return [
        Charge("ingestion", gb, "logs.ingestion.standard", note=how),
        Charge(
            "log-storage",
            gb * months,
            "logs.storage",
            derivation=f"{num(gb)} GB x {num(months)}",
            note=f"{retention}; uncompressed, an upper bound",
        ),
    ]


def price_metric_alarm(resource: Resource, ctx: PricingContext) -> list[Charge]:
    period = get(resource, "period", None)
    if period is not None and number(resource, "period") < 60:
        raise Unpriceable("high-resolution alarms have no price line")
    queries = get(resource, "metricQueries", None)
    # A metric-math alarm is billed per metric it reads, not per expression.
    if queries is None:
        metrics = 1
    else:
        count = len(items(resource, "metricQueries"))
        metrics = sum(1 for i in range(count) if get(resource, f"metricQueries[{i}].metric", None) is not None)
    return [Charge("alarm", max(1, metrics), "cloudwatch.alarm.standard", note="standard resolution")]


def price_dashboard(resource: Resource, ctx: PricingContext) -> list[Charge]:
    # A flat monthly fee per dashboard, whatever its body holds.
    return [Charge("dashboard", 1, "cloudwatch.dashboard")]


PRICERS: dict[str, Callable[[Resource, PricingContext], list[Charge]]] = {
    LAMBDA: price_lambda,
    REST_API: price_rest_api,
    "aws:apigateway/stage:Stage": price_stage,
    EVENT_BUS: price_event_bus,
    "aws:cloudwatch/eventArchive:EventArchive": price_event_archive,
    "aws:schemas/discoverer:Discoverer": price_discoverer,
    QUEUE: price_queue,
    DB_INSTANCE: price_db_instance,
    "aws:rds/proxy:Proxy": price_db_proxy,
    "aws:kms/key:Key": price_kms_key,
    "aws:secretsmanager/secret:Secret": price_secret,
    VPC_ENDPOINT: price_vpc_endpoint,
    "aws:ec2/natGateway:NatGateway": price_nat_gateway,
    "aws:lb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:mq/broker:Broker": price_mq_broker,
    LOG_GROUP: price_log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": price_metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": price_dashboard,
    USER_POOL: price_user_pool,
    **hosting.PRICERS,
    # Buckets: the fiscal archive and the access logs, else the console's (hosting.price_bucket).
    **archive.PRICERS,
}

# Inputs a pricer reads only to label a line, never to compute it: an unknown value changes the
# label, not the price (tests/test_cost_unknowns.py holds pricers to this).
LABEL_ONLY_INPUTS: frozenset[tuple[str, str]] = frozenset({(VPC_ENDPOINT, "serviceName")})
