"""The fiscal archive's bill: its bucket (storage through the lifecycle, requests, the KMS requests
S3 makes for them) and the access-logs bucket; every other bucket is the console's (hosting.py).

Usage (`nfe:usage`): `notasPerMonth`, `fiscalArchiveGbPerMonth` (new data a month),
`fiscalArchiveObjectsPerNota` (PUTs), `fiscalArchiveReadsPerNota` (GETs) and
`fiscalArchiveAvgObjectKb`. Nothing in the archive expires, so its size grows every month: it is
priced as it stands when the oldest objects leave their lock (`nfe:fiscalArchive.retentionDays`,
and at least a year), split between classes by the lifecycle's days. S3 does not transition
objects under 128 KB by default (STANDARD_IA and GLACIER_IR bill each object as at least 128 KB),
so with smaller objects everything stays in STANDARD and no transition is billed. Reads are of
recent notas, in STANDARD. KMS: one request per PUT and GET, an upper bound (the bucket key makes
S3 ask KMS far less often). Access logs: delivery is free, their storage is not (docs/cost.md).
"""

from __future__ import annotations

from nfe.cost import hosting
from nfe.cost.pricing import Charge, PricingContext, Resource, get, num

BUCKET = hosting.BUCKET
ARCHIVE_PREFIX = "nfe-fiscal-archive-"
LOGS_PREFIX = "nfe-access-logs-"
# Below this S3's lifecycle moves nothing (transition_default_minimum_object_size all_storage_classes_128K).
TRANSITION_MINIMUM_KB = 128
# One server access log record (a line of ~25 space-separated fields), in bytes.
LOG_RECORD_BYTES = 500
MINIMUM_HORIZON_MONTHS = 12
DAYS_PER_MONTH = 730 / 24


def _name_of(resource: Resource) -> str:
    return str(get(resource, "bucket", None) or get(resource, "bucketPrefix", None) or "")


def is_archive(resource: Resource) -> bool:
    return _name_of(resource).startswith(ARCHIVE_PREFIX)


def is_access_logs(resource: Resource) -> bool:
    return _name_of(resource).startswith(LOGS_PREFIX)


def _requests(ctx: PricingContext) -> tuple[float, float]:
    usage = ctx.config.usage
    return (
        usage.notas_per_month * usage.fiscal_archive_objects_per_nota,
        usage.notas_per_month * usage.fiscal_archive_reads_per_nota,
    )


def horizon_months(ctx: PricingContext) -> float:
    return max(MINIMUM_HORIZON_MONTHS, ctx.config.fiscal_archive.retention_days / DAYS_PER_MONTH)


def price_archive(resource: Resource, ctx: PricingContext) -> list[Charge]:
    usage, lock = ctx.config.usage, ctx.config.fiscal_archive
    monthly_gb = usage.fiscal_archive_gb_per_month
    horizon = horizon_months(ctx)
    puts, gets = _requests(ctx)
    held = f"{num(monthly_gb)} GB a month (usage.fiscalArchiveGbPerMonth)"
    when = f"as it stands after {num(horizon)} months"
    charges: list[Charge] = []
    if usage.fiscal_archive_avg_object_kb < TRANSITION_MINIMUM_KB:
        charges.append(
            Charge(
                "storage",
                monthly_gb * horizon,
                "s3.storage.standard",
                derivation=f"{num(monthly_gb)} GB x {num(horizon)} months",
                note=f"{held}, {when}; objects of {num(usage.fiscal_archive_avg_object_kb)} KB stay in STANDARD "
                f"(no lifecycle transition under {TRANSITION_MINIMUM_KB} KB)",
            )
        )
    else:
        standard_months = lock.transition_to_ia_days / DAYS_PER_MONTH
        ia_months = (lock.transition_to_glacier_days - lock.transition_to_ia_days) / DAYS_PER_MONTH
        glacier_months = max(0.0, horizon - standard_months - ia_months)
        objects = puts
        charges += [
            Charge(
                "storage",
                monthly_gb * standard_months,
                "s3.storage.standard",
                derivation=f"{num(monthly_gb)} GB x {num(standard_months)} months",
                note=f"{held}, its first {lock.transition_to_ia_days} days",
            ),
            Charge(
                "storage-ia",
                monthly_gb * ia_months,
                "s3.storage.standard-ia",
                derivation=f"{num(monthly_gb)} GB x {num(ia_months)} months",
                note=f"days {lock.transition_to_ia_days}-{lock.transition_to_glacier_days}",
            ),
            Charge(
                "storage-glacier-ir",
                monthly_gb * glacier_months,
                "s3.storage.glacier-ir",
                derivation=f"{num(monthly_gb)} GB x {num(glacier_months)} months",
                note=f"the rest, {when}",
            ),
            Charge("transitions-ia", objects, "s3.lifecycle.transition.standard-ia", note="each object once"),
            Charge("transitions-glacier-ir", objects, "s3.lifecycle.transition.glacier-ir", note="each object once"),
        ]
    charges += [
        Charge(
            "put-requests",
            puts,
            "s3.requests.put",
            derivation=f"{num(usage.notas_per_month)} notas x {num(usage.fiscal_archive_objects_per_nota)}",
            note="usage.notasPerMonth x usage.fiscalArchiveObjectsPerNota",
        ),
        Charge(
            "get-requests",
            gets,
            "s3.requests.get",
            derivation=f"{num(usage.notas_per_month)} notas x {num(usage.fiscal_archive_reads_per_nota)}",
            note="usage.fiscalArchiveReadsPerNota; recent notas, in STANDARD",
        ),
        Charge(
            "kms-requests",
            puts + gets,
            "kms.requests.symmetric",
            derivation=f"{num(puts)} PUTs + {num(gets)} GETs",
            note="SSE-KMS, one per request: an upper bound, the bucket key cuts it",
        ),
    ]
    return charges


def logged_requests(ctx: PricingContext) -> float:
    """Every request to the stack's logged buckets: the archive's and the console's origin fetches."""
    puts, gets = _requests(ctx)
    console = ctx.config.usage.console_requests * hosting.ORIGIN_FETCH_SHARE
    return puts + gets + console


def price_access_logs(resource: Resource, ctx: PricingContext) -> list[Charge]:
    records = logged_requests(ctx)
    monthly_gb = records * LOG_RECORD_BYTES / 1024**3
    months = ctx.config.fiscal_archive.log_retention_days / DAYS_PER_MONTH
    return [
        Charge(
            "log-storage",
            monthly_gb * months,
            "s3.storage.standard",
            derivation=f"{num(records)} records x {LOG_RECORD_BYTES} B x {num(months)} months",
            note="archive PUTs and GETs and the console's origin fetches; delivery itself is free",
        )
    ]


def price_bucket(resource: Resource, ctx: PricingContext) -> list[Charge]:
    if is_archive(resource):
        return price_archive(resource, ctx)
    if is_access_logs(resource):
        return price_access_logs(resource, ctx)
    return hosting.price_bucket(resource, ctx)


PRICERS = {BUCKET: price_bucket}
