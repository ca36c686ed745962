"""The stack's monthly cost estimate stays within its budget (`nfe:monthlyBudgetUsd`).

Where the stack config comes from: the engine itself. The Pulumi CLI starts a policy pack with the
stack's decrypted config in `PULUMI_CONFIG` (and `PULUMI_STACK`), which pulumi-policy loads into the
Pulumi runtime before each analysis; `nfe.config.from_pulumi()` reads it from there, exactly as the
program does. So the budget and the usage volumes are the ones this very deployment uses, with no
stack-file path to guess; `nfe policy` hands the runtime the same config. The estimate is
`nfe.cost.estimate`, the same one `nfe cost` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from nfe.config import ConfigError, from_pulumi
from nfe.cost import estimate


@dataclass(frozen=True)
class PricedResource:
    """What `nfe.cost.estimate` reads from a resource."""

    urn: str
    type: str
    name: str
    parent: str | None
    inputs: Mapping[str, Any]


def plain(value: Any) -> Any:
    """Copy a proxied value into dicts and lists; a value unknown at preview becomes the engine's
    unknown placeholder, which the estimate reports as unpriced instead of guessing."""
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN_STRING_VALUE
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN_STRING_VALUE)
        return items
    return value


def priced(resource: PolicyResource) -> PricedResource:
    return PricedResource(
        urn=resource.urn,
        type=resource.resource_type,
        name=resource.name,
        parent=resource.parent.urn if resource.parent is not None else None,
        inputs=plain(resource.props),
    )


def monthly_cost_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    try:
        config = from_pulumi()
    except ConfigError as exc:
        report_violation(f"can't read the stack's nfe: config, so the budget can't be checked: {exc}", None)
        return
    result = estimate([priced(r) for r in args.resources], config)
    if result.monthly_total > config.monthly_budget_usd:
        report_violation(
            f"estimated ${result.monthly_total:,.2f}/month exceeds nfe:monthlyBudgetUsd "
            f"${config.monthly_budget_usd:,.2f} (`nfe cost` shows the line items)",
            None,
        )


POLICIES = [
    StackValidationPolicy(
        name="monthly-cost-budget",
        description="The stack's estimated monthly cost stays within nfe:monthlyBudgetUsd.",
        validate=monthly_cost_budget,
    ),
]
