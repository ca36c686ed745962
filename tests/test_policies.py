"""Every policy of the pack, each with a passing and a violating resource (or stack).

Validators get what the analyzer gives them: properties over the wire (numbers as floats) behind
pulumi-policy's unknown-checking proxy, the policy's config with its schema defaults, and a
list-collecting `report_violation`.
"""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from nfe.mockrun import ACCOUNT_ID, ResourceRecord
from nfe.policy_runner import engine_config, load_pack, reconcile, resource_args, stack_args

PACK = load_pack()
POLICIES = {p.name: p for p in PACK.policies}
DEFAULTS = reconcile(PACK, {})
REGION = "us-east-1"

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
PROXY = "aws:rds/proxy:Proxy"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KMS_KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE = "aws:sqs/redrivePolicy:RedrivePolicy"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
BUS = "aws:cloudwatch/eventBus:EventBus"
ARCHIVE = "aws:cloudwatch/eventArchive:EventArchive"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
V2_STAGE = "aws:apigatewayv2/stage:Stage"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"


def resource(
    type_: str, name: str, inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None
) -> ResourceRecord:
    """A resource as the mock runner records it: inputs, and outputs = inputs plus computed values."""
    inputs = inputs or {}
    return ResourceRecord(
        urn=f"urn:pulumi:test::nfe::{type_}::{name}",
        type=type_,
        name=name,
        parent=None,
        inputs=inputs,
        custom=True,
        state={**inputs, **(outputs or {})},
    )


def queue(name: str, **inputs: Any) -> ResourceRecord:
    return resource(
        QUEUE,
        name,
        inputs,
        {
            "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
            "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}",
        },
    )


def function(name: str, **inputs: Any) -> ResourceRecord:
    return resource(
        FUNCTION, name, inputs, {"arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}", "name": name}
    )


def redrive(dlq: ResourceRecord, receives: int = 3) -> str:
    return json.dumps({"deadLetterTargetArn": dlq.state["arn"], "maxReceiveCount": receives})


def violations(policy_name: str, *resources: ResourceRecord, **config: Any) -> list[str]:
    """Messages the policy reports for these resources (one stack, for a stack policy)."""
    policy = POLICIES[policy_name]
    settings = {**DEFAULTS[policy_name].properties, **config}
    found: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append(message)

    if isinstance(policy, StackValidationPolicy):
        policy.validate(stack_args(list(resources), settings), report_violation)
    else:
        assert isinstance(policy, ResourceValidationPolicy)
        for record in resources:
            policy.validate(resource_args(record, settings), report_violation)
    return found


def only(messages: list[str]) -> str:
    assert len(messages) == 1, messages
    return messages[0]


# --- RDS ------------------------------------------------------------------------------------------


def test_rds_iam_auth_required() -> None:
    # Given an instance with IAM auth and one relying on the default (off)
    # When / Then only the second is reported
    assert (
        violations("rds-iam-auth-required", resource(INSTANCE, "db", {"iamDatabaseAuthenticationEnabled": True})) == []
    )
    assert "iamDatabaseAuthenticationEnabled" in only(violations("rds-iam-auth-required", resource(INSTANCE, "db")))


def test_rds_not_publicly_accessible() -> None:
    # Given a private instance (explicitly and by default) and a public one
    assert violations("rds-not-publicly-accessible", resource(INSTANCE, "a", {"publiclyAccessible": False})) == []
    assert violations("rds-not-publicly-accessible", resource(INSTANCE, "b")) == []
    # Then the public one is reported
    public = resource(INSTANCE, "c", {"publiclyAccessible": True})
    assert "publiclyAccessible" in only(violations("rds-not-publicly-accessible", public))


def test_rds_storage_encrypted_with_cmk() -> None:
    cmk = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd"
    # Given storage encrypted with a customer-managed key: fine
    good = resource(INSTANCE, "db", {"storageEncrypted": True, "kmsKeyId": cmk})
    assert violations("rds-storage-encrypted-with-cmk", good) == []
    # When it is unencrypted, or encrypted with the AWS-managed aws/rds key (explicitly or by default)
    unencrypted = resource(INSTANCE, "a")
    aws_managed = resource(INSTANCE, "b", {"storageEncrypted": True, "kmsKeyId": "alias/aws/rds"})
    default_key = resource(INSTANCE, "c", {"storageEncrypted": True})
    # Then each is reported
    assert "storageEncrypted" in only(violations("rds-storage-encrypted-with-cmk", unencrypted))
    assert "customer-managed" in only(violations("rds-storage-encrypted-with-cmk", aws_managed))
    assert "customer-managed" in only(violations("rds-storage-encrypted-with-cmk", default_key))


def test_rds_backup_retention() -> None:
    # Given seven days of backups: enough by default, not when the stack's config asks for 14
    week = resource(INSTANCE, "db", {"backupRetentionPeriod": 7})
    assert violations("rds-backup-retention", week) == []
    assert "at least 14" in only(violations("rds-backup-retention", week, minDays=14))
    # And three days, or RDS's one-day default, are not enough
    assert "is 3 days" in only(
        violations("rds-backup-retention", resource(INSTANCE, "a", {"backupRetentionPeriod": 3}))
    )
    assert "unset" in only(violations("rds-backup-retention", resource(INSTANCE, "b")))


def test_rds_multi_az() -> None:
    assert violations("rds-multi-az", resource(INSTANCE, "db", {"multiAz": True})) == []
    assert "multiAz" in only(violations("rds-multi-az", resource(INSTANCE, "db", {"multiAz": False})))


def _postgres(group: str | None) -> ResourceRecord:
    inputs: dict[str, Any] = {"engine": "postgres", "instanceClass": "db.t4g.micro"}
    if group:
        inputs["parameterGroupName"] = group
    return resource(INSTANCE, "db", inputs)


def _group(name: str, force_ssl: str) -> ResourceRecord:
    parameters = [{"name": "log_connections", "value": "1"}, {"name": "rds.force_ssl", "value": force_ssl}]
    return resource(
        PARAMETER_GROUP, f"{name}-resource", {"name": name, "family": "postgres16", "parameters": parameters}
    )


def test_rds_force_ssl() -> None:
    # Given an instance whose parameter group (matched by name, like the engine's outputs) forces TLS
    assert violations("rds-force-ssl", _postgres("pg-tls"), _group("pg-tls", "1")) == []
    # When the group sets 0, the instance uses the default group, or a group from outside the stack
    assert "rds.force_ssl=0" in only(violations("rds-force-ssl", _postgres("pg-tls"), _group("pg-tls", "0")))
    assert "default parameter group" in only(violations("rds-force-ssl", _postgres(None)))
    assert "not in this stack" in only(violations("rds-force-ssl", _postgres("elsewhere"), _group("pg-tls", "1")))
    # Then each is reported; a MySQL instance is not this policy's business
    mysql = resource(INSTANCE, "mysql", {"engine": "mysql"})
    assert violations("rds-force-ssl", mysql) == []


def test_rds_proxy_iam_auth() -> None:
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:app"
    # Given end-to-end IAM auth, or every auth entry requiring IAM
    assert violations("rds-proxy-iam-auth", resource(PROXY, "a", {"defaultAuthScheme": "IAM_AUTH"})) == []
    required = resource(PROXY, "b", {"auths": [{"authScheme": "SECRETS", "iamAuth": "REQUIRED", "secretArn": secret}]})
    assert violations("rds-proxy-iam-auth", required) == []
    # When an entry leaves IAM optional, or nothing is configured
    lax = resource(PROXY, "c", {"auths": [{"authScheme": "SECRETS", "iamAuth": "DISABLED", "secretArn": secret}]})
    assert secret in only(violations("rds-proxy-iam-auth", lax))
    assert "IAM_AUTH" in only(violations("rds-proxy-iam-auth", resource(PROXY, "d")))


def test_rds_proxy_require_tls() -> None:
    assert violations("rds-proxy-require-tls", resource(PROXY, "p", {"requireTls": True})) == []
    assert "requireTls" in only(violations("rds-proxy-require-tls", resource(PROXY, "p", {"requireTls": False})))


# --- security groups ------------------------------------------------------------------------------


def _inline(**rule: Any) -> ResourceRecord:
    return resource(SECURITY_GROUP, "sg", {"ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, **rule}]})


def test_db_port_ingress_sources_accepts_security_groups_and_prefix_lists() -> None:
    # Given database ingress from another group, from a managed prefix list, and a CIDR on another port
    from_group = _inline(securityGroups=["sg-0lambda"])
    from_prefix_list = resource(
        VPC_INGRESS, "admin", {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "prefixListId": "pl-0admin"}
    )
    https = _inline(fromPort=443, toPort=443, cidrBlocks=["10.0.0.0/8"])
    egress = resource(
        SG_RULE,
        "out",
        {"type": "egress", "protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/8"]},
    )
    # When / Then none is reported
    assert violations("db-port-ingress-sources", from_group, from_prefix_list, https, egress) == []


def test_db_port_ingress_sources_rejects_cidrs_in_every_rule_form() -> None:
    # Given a CIDR reaching 5432 inline, through a port range, and through "all traffic"
    inline = _inline(cidrBlocks=["10.20.0.0/16"])
    port_range = resource(
        SG_RULE,
        "range",
        {"type": "ingress", "protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["10.0.0.0/8"]},
    )
    everything = resource(VPC_INGRESS, "all", {"ipProtocol": "-1", "cidrIpv6": "fd00::/8"})
    # Then each is reported, naming the CIDR
    assert "10.20.0.0/16" in only(violations("db-port-ingress-sources", inline))
    assert "ports 0-65535" in only(violations("db-port-ingress-sources", port_range))
    assert "all ports" in only(violations("db-port-ingress-sources", everything))
    # And the database port is the policy's config: 3306 makes the inline 5432 rule irrelevant
    assert violations("db-port-ingress-sources", inline, ports=[3306]) == []


def test_no_open_ingress() -> None:
    # Given a private CIDR: fine
    assert violations("no-open-ingress", _inline(fromPort=443, toPort=443, cidrBlocks=["10.0.0.0/8"])) == []
    # When 0.0.0.0/0 or ::/0 is admitted, on any port and in any rule form
    web = _inline(fromPort=443, toPort=443, cidrBlocks=["0.0.0.0/0"])
    ipv6 = resource(VPC_INGRESS, "v6", {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv6": "::/0"})
    # Then it is reported
    assert "0.0.0.0/0" in only(violations("no-open-ingress", web))
    assert "::/0" in only(violations("no-open-ingress", ipv6))


# --- KMS ------------------------------------------------------------------------------------------


def test_kms_key_rotation() -> None:
    # Given a rotating symmetric key, and an asymmetric key AWS cannot rotate
    assert violations("kms-key-rotation", resource(KMS_KEY, "k", {"enableKeyRotation": True})) == []
    signing = resource(KMS_KEY, "sign", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"})
    assert violations("kms-key-rotation", signing) == []
    # Then a symmetric key without rotation is reported
    assert "enableKeyRotation" in only(violations("kms-key-rotation", resource(KMS_KEY, "k")))


# --- SQS ------------------------------------------------------------------------------------------


def test_sqs_encryption() -> None:
    assert violations("sqs-encryption", queue("a", sqsManagedSseEnabled=True)) == []
    assert violations("sqs-encryption", queue("b", kmsMasterKeyId="alias/nfe")) == []
    assert "encryption" in only(violations("sqs-encryption", queue("c")))
    assert "encryption" in only(violations("sqs-encryption", queue("d", sqsManagedSseEnabled=False)))


def test_sqs_dead_letter_queue_exempts_only_referenced_dlqs() -> None:
    # Given a queue redriving to its DLQ, and a DLQ of an EventBridge target
    dlq = queue("orders-dlq")
    orders = queue("orders", redrivePolicy=redrive(dlq))
    target_dlq = queue("target-failures")
    target = resource(TARGET, "t", {"deadLetterConfig": {"arn": target_dlq.state["arn"]}})
    # When the stack is checked, Then the working queue passes and neither DLQ needs one of its own
    assert violations("sqs-dead-letter-queue", dlq, orders, target_dlq, target) == []
    # And a redrive declared by a separate aws.sqs.RedrivePolicy counts too
    payments, payments_dlq = queue("payments"), queue("payments-dlq")
    separate = resource(
        REDRIVE, "payments-redrive", {"queueUrl": payments.state["url"], "redrivePolicy": redrive(payments_dlq)}
    )
    assert violations("sqs-dead-letter-queue", payments, payments_dlq, separate) == []


def test_sqs_dead_letter_queue_violations() -> None:
    # Given a queue with no DLQ, one retrying too often, and one merely *named* like a DLQ
    dlq = queue("retries-dlq")
    lenient = queue("retries", redrivePolicy=redrive(dlq, receives=10))
    assert "no redrive policy" in only(violations("sqs-dead-letter-queue", queue("orders")))
    assert "maxReceiveCount is 10" in only(violations("sqs-dead-letter-queue", lenient, dlq))
    assert "no redrive policy" in only(violations("sqs-dead-letter-queue", queue("lonely-dlq")))
    # And the limit is the policy's config
    assert violations("sqs-dead-letter-queue", lenient, dlq, maxReceiveCount=10) == []


def test_sqs_visibility_covers_consumer() -> None:
    # Given a 90 s queue consumed by a 15 s function (referenced by ARN): 6 x 15 = 90 fits
    work = queue("work", visibilityTimeoutSeconds=90)
    consumer = function("consumer", timeout=15)
    by_arn = resource(MAPPING, "m", {"eventSourceArn": work.state["arn"], "functionName": consumer.state["arn"]})
    assert violations("sqs-visibility-covers-consumer", work, consumer, by_arn) == []
    # When the consumer takes 30 s (referenced by name and alias)
    slow = function("consumer", timeout=30)
    by_alias = resource(MAPPING, "m", {"eventSourceArn": work.state["arn"], "functionName": "consumer:live"})
    message = only(violations("sqs-visibility-covers-consumer", work, slow, by_alias))
    # Then the queue is reported with the visibility it needs
    assert "90 s is less than 6 x the 30 s timeout of its consumer consumer (180 s)" in message
    # And a queue left at SQS's 30 s default fails a 15 s consumer
    default = queue("default")
    mapping = resource(MAPPING, "d", {"eventSourceArn": default.state["arn"], "functionName": "consumer"})
    assert "30 s" in only(violations("sqs-visibility-covers-consumer", default, consumer, mapping))


# --- EventBridge ----------------------------------------------------------------------------------


def _bus_with_archive(days: int | None) -> list[ResourceRecord]:
    arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/nfe-events"
    bus = resource(BUS, "bus", {"name": "nfe-events"}, {"arn": arn})
    if days is None:
        return [bus]
    inputs: dict[str, Any] = {"eventSourceArn": arn} | ({"retentionDays": days} if days else {})
    return [bus, resource(ARCHIVE, "archive", inputs)]


def test_eventbus_archive() -> None:
    # Given archives keeping 90 days and forever (retention unset)
    assert violations("eventbus-archive", *_bus_with_archive(90)) == []
    assert violations("eventbus-archive", *_bus_with_archive(0)) == []
    # When the archive keeps 30 days, or there is none
    assert "30 days" in only(violations("eventbus-archive", *_bus_with_archive(30)))
    assert "no archive" in only(violations("eventbus-archive", *_bus_with_archive(None)))


# --- Lambda ---------------------------------------------------------------------------------------


def test_lambda_reserved_concurrency() -> None:
    assert violations("lambda-reserved-concurrency", function("f", reservedConcurrentExecutions=10)) == []
    assert "unset" in only(violations("lambda-reserved-concurrency", function("f")))
    assert "unset" in only(violations("lambda-reserved-concurrency", function("f", reservedConcurrentExecutions=-1)))
    assert "throttles" in only(violations("lambda-reserved-concurrency", function("f", reservedConcurrentExecutions=0)))


def _env(**variables: str) -> ResourceRecord:
    return function("f", environment={"variables": variables})


def test_lambda_no_plaintext_secrets_accepts_references_and_ordinary_settings() -> None:
    # Given the migrator's secret ARN and the settings every function carries
    settings = _env(
        DB_SECRET_ARN=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:rds!db-abc",
        DB_IAM_AUTH="true",
        DB_HOST="db.internal",
        KMS_KEY_ID="1234abcd",
        EVENT_BUS_NAME="nfe-events-dev",
        POWERTOOLS_SERVICE_NAME="faturamento",
    )
    # Then nothing is reported
    assert violations("lambda-no-plaintext-secrets", settings) == []


def test_lambda_no_plaintext_secrets_rejects_literals_and_credential_shapes() -> None:
    # Given a password by name, a literal under an ARN-sounding secret name, and credentials by shape
    reported = violations(
        "lambda-no-plaintext-secrets",
        _env(DB_PASSWORD="hunter2-hunter2"),
        _env(DB_SECRET_ARN="hunter2-hunter2"),
        _env(STRIPE_API_KEY="abc123"),
        _env(DATABASE_URL="postgresql://app:s3cr3t-pw@db.internal:5432/nfe"),
        _env(LEGACY="AKIAIOSFODNN7EXAMPLE"),
    )
    # Then each is reported by variable name, never with its value
    assert len(reported) == 5
    for name in ("DB_PASSWORD", "DB_SECRET_ARN", "STRIPE_API_KEY", "DATABASE_URL", "LEGACY"):
        assert any(name in message for message in reported), name
    assert not any(secret in " ".join(reported) for secret in ("hunter2", "s3cr3t", "AKIAIOSFODNN7EXAMPLE"))


def test_lambda_tracing() -> None:
    assert violations("lambda-tracing", function("f", tracingConfig={"mode": "Active"})) == []
    assert "PassThrough" in only(violations("lambda-tracing", function("f", tracingConfig={"mode": "PassThrough"})))


def test_lambda_arm64() -> None:
    assert violations("lambda-arm64", function("f", architectures=["arm64"])) == []
    assert "x86_64" in only(violations("lambda-arm64", function("f")))


# --- API Gateway ----------------------------------------------------------------------------------


def _settings(stage: str, path: str = "*/*", rate: float = 100, burst: float = 200) -> ResourceRecord:
    settings = {"throttlingRateLimit": rate, "throttlingBurstLimit": burst, "metricsEnabled": True}
    return resource(
        METHOD_SETTINGS,
        f"settings-{stage}-{rate}",
        {"restApi": "api-123", "stageName": stage, "methodPath": path, "settings": settings},
    )


def test_apigateway_throttling() -> None:
    stage = resource(STAGE, "stage", {"restApi": "api-123", "stageName": "dev", "deployment": "dep-1"})
    # Given stage-wide method settings with rate and burst limits for that stage
    assert violations("apigateway-throttling", stage, _settings("dev")) == []
    # When the settings are for another stage, only for one method, or "no limit" (-1)
    assert "no '*/*' MethodSettings" in only(violations("apigateway-throttling", stage, _settings("prod")))
    assert len(violations("apigateway-throttling", stage, _settings("dev", path="notas/GET"))) == 1
    assert len(violations("apigateway-throttling", stage, _settings("dev", rate=-1))) == 1
    # And an HTTP API stage is throttled by its own default route settings
    throttled = {"throttlingRateLimit": 50, "throttlingBurstLimit": 100}
    assert violations("apigateway-throttling", resource(V2_STAGE, "v2", {"defaultRouteSettings": throttled})) == []
    assert "defaultRouteSettings" in only(violations("apigateway-throttling", resource(V2_STAGE, "v2")))


def test_apigateway_access_logging() -> None:
    logs = {
        "destinationArn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:api",
        "format": '{"requestId":"$context.requestId"}',
    }
    assert violations("apigateway-access-logging", resource(STAGE, "s", {"accessLogSettings": logs})) == []
    assert "accessLogSettings" in only(violations("apigateway-access-logging", resource(STAGE, "s")))
    assert "accessLogSettings" in only(violations("apigateway-access-logging", resource(V2_STAGE, "s")))


# --- IAM ------------------------------------------------------------------------------------------


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:orders"


def test_iam_no_wildcard_actions_accepts_scoped_and_allowlisted_statements() -> None:
    # Given named actions on ARNs, the X-Ray writes on '*' (allowlisted), and a broad Deny
    document = _document(
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": QUEUE_ARN},
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
    )
    # Then nothing is reported, in a managed policy, a role policy or a role's inline policy
    assert violations("iam-no-wildcard-actions", resource(IAM_POLICY, "p", {"policy": document})) == []
    assert violations("iam-no-wildcard-actions", resource(ROLE_POLICY, "rp", {"policy": document})) == []
    inline = resource(ROLE, "r", {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "ok", "policy": document}]})
    assert violations("iam-no-wildcard-actions", inline) == []


def test_iam_no_wildcard_actions_rejects_wildcards_and_unscoped_resources() -> None:
    # Given s3:* in a role's inline policy, '*' in a role policy, a scoped action on '*', and NotAction
    s3_admin = resource(
        ROLE,
        "s3-admin",
        {
            "inlinePolicies": [
                {"name": "s3", "policy": _document({"Effect": "Allow", "Action": "s3:*", "Resource": QUEUE_ARN})}
            ]
        },
    )
    star = resource(
        ROLE_POLICY,
        "rp",
        {"policy": _document({"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": QUEUE_ARN})},
    )
    unscoped = resource(
        IAM_POLICY, "p", {"policy": _document({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"})}
    )
    not_action = resource(
        IAM_POLICY, "n", {"policy": _document({"Effect": "Allow", "NotAction": "iam:*", "Resource": QUEUE_ARN})}
    )
    # Then each is reported with where it is
    assert "inline policy s3: Statement[0] allows wildcard action s3:*" in only(
        violations("iam-no-wildcard-actions", s3_admin)
    )
    assert "Everything allows wildcard action *" in only(violations("iam-no-wildcard-actions", star))
    assert "sqs:SendMessage on '*'" in only(violations("iam-no-wildcard-actions", unscoped))
    assert "NotAction" in only(violations("iam-no-wildcard-actions", not_action))
    # And a document that is not JSON is reported rather than skipped
    assert "not valid JSON" in only(violations("iam-no-wildcard-actions", resource(IAM_POLICY, "bad", {"policy": "{"})))


# --- cost -----------------------------------------------------------------------------------------


def _database_stack() -> list[ResourceRecord]:
    instance = {
        "engine": "postgres",
        "instanceClass": "db.t4g.micro",
        "allocatedStorage": 20,
        "storageType": "gp3",
        "multiAz": False,
        "backupRetentionPeriod": 7,
    }
    return [resource(INSTANCE, "db", instance)]


def _stack_config(budget: float) -> dict[str, str]:
    # As the CLI hands a policy pack the stack's config (PULUMI_CONFIG): every value a string.
    return {"aws:region": REGION, "nfe:environment": "dev", "nfe:monthlyBudgetUsd": str(budget)}


def test_monthly_cost_budget() -> None:
    # Given a one-instance stack: a t4g.micro with 20 GB costs more than $1 and less than $100 a month
    with engine_config(_stack_config(100)):
        assert violations("monthly-cost-budget", *_database_stack()) == []
    # When the stack's budget is $1
    with engine_config(_stack_config(1)):
        message = only(violations("monthly-cost-budget", *_database_stack()))
    # Then the estimate is reported against the budget
    assert "exceeds nfe:monthlyBudgetUsd $1.00" in message


def test_monthly_cost_budget_counts_fixed_charges_only() -> None:
    # Given the stack's fixed charges: a t4g.micro with 20 GB gp3 (730 h x $0.016 + 20 x $0.115 = $13.98),
    # two interface endpoints in one AZ ($7.30 each) and a KMS key ($1): $29.58
    endpoint = {"vpcEndpointType": "Interface", "subnetIds": ["subnet-1"]}
    stack = [
        *_database_stack(),
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "events", endpoint),
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "secrets", endpoint),
        resource(KMS_KEY, "key"),
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"vpcEndpointType": "Gateway"}),
        function("busy", memorySize=512),  # billed by use, not counted
    ]
    # When the budget is $30, Then it passes; at $29, it is reported with the sum
    with engine_config(_stack_config(30)):
        assert violations("monthly-cost-budget", *stack) == []
    with engine_config(_stack_config(29)):
        assert "fixed charges alone come to $29.58/month" in only(violations("monthly-cost-budget", *stack))


def test_monthly_cost_budget_fails_closed_without_a_budget_or_prices() -> None:
    # Given a stack config without the budget key (an old CLI, or another project)
    with engine_config({"aws:region": REGION}):
        message = only(violations("monthly-cost-budget", *_database_stack()))
    # Then the budget is reported as unverifiable instead of passed
    assert "nfe:monthlyBudgetUsd is not set" in message
    # And so is a region the pack has no prices for
    with engine_config(_stack_config(100) | {"aws:region": "sa-east-1"}):
        assert "no prices for aws:region sa-east-1" in only(violations("monthly-cost-budget", *_database_stack()))


def test_monthly_cost_budget_leaves_out_what_a_preview_does_not_know() -> None:
    # Given a first preview: an endpoint's subnets and the instance class are unknown
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    endpoint = resource(
        "aws:ec2/vpcEndpoint:VpcEndpoint", "events", {"vpcEndpointType": "Interface", "subnetIds": [unknown]}
    )
    instance = resource(INSTANCE, "db", {"engine": "postgres", "instanceClass": unknown, "storageType": "gp3"})
    # When the budget is just above the one endpoint, Then the policy decides (no "can't run"),
    # counting what it can read, and the sum stays a lower bound
    with engine_config(_stack_config(7.5)):
        assert violations("monthly-cost-budget", endpoint, instance) == []
    with engine_config(_stack_config(7)):
        assert "$7.30/month" in only(violations("monthly-cost-budget", endpoint, instance))


# --- the pack's own data, kept equal to the program's and the cost review's -------------------------


def test_the_pack_wildcard_allowlist_equals_the_program_one() -> None:
    # Given the allowlist the pack carries and the one the program builds its IAM statements from
    from nfe_policies.iam import ACTIONS_ONLY_ON_WILDCARD as PACK_LIST

    from components.iam import ACTIONS_ONLY_ON_WILDCARD as PROGRAM_LIST

    # Then they are the same set: a program that grants more on '*' fails the pack, not the other way round
    assert PACK_LIST == PROGRAM_LIST


def test_the_pack_unit_prices_equal_the_cost_review_table() -> None:
    # Given the pack's fixed-charge prices and the versioned table `nfe cost` prices from
    from nfe_policies.cost import HOURS_PER_MONTH, PRICES, QUANTITIES

    from nfe.cost.prices import load_table

    for region, prices in PRICES.items():
        table = load_table(region)
        # Then every price and quantity the pack uses is the table's, line for line
        assert table.hours_per_month == HOURS_PER_MONTH
        assert prices == {key: table.prices[key].price for key in prices}
        assert QUANTITIES[region] == {key: table.quantities[key].value for key in QUANTITIES[region]}
