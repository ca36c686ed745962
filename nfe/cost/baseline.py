"""The seed's ECS baseline (shared/seed/architecture-diagrams.md, sections 1 and 5), as printed
and recomputed at list price where the price table allows.

The seed's lines (Fargate $18, RabbitMQ $28, Database $15, ALB $75, NAT $35) add up to $171, not
the $180 it claims; its serverless lines ($18 + $23 + $3.50 + $1.45) add up to $45.95, not the $44
(section 5) or $43.60 (section 2) it claims. Both are shown, never silently corrected.
"""

from __future__ import annotations

from nfe.cost.model import Baseline, BaselineLine
from nfe.cost.prices import PriceTable

SEED_ECS_CLAIM = 180.0
SEED_SERVERLESS_CLAIM = 44.0
SEED_SERVERLESS_SECTION2_TOTAL = 43.60
SEED_SERVERLESS_LINES = {"Lambda": 18.0, "Database": 23.0, "API GW": 3.50, "Messaging": 1.45}

# The seed's ECS architecture (section 1): two Fargate tasks of 0.25 vCPU / 512 MB on ARM64, one
# RDS t4g.micro drawn as Multi-AZ with 20 GB gp3, one ALB, one NAT gateway, one mq.t3.micro broker.
FARGATE_TASKS = 2
FARGATE_VCPU = 0.25
FARGATE_MEMORY_GB = 0.5
DB_STORAGE_GB = 20
# The seed's traffic is far below one LCU on every ALB dimension; one LCU is the reference's own
# worked example (aws-prices.md) and an upper bound here.
ALB_LCUS = 1.0


def _price(table: PriceTable, key: str) -> float | None:
    line = table.line(key)
    return None if line is None else line.price


def _fargate(table: PriceTable, hours: int) -> tuple[float | None, str]:
    vcpu = _price(table, "fargate.arm64.vcpu")
    mem = _price(table, "fargate.arm64.memory")
    if vcpu is None or mem is None:
        return None, "Fargate ARM price not found for this region"
    cost = FARGATE_TASKS * (FARGATE_VCPU * vcpu + FARGATE_MEMORY_GB * mem) * hours
    return cost, (
        f"{FARGATE_TASKS} tasks x (0.25 vCPU x ${vcpu}/vCPU-h + 0.5 GB x ${mem}/GB-h) x {hours} h (ARM64, as drawn)"
    )


def _database(table: PriceTable, hours: int) -> tuple[float | None, str]:
    instance = _price(table, "rds.postgres.db.t4g.micro.multi-az")
    storage = _price(table, "rds.storage.gp3.multi-az")
    if instance is None or storage is None:
        return None, "RDS db.t4g.micro Multi-AZ or gp3 price not found for this region"
    cost = instance * hours + DB_STORAGE_GB * storage
    return cost, (
        f"db.t4g.micro Multi-AZ (as drawn) {hours} h x ${instance}/h + {DB_STORAGE_GB} GB gp3 x ${storage}/GB-month;"
        " the seed's $15 matches Single-AZ"
    )


def _alb(table: PriceTable, hours: int) -> tuple[float | None, str]:
    hour = _price(table, "alb.hour")
    lcu = _price(table, "alb.lcu")
    if hour is None or lcu is None:
        return None, "ALB hour or LCU price not found for this region"
    cost = (hour + ALB_LCUS * lcu) * hours
    return cost, f"{hours} h x ${hour}/h + 1 LCU x {hours} h x ${lcu}/LCU-h; the seed's $75 implies ~10 LCU sustained"


def _nat(table: PriceTable, hours: int) -> tuple[float | None, str]:
    hour = _price(table, "nat.hour")
    if hour is None:
        return None, "NAT gateway price not found for this region"
    data = _price(table, "nat.data")
    return hour * hours, (
        f"1 gateway x {hours} h x ${hour}/h; data processed (${data}/GB) not estimated, the seed's $35 implies ~48 GB"
    )


def seed_baseline(table: PriceTable) -> Baseline:
    hours = table.hours_per_month
    fargate, fargate_basis = _fargate(table, hours)
    database, database_basis = _database(table, hours)
    alb, alb_basis = _alb(table, hours)
    nat, nat_basis = _nat(table, hours)
    mq_line = table.line("mq.rabbitmq.mq.t3.micro.single-instance")
    mq_price = None if mq_line is None else mq_line.price
    mq = None if mq_price is None else mq_price * hours
    mq_basis = (
        "no list price found for mq.t3.micro: $28 is the seed's own claim, not a list price"
        if mq_price is None
        else f"{hours} h x ${mq_price}/h"
    )
    return Baseline(
        name="seed ECS baseline (architecture-diagrams.md sections 1 and 5)",
        lines=(
            BaselineLine("ECS/Fargate", 18.0, fargate, fargate_basis),
            BaselineLine("RabbitMQ (Amazon MQ mq.t3.micro)", 28.0, mq, mq_basis),
            BaselineLine("Database (RDS t4g.micro)", 15.0, database, database_basis),
            BaselineLine("ALB", 75.0, alb, alb_basis),
            BaselineLine("NAT gateway", 35.0, nat, nat_basis),
        ),
        claimed_total=SEED_ECS_CLAIM,
        serverless_claim=SEED_SERVERLESS_CLAIM,
        serverless_lines_sum=round(sum(SEED_SERVERLESS_LINES.values()), 2),
        serverless_section2_total=SEED_SERVERLESS_SECTION2_TOTAL,
    )
