"""Typed stack configuration: one pydantic model for everything under the `nfe:` namespace.

The Pulumi program, the cost review and the policy check all read a stack through this model, so a
bad value stops every one of them with the same message naming the key, e.g.
`nfe:database.backupRetentionDays must be between 7 and 35, got 3`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from functions.fiscal.model import Emitente
from nfe.topology import QUEUE_VISIBILITY_TIMEOUT_SECONDS

NAMESPACE = "nfe"

# RDS for PostgreSQL majors we build and test against; minor versions come from RDS.
SUPPORTED_ENGINE_MAJORS = ("16", "17")


class ConfigError(ValueError):
    """A stack configuration problem; the message lists every bad key, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class DatabaseConfig(_Model):
    # A major version alone lets RDS pick its current minor and, with auto minor upgrades on,
    # keeps the stack deployable after RDS retires an old minor.
    engine_version: str = "16"
    instance_class: Literal["db.t4g.micro", "db.t4g.small", "db.t4g.medium"] = "db.t4g.micro"
    allocated_storage_gb: int = Field(20, ge=20, le=1000)
    storage_type: Literal["gp3"] = "gp3"
    multi_az: bool = False
    backup_retention_days: int = Field(7, ge=7, le=35)
    deletion_protection: bool = False
    proxy: bool = False
    # How long RDS Proxy lets a client wait for a pooled connection. A wait longer than the shortest
    # function timeout would outlive the invocation that asked (the API default is 120 s).
    proxy_borrow_timeout_seconds: int = Field(10, ge=1, le=3600)
    # Set when deploying prod: TLS verification (verify-full) needs the RDS CA bundle in the package.
    ca_bundle_path: str | None = None

    @field_validator("engine_version")
    @classmethod
    def _supported_major(cls, value: str) -> str:
        major = value.split(".")[0]
        if major not in SUPPORTED_ENGINE_MAJORS or not all(p.isdigit() for p in value.split(".")):
            raise ValueError(
                f"must be a PostgreSQL {' or '.join(SUPPORTED_ENGINE_MAJORS)} version such as 16 or 16.8, got {value!r}"
            )
        return value


# Zones by ID, where a service the stack configures is not offered (AZ IDs name the same physical
# zone in every account; AZ names do not). RDS Proxy: "RDS Proxy isn't available in the use1-az3
# Availability Zone" (RDS user guide, RDS Proxy limitations).
UNSUPPORTED_ZONES: dict[str, frozenset[str]] = {"rds-proxy": frozenset({"use1-az3"})}
# API Gateway ends every REST integration at 29 s; a function still running then is billed for a
# response the client never gets (504).
API_GATEWAY_INTEGRATION_LIMIT_SECONDS = 29
_ZONE_ID = re.compile(r"^(?P<prefix>[a-z]+[0-9]+)-az(?P<n>[0-9]+)$")
_DIRECTIONS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


def zone_id_prefix(region: str) -> str:
    """The prefix of a region's AZ IDs: us-east-1 -> use1, sa-east-1 -> sae1, ap-southeast-2 -> apse2."""
    parts = region.split("-")
    if len(parts) < 3 or not parts[-1].isdigit():
        raise ValueError(f"not an AWS region name: {region!r}")
    middle = "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}"


class NetworkConfig(_Model):
    vpc_cidr: str = "10.20.0.0/16"
    # Zone IDs (`aws ec2 describe-availability-zones` shows each ZoneName's ZoneId in an account).
    availability_zone_ids: list[str] = Field(default_factory=lambda: ["use1-az1", "use1-az2"])
    # CIDRs allowed to reach the database port through the managed prefix list; empty = nobody.
    admin_prefix_list_entries: list[str] = Field(default_factory=list)
    # Endpoints cost per AZ-hour: dev keeps them in one AZ, prod in two.
    endpoint_azs: int = Field(1, ge=1, le=2)
    # An `xray` interface endpoint for the functions' traces. AWS documents no path for Lambda's
    # managed X-Ray daemon out of a VPC without NAT, so it is on unless a stack opts out after
    # checking that traces arrive without it (docs/deploy.md, "X-Ray from private subnets").
    xray_endpoint: bool = True

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if net.version != 4 or not 16 <= net.prefixlen <= 24:
            raise ValueError(f"must be an IPv4 CIDR between /16 and /24, got {value!r}")
        return value

    @field_validator("admin_prefix_list_entries")
    @classmethod
    def _entries(cls, value: list[str]) -> list[str]:
        for entry in value:
            net = ipaddress.ip_network(entry, strict=True)
            if net.prefixlen == 0:
                raise ValueError(f"must not contain an open range, got {entry!r}")
        return value

    @field_validator("availability_zone_ids")
    @classmethod
    def _two_azs(cls, value: list[str]) -> list[str]:
        for zone in value:
            if not _ZONE_ID.match(zone):
                raise ValueError(
                    f"must hold zone IDs such as use1-az1, got {zone!r} (zone names such as us-east-1a map to "
                    "different zones in every account)"
                )
        # RDS subnet groups need subnets in at least two AZs, even for a single-AZ instance.
        if len(value) < 2 or len(set(value)) != len(value):
            raise ValueError(f"must list at least two distinct availability zones, got {value!r}")
        return value


class LambdaConfig(_Model):
    memory_mb: int = Field(512, ge=128, le=10240)
    # The API functions' timeout, below API Gateway's 29 s integration limit.
    api_timeout_seconds: int = Field(25, ge=1, le=900)
    # Consumers run shorter so the queue's 90 s visibility covers six times their timeout.
    consumer_timeout_seconds: int = Field(15, ge=1, le=900)
    reserved_concurrency: int = Field(10, ge=1, le=1000)
    architecture: Literal["arm64"] = "arm64"
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = 30
    # How long a dependency (the database, SEFAZ) may be down before a consumer's messages are
    # dead-lettered: their receives are spread over it (functions/shared/redelivery.py). At least
    # a reboot's length; at most 12 h, so the longest delay stays within SQS's visibility ceiling
    # and the whole span well within the queues' 4-day retention.
    outage_tolerance_minutes: int = Field(15, ge=5, le=720)

    @field_validator("api_timeout_seconds")
    @classmethod
    def _below_gateway_limit(cls, value: int) -> int:
        if value >= API_GATEWAY_INTEGRATION_LIMIT_SECONDS:
            raise ValueError(
                f"must be below API Gateway's {API_GATEWAY_INTEGRATION_LIMIT_SECONDS} s integration limit "
                f"(the client would get a 504 while the function kept running), got {value}"
            )
        return value

    @field_validator("consumer_timeout_seconds")
    @classmethod
    def _fits_visibility(cls, value: int) -> int:
        if 6 * value > QUEUE_VISIBILITY_TIMEOUT_SECONDS:
            raise ValueError(
                f"must be at most {QUEUE_VISIBILITY_TIMEOUT_SECONDS // 6}: the queues' "
                f"{QUEUE_VISIBILITY_TIMEOUT_SECONDS} s visibility timeout must be at least six times the "
                f"consumer's timeout (AWS guidance for SQS event sources), got {value}"
            )
        return value


class ApiConfig(_Model):
    throttle_rate_limit: int = Field(100, ge=1, le=10000)
    throttle_burst_limit: int = Field(200, ge=1, le=5000)
    custom_domain: str | None = None
    certificate_arn: str | None = None

    # The one origin (scheme://host[:port]) the API's CORS answers allow, for a browser app served
    # elsewhere (a team's existing app during a migration). Unset: the console's own origin (the
    # frontend's custom domain, else its distribution's domain), which calls through /api/* anyway.
    cors_allow_origin: str | None = None

    @model_validator(mode="after")
    def _domain_needs_certificate(self) -> ApiConfig:
        if self.custom_domain and not self.certificate_arn:
            raise ValueError("customDomain needs certificateArn")
        return self

    @field_validator("cors_allow_origin")
    @classmethod
    def _one_origin(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value):
            raise ValueError(f"must be one origin such as https://app.example.com (no path, no '*'), got {value!r}")
        return value


class FrontendConfig(_Model):
    """The web console's hosting (components/static_site.py)."""

    # A built SPA folder (Angular's dist/<app>/browser): the console's by default, or a team's own.
    dist_dir: str = "frontend/dist/nfe-console/browser"
    custom_domain: str | None = None
    # CloudFront only takes certificates from ACM in us-east-1, whatever the stack's region.
    certificate_arn: str | None = None
    # A WAFv2 web ACL with CLOUDFRONT scope (its ARN), or none.
    web_acl_arn: str | None = None
    # Edge locations used (and billed): PriceClass_All includes South America's.
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_All"

    @model_validator(mode="after")
    def _domain_needs_certificate(self) -> FrontendConfig:
        if self.custom_domain and not self.certificate_arn:
            raise ValueError("customDomain needs certificateArn (an ACM certificate in us-east-1)")
        if self.certificate_arn and not self.certificate_arn.startswith("arn:aws:acm:us-east-1:"):
            raise ValueError(f"certificateArn must be an ACM certificate in us-east-1, got {self.certificate_arn!r}")
        if self.web_acl_arn and ":global/webacl/" not in self.web_acl_arn:
            raise ValueError(f"webAclArn must be a WAFv2 web ACL with CLOUDFRONT scope, got {self.web_acl_arn!r}")
        return self


class IdentityConfig(_Model):
    """The user pool (components/identity.py); its fixed settings are declared in nfe/identity.py."""

    # TOTP multi-factor sign-in: OFF, OPTIONAL (each user may enrol an authenticator app) or ON
    # (every user must, at their first sign-in). SMS is never offered.
    mfa: Literal["OFF", "OPTIONAL", "ON"] = "OPTIONAL"
    # Deleting a pool deletes every user in it. Unset: on in prod, off elsewhere; prod may not turn
    # it off (checked below and by the policy pack).
    deletion_protection: bool = False


class FiscalArchiveConfig(_Model):
    """The fiscal archive bucket (components/fiscal_archive.py, docs/fiscal-archive.md).

    Object Lock's mode and default retention decide whether a stack can be torn down: GOVERNANCE
    can be bypassed by a principal holding s3:BypassGovernanceRetention (dev's teardown), COMPLIANCE
    cannot by anyone, the account root included, until each object's retention ends (prod: the
    five years of the tax law, which the team's accountant confirms).
    """

    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    # Ten years and then some: Ajuste SINIEF 2/2025's 11 years fit if the accountant asks for them.
    retention_days: int = Field(1, ge=1, le=36500)
    # S3 refuses a transition to STANDARD_IA before 30 days.
    transition_to_ia_days: int = Field(30, ge=30, le=36500)
    transition_to_glacier_days: int = Field(90, ge=30, le=36500)
    # The access logs' own expiry (the logs bucket's lifecycle).
    log_retention_days: int = Field(90, ge=1, le=3650)

    @model_validator(mode="after")
    def _ia_before_glacier(self) -> FiscalArchiveConfig:
        # S3 keeps an object 30 days in STANDARD_IA before a lifecycle may move it on.
        if self.transition_to_glacier_days < self.transition_to_ia_days + 30:
            raise ValueError(
                f"transitionToGlacierDays ({self.transition_to_glacier_days}) must be at least 30 days after "
                f"transitionToIaDays ({self.transition_to_ia_days}): S3 keeps an object 30 days in STANDARD_IA "
                "before moving it on"
            )
        return self


class SefazConfig(_Model):
    """The SEFAZ participant (components/sefaz_participant.py, docs/operations.md).

    `caBundlePath`: the CA certificates the function trusts SEFAZ's servers with (ICP-Brasil's chain
    for the autorizador's web services), packaged into the sefaz-autorizador zip only, as the RDS
    bundle is into the database functions'. A stack whose emitente is in produção (ambiente 1) does
    not deploy without it (nfe/build.py `sefaz_tls_settings`); in homologação it is optional, and the
    function then refuses to connect rather than trusting an unverified server.

    `pendingAlarmMinutes`: how long a nota may wait for SEFAZ's answer (its EsperaAutorizacao, from
    dhEmi) before the alarm fires. At least 5: the alarm reads 5-minute maxima, and SEFAZ being slow
    for a minute is not an incident. At most 720, the longest outage tolerance a consumer may have
    (nfe:lambda.outageToleranceMinutes): waiting longer than that is the DLQ alarm's business.
    """

    ca_bundle_path: str | None = None
    pending_alarm_minutes: int = Field(15, ge=5, le=720)


# What a prod stack file that leaves nfe:fiscalArchive's lock unset gets: five years, no bypass.
PROD_FISCAL_ARCHIVE_DEFAULTS = {"objectLockMode": "COMPLIANCE", "retentionDays": 1825}


class FunctionUsage(_Model):
    # None: a scheduled function's invocations follow from its schedule (the cost review reads it).
    invocations: int | None = Field(None, ge=0)
    avg_duration_ms: float = Field(gt=0)


def _default_function_usage() -> dict[str, FunctionUsage]:
    # The seed's volumes: 1M invocations per service. The publisher runs on its schedule (43,800 a
    # month at rate(1 minute)); eager publishing runs inside the API and consumer functions.
    return {
        "faturamento": FunctionUsage(invocations=1_000_000, avg_duration_ms=40),
        "estoque": FunctionUsage(invocations=1_000_000, avg_duration_ms=40),
        "publisher": FunctionUsage(avg_duration_ms=120),
        # One invocation per nota (batch size 1): usage.notasPerMonth's 100,000. Most of its duration is
        # waiting for SEFAZ's synchronous answer (a TLS handshake with the A1 and the authorization),
        # billed all the same; signing is a few tens of ms.
        "sefaz": FunctionUsage(invocations=100_000, avg_duration_ms=1500),
    }


class UsageConfig(_Model):
    """Monthly volumes for the cost review."""

    api_requests: int = Field(1_000_000, ge=0)
    functions: dict[str, FunctionUsage] = Field(default_factory=_default_function_usage)
    events_published: int = Field(1_000_000, ge=0)
    sqs_messages: int = Field(1_000_000, ge=0)
    log_ingestion_gb: float = Field(2.0, ge=0)
    data_transfer_out_gb: float = Field(5.0, ge=0)
    endpoint_data_gb: float = Field(1.0, ge=0)
    # People who sign in at least once in the month (Cognito bills monthly active users).
    monthly_active_users: int = Field(50, ge=0)
    # The web console's own traffic through CloudFront (assets, HTML, config.json), its bytes out,
    # and the site bucket's size with the versions kept.
    console_requests: int = Field(500_000, ge=0)
    console_data_out_gb: float = Field(2.0, ge=0)
    console_storage_gb: float = Field(0.01, ge=0)
    # The fiscal archive (nfe/cost/archive.py, docs/cost.md): notas emitted a month, the new data
    # they add (XML, DANFE, nfeProc and events; about 60 KB a nota), objects written and read per nota,
    # and the average object's size, which decides whether the lifecycle moves anything at all
    # (S3 does not transition objects under 128 KB by default).
    notas_per_month: int = Field(100_000, ge=0)
    fiscal_archive_gb_per_month: float = Field(6.0, ge=0)
    fiscal_archive_objects_per_nota: float = Field(3, ge=0)
    fiscal_archive_reads_per_nota: float = Field(1, ge=0)
    fiscal_archive_avg_object_kb: float = Field(20, gt=0)


class CostGuardrailConfig(_Model):
    """When a pull request's cost review (`nfe cost --format github`) fails its check.

    A change is blocked when it raises the stack's monthly estimate by more than
    `maxIncreasePercent`, or raises it while the new total is above `nfe:monthlyBudgetUsd`; a pull
    request carrying `overrideLabel` passes anyway, the comment saying it was overridden.
    """

    max_increase_percent: float = Field(20.0, gt=0)
    override_label: str = Field("cost-increase-approved", min_length=1, max_length=50)


class StackConfig(_Model):
    environment: Literal["dev", "prod", "local"] = Field(...)
    region: str = "us-east-1"
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    # `lambda` is a Python keyword, hence the field name.
    lambda_: LambdaConfig = Field(default_factory=LambdaConfig, alias="lambda")
    api: ApiConfig = Field(default_factory=ApiConfig)
    frontend: FrontendConfig = Field(default_factory=FrontendConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    monthly_budget_usd: float = Field(gt=0)
    # The company that emits the notas (functions/fiscal/model.py validates it: CNPJ check digits,
    # the IBGE município inside its UF, a supported regime, the série within 0-889, the ambiente).
    # Optional here so the cost review and the policy tools read any stack file; the program
    # requires it (`emitente_of`): no stack deploys without knowing whose notas it emits.
    emitente: Emitente | None = None
    usage: UsageConfig = Field(default_factory=UsageConfig)
    fiscal_archive: FiscalArchiveConfig = Field(default_factory=FiscalArchiveConfig)
    sefaz: SefazConfig = Field(default_factory=SefazConfig)
    cost_guardrail: CostGuardrailConfig = Field(default_factory=CostGuardrailConfig)

    @model_validator(mode="before")
    @classmethod
    def _prod_protects_its_users(cls, data: Any) -> Any:
        # identity.deletionProtection left unset is on in prod: a prod stack file need not repeat it.
        if not isinstance(data, dict) or data.get("environment") != "prod":
            return data
        archive = data.get("fiscalArchive")
        if archive is None:
            data = {**data, "fiscalArchive": dict(PROD_FISCAL_ARCHIVE_DEFAULTS)}
        elif isinstance(archive, dict):
            # Each unset lock setting takes prod's default; a stack may still choose otherwise.
            filled = {k: v for k, v in PROD_FISCAL_ARCHIVE_DEFAULTS.items() if k not in archive}
            data = {**data, "fiscalArchive": {**filled, **archive}}
        identity = data.get("identity")
        if identity is None:
            return {**data, "identity": {"deletionProtection": True}}
        if isinstance(identity, dict) and not {"deletionProtection", "deletion_protection"} & set(identity):
            return {**data, "identity": {**identity, "deletionProtection": True}}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> StackConfig:
        if self.environment == "prod" and not self.database.multi_az:
            raise ValueError("database.multiAz must be true for prod")
        if self.environment == "prod" and not self.database.deletion_protection:
            raise ValueError("database.deletionProtection must be true for prod")
        if self.environment == "prod" and not self.identity.deletion_protection:
            raise ValueError("identity.deletionProtection must be true for prod")
        prefix = zone_id_prefix(self.region)
        for zone in self.network.availability_zone_ids:
            if zone.rsplit("-az", 1)[0] != prefix:
                raise ValueError(
                    f"network.availabilityZoneIds: {zone!r} is not a zone of {self.region} (its IDs start {prefix}-)"
                )
            if self.database.proxy and zone in UNSUPPORTED_ZONES["rds-proxy"]:
                raise ValueError(
                    f"network.availabilityZoneIds: RDS Proxy is not available in {zone} (RDS Proxy limitations); "
                    "pick another zone or set database.proxy to false"
                )
        if self.database.proxy:
            # Publisher and migrator timeouts are fixed in nfe/topology.py (60 s, 300 s), so the
            # configured API and consumer timeouts are the shortest ones behind the proxy.
            shortest = min(self.lambda_.api_timeout_seconds, self.lambda_.consumer_timeout_seconds)
            if self.database.proxy_borrow_timeout_seconds > shortest:
                raise ValueError(
                    f"database.proxyBorrowTimeoutSeconds ({self.database.proxy_borrow_timeout_seconds}) must not "
                    f"exceed the shortest function timeout ({shortest} s, nfe:lambda): a client would wait for a "
                    "connection after its invocation ended"
                )
        return self

    def emitente_of(self) -> Emitente:
        if self.emitente is None:
            raise ConfigError(
                ["nfe:emitente is required: the company that emits the notas (CNPJ, IE, CRT, endereço; docs/nfe.md)"]
            )
        return self.emitente


def _constraint_text(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """Describe a numeric field's allowed range from its declared constraints."""
    current: Any = model
    field = None
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return None
        field = next(
            (f for name, f in fields.items() if part in (name, f.alias)),
            None,
        )
        if field is None:
            return None
        current = field.annotation
    if field is None:
        return None
    low = high = None
    for meta in field.metadata:
        if isinstance(meta, Ge):
            low = meta.ge
        elif isinstance(meta, Gt):
            low = f"more than {meta.gt}"
        elif isinstance(meta, Le):
            high = meta.le
        elif isinstance(meta, Lt):
            high = f"less than {meta.lt}"
    if low is not None and high is not None and not isinstance(low, str) and not isinstance(high, str):
        return f"must be between {low} and {high}"
    if low is not None:
        return f"must be at least {low}" if not isinstance(low, str) else f"must be {low}"
    if high is not None:
        return f"must be at most {high}" if not isinstance(high, str) else f"must be {high}"
    return None


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        top = str(loc[0]) if loc else ""
        rest = ".".join(str(p) for p in loc[1:])
        key = f"{NAMESPACE}:{top}" + (f".{rest}" if rest else "") if top != "region" else "aws:region"
        kind = err["type"]
        got = err.get("input")
        if not loc:
            problems.append(f"{NAMESPACE}: {err['msg'].removeprefix('Value error, ')}")
            continue
        if kind == "missing":
            problems.append(f"{key} is required")
        elif kind == "extra_forbidden":
            problems.append(f"{key} is not a known setting")
        elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
            text = _constraint_text(StackConfig, loc) or err["msg"].lower()
            problems.append(f"{key} {text}, got {got!r}")
        elif kind == "literal_error":
            allowed = err.get("ctx", {}).get("expected", "")
            problems.append(f"{key} must be one of {allowed}, got {got!r}")
        elif kind == "value_error":
            problems.append(f"{key} {err['msg'].removeprefix('Value error, ')}")
        else:
            problems.append(f"{key}: {err['msg'].lower()}, got {got!r}")
    return problems


def parse(values: dict[str, Any], region: str | None = None) -> StackConfig:
    """Validate `nfe:`-stripped values (already decoded from YAML or JSON)."""
    data = dict(values)
    if region is not None:
        data["region"] = region
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def _split_namespaced(raw: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    values: dict[str, Any] = {}
    region = None
    for key, value in raw.items():
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE:
            values[name] = value
        elif key == "aws:region":
            region = value
    return values, region


def load_stack_file(path: Path) -> StackConfig:
    """Load and validate a `Pulumi.<stack>.yaml` file."""
    document = yaml.safe_load(path.read_text()) or {}
    raw = document.get("config") or {}
    values, region = _split_namespaced(raw)
    return parse(values, region)


def stack_file_values(path: Path) -> dict[str, str]:
    """A stack file's config as the engine hands it to a program: every value a string, objects as JSON."""
    document = yaml.safe_load(path.read_text()) or {}
    raw = document.get("config") or {}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def from_pulumi() -> StackConfig:
    """Load the running Pulumi program's config (real engine or mocks)."""
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            try:
                decoded[key] = json.loads(value) if value[:1] in "{[" else value
            except json.JSONDecodeError:
                decoded[key] = value
        else:
            decoded[key] = value
        # Scalars arrive as strings; pydantic coerces "7" to 7 and "true" to True.
    values, region = _split_namespaced(decoded)
    return parse(values, region)
