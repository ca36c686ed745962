"""RDS PostgreSQL and RDS Proxy: IAM authentication, TLS, encryption, backups, availability.

A property a program leaves unset is judged by what AWS does without it (no IAM auth, no
encryption, one day of backups, a 120 s proxy borrow timeout), because that is what the deployed
instance will have.

The proxy's `connectionBorrowTimeout` is how long a client waits for a pooled connection before the
proxy gives up. Longer than a function's timeout, a function waiting on a saturated pool is killed by
Lambda first: it never sees the proxy's error, and its invocation is billed to the timeout. So no
function of the stack may time out sooner than the borrow timeout.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LAMBDA_FUNCTION,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    RDS_PROXY,
    RDS_PROXY_DEFAULT_TARGET_GROUP,
    as_list,
    as_mapping,
    number,
    number_or,
    of_type,
    show,
)

AWS_MANAGED_RDS_KEY = "alias/aws/rds"
DEFAULT_MIN_BACKUP_DAYS = 7
# RDS Proxy's ConnectionBorrowTimeout when a target group leaves it unset.
PROXY_DEFAULT_BORROW_TIMEOUT_SECONDS = 120


def rds_iam_auth_required(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    if args.props.get("iamDatabaseAuthenticationEnabled") is not True:
        report_violation("iamDatabaseAuthenticationEnabled is not true: services must log in with IAM tokens", None)


def rds_not_publicly_accessible(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    if args.props.get("publiclyAccessible") is True:
        report_violation("publiclyAccessible is true: the database must only be reachable inside the VPC", None)


def rds_storage_encrypted_with_cmk(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    if args.props.get("storageEncrypted") is not True:
        report_violation("storageEncrypted is not true", None)
        return
    key = args.props.get("kmsKeyId")
    # Without a key RDS encrypts with the AWS-managed aws/rds key, whose policy we cannot scope.
    if not key or AWS_MANAGED_RDS_KEY in str(key):
        report_violation("kmsKeyId does not name a customer-managed KMS key (aws/rds is AWS-managed)", None)


def rds_backup_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    minimum = number_or(args.get_config().get("minDays"), DEFAULT_MIN_BACKUP_DAYS)
    days = number(args.props.get("backupRetentionPeriod"))
    if days is None:
        report_violation(f"backupRetentionPeriod is unset (RDS keeps 1 day); set at least {show(minimum)}", None)
    elif days < minimum:
        report_violation(f"backupRetentionPeriod is {show(days)} days; at least {show(minimum)} required", None)


def rds_multi_az(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    if args.props.get("multiAz") is not True:
        report_violation("multiAz is not true: a single-AZ instance is down for the length of an AZ outage", None)


def rds_proxy_iam_auth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_PROXY:
        return
    if args.props.get("defaultAuthScheme") == "IAM_AUTH":
        return
    auths = [as_mapping(a) for a in as_list(args.props.get("auths"))]
    if not auths:
        report_violation("defaultAuthScheme is not IAM_AUTH and no auth entry requires IAM", None)
        return
    lax = [
        a.get("secretArn") or a.get("authScheme") or f"auth[{i}]"
        for i, a in enumerate(auths)
        if a.get("iamAuth") != "REQUIRED"
    ]
    if lax:
        report_violation(f"auth entries without iamAuth REQUIRED: {', '.join(map(str, lax))}", None)


def rds_proxy_require_tls(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != RDS_PROXY:
        return
    if args.props.get("requireTls") is not True:
        report_violation("requireTls is not true: clients could connect to the proxy in plaintext", None)


def rds_force_ssl(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    groups = {str(g.props.get("name")): g for g in of_type(args.resources, RDS_PARAMETER_GROUP) if g.props.get("name")}
    for instance in of_type(args.resources, RDS_INSTANCE):
        engine = str(instance.props.get("engine") or "")
        # rds.force_ssl is PostgreSQL's switch; other engines spell TLS enforcement differently.
        if not engine.startswith("postgres"):
            continue
        group_name = instance.props.get("parameterGroupName")
        if not group_name:
            report_violation("uses the engine's default parameter group; set one with rds.force_ssl=1", instance.urn)
            continue
        group = groups.get(str(group_name))
        if group is None:
            report_violation(
                f"parameter group {group_name} is not in this stack: rds.force_ssl unchecked",
                instance.urn,
            )
            continue
        values = {
            str(as_mapping(p).get("name")): str(as_mapping(p).get("value"))
            for p in as_list(group.props.get("parameters"))
        }
        if values.get("rds.force_ssl") != "1":
            report_violation(
                f"sets rds.force_ssl={values.get('rds.force_ssl', 'unset')}, not 1 (used by {instance.name})",
                group.urn,
            )


def rds_proxy_borrow_timeout(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    functions = of_type(args.resources, LAMBDA_FUNCTION)
    if not functions:
        return
    timeouts = [(number_or(f.props.get("timeout"), LAMBDA_DEFAULT_TIMEOUT_SECONDS), f.name) for f in functions]
    shortest, function = min(timeouts)
    for group in of_type(args.resources, RDS_PROXY_DEFAULT_TARGET_GROUP):
        pool = as_mapping(group.props.get("connectionPoolConfig"))
        borrow = number_or(pool.get("connectionBorrowTimeout"), PROXY_DEFAULT_BORROW_TIMEOUT_SECONDS)
        # 0 is "wait without limit" in the RDS API (ConnectionPoolConfiguration), the longest of all.
        if borrow == 0 or borrow > shortest:
            wait = "0 (no limit)" if borrow == 0 else f"{show(borrow)} s"
            report_violation(
                f"connectionPoolConfig.connectionBorrowTimeout {wait} is longer than the "
                f"{show(shortest)} s timeout of {function}: Lambda kills the function before the proxy answers",
                group.urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="rds-iam-auth-required",
        description="RDS instances enable IAM database authentication.",
        validate=rds_iam_auth_required,
    ),
    ResourceValidationPolicy(
        name="rds-not-publicly-accessible",
        description="RDS instances are not publicly accessible.",
        validate=rds_not_publicly_accessible,
    ),
    ResourceValidationPolicy(
        name="rds-storage-encrypted-with-cmk",
        description="RDS storage is encrypted with a customer-managed KMS key.",
        validate=rds_storage_encrypted_with_cmk,
    ),
    ResourceValidationPolicy(
        name="rds-backup-retention",
        description="RDS instances keep automated backups long enough to recover from a bad week.",
        validate=rds_backup_retention,
        config_schema=PolicyConfigSchema(
            properties={"minDays": {"type": "integer", "minimum": 1, "default": DEFAULT_MIN_BACKUP_DAYS}}
        ),
    ),
    ResourceValidationPolicy(
        name="rds-multi-az",
        description="RDS instances are Multi-AZ (mandatory where the stack's policy config says so: prod).",
        validate=rds_multi_az,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    StackValidationPolicy(
        name="rds-force-ssl",
        description="Every PostgreSQL instance uses a parameter group that sets rds.force_ssl=1.",
        validate=rds_force_ssl,
    ),
    ResourceValidationPolicy(
        name="rds-proxy-iam-auth",
        description="RDS proxies authenticate clients with IAM (defaultAuthScheme IAM_AUTH or iamAuth REQUIRED).",
        validate=rds_proxy_iam_auth,
    ),
    ResourceValidationPolicy(
        name="rds-proxy-require-tls",
        description="RDS proxies require TLS from clients.",
        validate=rds_proxy_require_tls,
    ),
    StackValidationPolicy(
        name="rds-proxy-borrow-timeout",
        description="An RDS proxy's connection borrow timeout is no longer than the shortest function timeout.",
        validate=rds_proxy_borrow_timeout,
    ),
]
