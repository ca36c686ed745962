"""The estimate's data: priced line items, unpriced resources, the seed's baseline, and their JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LineItem:
    resource: str
    type: str
    component: str
    monthly: float
    # "<dimension>: <arithmetic>", e.g. "instance: 730 h x $0.016/h (db.t4g.micro, Single-AZ)". The
    # dimension before the colon is what `--diff` matches lines on.
    basis: str

    @property
    def dimension(self) -> str:
        return self.basis.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "component": self.component,
            "monthly": round(self.monthly, 4),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class UnpricedResource:
    resource: str
    type: str
    reason: str
    component: str = "stack"

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "type": self.type, "reason": self.reason}


@dataclass(frozen=True)
class BaselineLine:
    line: str
    seed: float  # the seed's own figure
    list_price: float | None  # recomputed from the price table; None when a price is missing
    basis: str

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "seed": self.seed,
            "listPrice": None if self.list_price is None else round(self.list_price, 2),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Baseline:
    name: str
    lines: tuple[BaselineLine, ...]
    claimed_total: float  # the seed's headline ($180), which its own lines do not add up to
    serverless_claim: float  # the seed's serverless headline ($44)
    serverless_lines_sum: float  # what the seed's serverless lines add up to
    serverless_section2_total: float  # "TOTAL INFRA SERVERLESS" in section 2

    @property
    def monthly_total(self) -> float:
        """The sum of the seed's five lines as printed (not its $180 headline)."""
        return round(math.fsum(line.seed for line in self.lines), 2)

    @property
    def list_price_total(self) -> float:
        """List prices where the table has them, the seed's own figure where it has none."""
        return round(
            math.fsum(line.seed if line.list_price is None else line.list_price for line in self.lines),
            2,
        )

    @property
    def lines_at_seed_figure(self) -> list[str]:
        return [line.line for line in self.lines if line.list_price is None]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "monthlyTotal": self.monthly_total,
            "items": [line.to_json() for line in self.lines],
            "claimedTotal": self.claimed_total,
            "listPriceTotal": self.list_price_total,
            "linesAtSeedFigure": self.lines_at_seed_figure,
            "serverlessClaim": self.serverless_claim,
            "serverlessClaimLinesSum": self.serverless_lines_sum,
            "serverlessSection2Total": self.serverless_section2_total,
        }


@dataclass
class CostEstimate:
    stack: str
    region: str
    items: list[LineItem]
    unpriced: list[UnpricedResource]
    baseline: Baseline
    free_tier: bool = False
    free_resources: int = 0
    price_table_version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def monthly_total(self) -> float:
        return round(math.fsum(item.monthly for item in self.items), 4)

    def components(self) -> dict[str, float]:
        """Subtotal per component, in the order components first appear."""
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.component] = totals.get(item.component, 0.0) + item.monthly
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "currency": "USD",
            "monthlyTotal": round(self.monthly_total, 2),
            "items": [item.to_json() for item in self.items],
            "unpriced": [u.to_json() for u in self.unpriced],
            "baseline": self.baseline.to_json(),
        }
