"""The stack's fixed monthly charges stay within its budget (`nfe:monthlyBudgetUsd`).

Why a self-contained floor and not the full estimate: under `pulumi preview --policy-pack policies`
the pack runs in its own virtualenv (policies/requirements.txt: pulumi-policy, nothing of this
project), so it cannot call `nfe cost`'s estimator, and an estimate computed beforehand by the tool
and handed in through the policy config would describe the offline plan, not the preview the pack is
judging. So the pack prices, from the previewed resources themselves, only what is billed by the
hour or the month whatever the traffic: database instances and their gp3 storage, RDS Proxy vCPUs,
interface VPC endpoints per AZ, NAT gateways, KMS keys, Secrets Manager secrets (RDS-managed master
secrets included) and CloudWatch alarms. That sum is a lower bound of the bill: when it alone
exceeds the budget the stack is over budget, whatever its usage. Usage-billed lines (Lambda, API
requests, events, queues, logs) and the full review against `nfe:usage` are `nfe cost`'s.

The unit prices are copied from `nfe/cost/prices/<region>.json` (list prices; a test fails when
the two differ). A resource whose price is not here (another instance class, an unknown input at
preview) is left out, which keeps the sum a lower bound.

Where the budget comes from: the engine. The CLI starts a policy pack with the stack's config in
`PULUMI_CONFIG`, which pulumi-policy loads into the Pulumi runtime before each analysis; the pack
reads `nfe:monthlyBudgetUsd` and `aws:region` from there (`nfe policy` hands the runtime the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from .common import (
    KMS_KEY,
    METRIC_ALARM,
    NAT_GATEWAY,
    RDS_INSTANCE,
    RDS_PROXY,
    SECRETS_MANAGER_SECRET,
    VPC_ENDPOINT,
    known,
    number,
    of_type,
)

HOURS_PER_MONTH = 730

# Per region: unit prices in USD (per hour, GB-month, key-month, ...) and the quantities the
# arithmetic needs. Keys and values as in nfe/cost/prices/<region>.json.
PRICES: dict[str, dict[str, float]] = {
    "us-east-1": {
        "rds.postgres.db.t4g.micro.single-az": 0.016,
        "rds.postgres.db.t4g.micro.multi-az": 0.032,
        "rds.postgres.db.t4g.small.single-az": 0.032,
        "rds.postgres.db.t4g.small.multi-az": 0.064,
        "rds.storage.gp3.single-az": 0.115,
        "rds.storage.gp3.multi-az": 0.23,
        "rds.proxy.vcpu": 0.015,
        "kms.key": 1.0,
        "secretsmanager.secret": 0.4,
        "vpc.endpoint.interface.hour": 0.01,
        "nat.hour": 0.045,
        "cloudwatch.alarm.standard": 0.1,
    },
}
QUANTITIES: dict[str, dict[str, float]] = {
    "us-east-1": {
        "rds.vcpu.db.t4g.micro": 2,
        "rds.vcpu.db.t4g.small": 2,
        "rds.vcpu.db.t4g.medium": 2,
        # RDS Proxy bills per vCPU of the instance behind it, with a 2-vCPU minimum.
        "rds.proxy.minimumVcpu": 2,
    },
}


@dataclass(frozen=True)
class FixedCharges:
    monthly: float
    unpriced: list[str]  # resources with a fixed charge this table cannot price


class _Pricer:
    def __init__(self, region: str) -> None:
        self.prices = PRICES[region]
        self.quantities = QUANTITIES[region]
        self.total = 0.0
        self.unpriced: list[str] = []

    def add(self, resource: PolicyResource, key: str, quantity: float) -> bool:
        price = self.prices.get(key)
        if price is None:
            self.unpriced.append(resource.name)
            return False
        self.total += price * quantity
        return True

    def instance(self, resource: PolicyResource) -> None:
        instance_class = known(resource.props, "instanceClass")
        storage_gb = number(known(resource.props, "allocatedStorage"))
        az = "multi-az" if known(resource.props, "multiAz") is True else "single-az"
        if str(known(resource.props, "engine") or "") != "postgres" or not instance_class:
            self.unpriced.append(resource.name)
            return
        self.add(resource, f"rds.postgres.{instance_class}.{az}", HOURS_PER_MONTH)
        if known(resource.props, "storageType") == "gp3" and storage_gb is not None:
            self.add(resource, f"rds.storage.gp3.{az}", storage_gb)
        if known(resource.props, "manageMasterUserPassword") is True:
            self.add(resource, "secretsmanager.secret", 1)

    def proxy(self, resource: PolicyResource, instances: list[PolicyResource]) -> None:
        classes = {str(known(i.props, "instanceClass")) for i in instances if known(i.props, "instanceClass")}
        vcpus = self.quantities.get(f"rds.vcpu.{classes.pop()}") if len(classes) == 1 else None
        if vcpus is None:
            self.unpriced.append(resource.name)
            return
        billed = max(vcpus, self.quantities["rds.proxy.minimumVcpu"])
        self.add(resource, "rds.proxy.vcpu", billed * HOURS_PER_MONTH)

    def endpoint(self, resource: PolicyResource) -> None:
        if known(resource.props, "vpcEndpointType") != "Interface":
            return  # gateway endpoints are free
        # An interface endpoint takes one subnet per AZ and is billed per AZ-hour. Counted without
        # reading the items, which are unknown subnet ids on a first preview.
        subnets = known(resource.props, "subnetIds")
        azs = len(subnets) if isinstance(subnets, Sequence) and not isinstance(subnets, str) else 0
        if azs:
            self.add(resource, "vpc.endpoint.interface.hour", azs * HOURS_PER_MONTH)
        else:
            self.unpriced.append(resource.name)


def fixed_charges(resources: list[PolicyResource], region: str) -> FixedCharges:
    pricer = _Pricer(region)
    instances = of_type(resources, RDS_INSTANCE)
    for resource in resources:
        kind = resource.resource_type
        if kind == RDS_INSTANCE:
            pricer.instance(resource)
        elif kind == RDS_PROXY:
            pricer.proxy(resource, instances)
        elif kind == VPC_ENDPOINT:
            pricer.endpoint(resource)
        elif kind == NAT_GATEWAY:
            pricer.add(resource, "nat.hour", HOURS_PER_MONTH)
        elif kind == KMS_KEY:
            pricer.add(resource, "kms.key", 1)
        elif kind == SECRETS_MANAGER_SECRET:
            pricer.add(resource, "secretsmanager.secret", 1)
        elif kind == METRIC_ALARM:
            # One alarm-month each; a metric-math alarm is billed per metric it reads, so at least this.
            pricer.add(resource, "cloudwatch.alarm.standard", 1)
    return FixedCharges(round(pricer.total, 2), pricer.unpriced)


def monthly_cost_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    raw_budget = pulumi.Config("nfe").get("monthlyBudgetUsd")
    budget = number(raw_budget)
    if budget is None or budget <= 0:
        # Fail closed: a budget nobody can read is not a budget that was met.
        shown = "not set" if raw_budget is None else f"{raw_budget!r}, not a positive number"
        report_violation(f"nfe:monthlyBudgetUsd is {shown} in the stack's config: the budget can't be checked", None)
        return
    region = pulumi.Config("aws").get("region") or "unset"
    if region not in PRICES:
        report_violation(
            f"the pack has no prices for aws:region {region} (only {', '.join(sorted(PRICES))}): "
            "the budget can't be checked; `nfe cost` prices the stack",
            None,
        )
        return
    charges = fixed_charges(args.resources, region)
    if charges.monthly > budget:
        left_out = f"; {len(charges.unpriced)} resource(s) not priced here" if charges.unpriced else ""
        report_violation(
            f"fixed charges alone come to ${charges.monthly:,.2f}/month, which exceeds nfe:monthlyBudgetUsd "
            f"${budget:,.2f} before any usage (database, proxy, endpoints, keys, secrets, alarms{left_out}; "
            "`nfe cost` shows every line)",
            None,
        )


POLICIES = [
    StackValidationPolicy(
        name="monthly-cost-budget",
        description="The stack's fixed monthly charges (billed whatever the traffic) stay within nfe:monthlyBudgetUsd.",
        validate=monthly_cost_budget,
    ),
]
