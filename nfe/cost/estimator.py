"""`estimate(resources, config)`: a stack's monthly cost from its resources, usage and unit prices.

A resource is either fully priced (one line item per billed dimension) or listed unpriced with
the reason (unknown type, an input its price depends on unknown at preview or secret, a price the
table marks "not found" in this region); it is never half priced and never silently zero.
Known-free types are counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from nfe.config import StackConfig
from nfe.cost.baseline import seed_baseline
from nfe.cost.model import CostEstimate, LineItem, UnpricedResource
from nfe.cost.pricers import PRICERS
from nfe.cost.prices import PriceTable, load_table
from nfe.cost.pricing import (
    Charge,
    PricingContext,
    Resource,
    Unpriceable,
    component_of,
    function_demands,
    num,
)
from nfe.cost.types import is_free


def money(price: float) -> str:
    """A unit price as written in a basis: 0.2 -> '0.20', 0.0000133334 stays whole."""
    text = format(Decimal(str(price)), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _stack_name(resources: Sequence[Resource], config: StackConfig) -> str:
    for resource in resources:
        if resource.urn.startswith("urn:pulumi:"):
            return resource.urn.split("::", 1)[0].removeprefix("urn:pulumi:")
    return config.environment


def _basis(charge: Charge, free: float, price: float, unit_quantity: str, unit_price: str) -> str:
    text = f"{charge.dimension}: "
    if charge.derivation:
        text += f"{charge.derivation} = "
    text += f"{num(charge.quantity)} {unit_quantity}"
    if free > 0:
        text += f" - {num(free)} free = {num(charge.quantity - free)} {unit_quantity}"
    text += f" x ${money(price)}/{unit_price}"
    if charge.note:
        text += f" ({charge.note})"
    return text


def _missing_prices(charges: list[Charge], table: PriceTable) -> list[str]:
    problems = []
    for charge in charges:
        line = table.line(charge.price_key)
        if line is None:
            problems.append(f"no price line {charge.price_key} in the {table.region} table")
        elif line.price is None and charge.quantity:
            problems.append(f"{charge.price_key} not found for {table.region} (no source)")
    return problems


def estimate(
    resources: Sequence[Resource],
    config: StackConfig,
    *,
    free_tier: bool = False,
    table: PriceTable | None = None,
) -> CostEstimate:
    """Price a stack's resources (offline-plan records or preview resources) for one month.

    `free_tier=True` subtracts the account's free allowances listed in the price table (Lambda 1M
    requests + 400,000 GB-s, SQS 1M requests, API Gateway 1M REST calls for a new account's first 12
    months, X-Ray 100,000 traces, 100 GB data out, 5M events of schema discovery), shared in
    proportion between the resources that draw on each. Off by default: the free tier is per
    account, and other workloads may use it.
    """
    table = table or load_table(config.region)
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    ctx = PricingContext(config=config, table=table, resources=resources)
    ctx.demands = function_demands(resources, config, table.hours_per_month)

    unpriced: list[UnpricedResource] = []
    priced: list[tuple[Resource, str, list[Charge]]] = []
    free_count = 0
    for resource in resources:
        component = component_of(resource, by_urn)
        custom = getattr(resource, "custom", True)
        if is_free(resource.type) or custom is False:
            free_count += 1
            continue
        pricer = PRICERS.get(resource.type)
        if pricer is None:
            unpriced.append(UnpricedResource(resource.name, resource.type, "no price line for this type", component))
            continue
        try:
            charges = pricer(resource, ctx)
        except Unpriceable as exc:
            unpriced.append(UnpricedResource(resource.name, resource.type, exc.reason, component))
            continue
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            # Inputs of a shape no pricer expected (a preview can hold anything): listed, never a crash.
            reason = f"its inputs could not be read ({type(exc).__name__}: {exc})"
            unpriced.append(UnpricedResource(resource.name, resource.type, reason, component))
            continue
        if not charges:
            free_count += 1
            continue
        problems = _missing_prices(charges, table)
        if problems:
            unpriced.append(UnpricedResource(resource.name, resource.type, "; ".join(problems), component))
            continue
        billable = [c for c in charges if (line := table.line(c.price_key)) is not None and line.price is not None]
        priced.append((resource, component, billable))

    # Free allowances are shared in proportion to what each resource draws from the pool.
    free_fraction: dict[str, float] = {}
    if free_tier:
        drawn: dict[str, float] = {}
        for _, _, charges in priced:
            for charge in charges:
                if charge.free_pool:
                    drawn[charge.free_pool] = drawn.get(charge.free_pool, 0.0) + charge.quantity
        for pool, total in drawn.items():
            allowance = table.free_tier.get(pool)
            if allowance is not None and total > 0:
                free_fraction[pool] = min(1.0, allowance.value / total)

    items: list[LineItem] = []
    for resource, component, charges in priced:
        for charge in charges:
            line = table.prices[charge.price_key]
            assert line.price is not None  # filtered above
            unit = line.unit_spec
            free = charge.quantity * free_fraction.get(charge.free_pool or "", 0.0)
            monthly = (charge.quantity - free) / unit.per * line.price
            items.append(
                LineItem(
                    resource=resource.name,
                    type=resource.type,
                    component=component,
                    monthly=0.0 if math.isclose(monthly, 0.0, abs_tol=1e-12) else monthly,
                    basis=_basis(charge, free, line.price, unit.quantity, unit.price),
                )
            )

    notes = []
    if unpriced:
        notes.append(f"{len(unpriced)} resource(s) unpriced: the total is a lower bound")
    return CostEstimate(
        stack=_stack_name(resources, config),
        region=table.region,
        items=items,
        unpriced=unpriced,
        baseline=seed_baseline(table),
        free_tier=free_tier,
        free_resources=free_count,
        price_table_version=table.version,
        notes=notes,
    )
