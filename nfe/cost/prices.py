"""Versioned unit-price tables, one JSON file per region under `nfe/cost/prices/`.

Every line carries its unit, price, source and date. A price of `null` means no source was found
(see shared/reference/aws-prices.md): the estimator then reports the resource unpriced instead of
guessing a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICES_DIR = Path(__file__).resolve().parent / "prices"


@dataclass(frozen=True)
class Unit:
    """How a price line's unit reads and how many base quantities one priced unit holds."""

    per: float  # base quantities in one priced unit: 1,000,000 for "1M requests"
    quantity: str  # how a quantity is written in a basis: "h", "GB-s", "requests"
    price: str  # how the price's denominator is written: "h", "1M requests"


UNITS: dict[str, Unit] = {
    "hour": Unit(1, "h", "h"),
    "AZ-hour": Unit(1, "AZ-h", "AZ-h"),
    "vCPU-hour": Unit(1, "vCPU-h", "vCPU-h"),
    "GB-hour": Unit(1, "GB-h", "GB-h"),
    "LCU-hour": Unit(1, "LCU-h", "LCU-h"),
    "GB-second": Unit(1, "GB-s", "GB-s"),
    "GB": Unit(1, "GB", "GB"),
    "GB-month": Unit(1, "GB-month", "GB-month"),
    "key-month": Unit(1, "key-month", "key-month"),
    "secret-month": Unit(1, "secret-month", "secret-month"),
    "alarm-month": Unit(1, "alarm-month", "alarm-month"),
    "metric-month": Unit(1, "metric-month", "metric-month"),
    "dashboard-month": Unit(1, "dashboard-month", "dashboard-month"),
    "1M requests": Unit(1_000_000, "requests", "1M requests"),
    "1M events": Unit(1_000_000, "events", "1M events"),
    "1M traces": Unit(1_000_000, "traces", "1M traces"),
    "10K requests": Unit(10_000, "requests", "10K requests"),
    "MAU": Unit(1, "MAU", "MAU"),
}


@dataclass(frozen=True)
class PriceLine:
    key: str
    unit: str
    price: float | None
    source: str
    date: str | None

    @property
    def unit_spec(self) -> Unit:
        return UNITS[self.unit]


@dataclass(frozen=True)
class Quantity:
    """A fact the arithmetic needs (vCPUs of an instance class, a free-tier allowance)."""

    key: str
    unit: str
    value: float
    source: str
    date: str | None


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    version: str
    hours_per_month: int
    sources: dict[str, str]
    prices: dict[str, PriceLine]
    free_tier: dict[str, Quantity]
    quantities: dict[str, Quantity]

    def line(self, key: str) -> PriceLine | None:
        return self.prices.get(key)


class PriceTableError(ValueError):
    pass


def _quantities(raw: list[dict[str, Any]], value_key: str) -> dict[str, Quantity]:
    return {q["key"]: Quantity(q["key"], q["unit"], float(q[value_key]), q["source"], q.get("date")) for q in raw}


def parse_table(document: dict[str, Any]) -> PriceTable:
    prices: dict[str, PriceLine] = {}
    for raw in document["prices"]:
        if raw["unit"] not in UNITS:
            raise PriceTableError(f"{raw['key']}: unknown unit {raw['unit']!r}")
        price = raw["price"]
        if price is not None and (not isinstance(price, int | float) or price < 0):
            raise PriceTableError(f"{raw['key']}: price must be a non-negative number or null, got {price!r}")
        if raw["key"] in prices:
            raise PriceTableError(f"{raw['key']}: listed twice")
        prices[raw["key"]] = PriceLine(raw["key"], raw["unit"], price, raw["source"], raw.get("date"))
    return PriceTable(
        region=document["region"],
        currency=document["currency"],
        version=document["version"],
        hours_per_month=int(document["hoursPerMonth"]),
        sources=dict(document["sources"]),
        prices=prices,
        free_tier=_quantities(document["freeTier"], "amount"),
        quantities=_quantities(document["quantities"], "value"),
    )


@cache
def load_table(region: str) -> PriceTable:
    path = PRICES_DIR / f"{region}.json"
    if not path.exists():
        available = ", ".join(sorted(p.stem for p in PRICES_DIR.glob("*.json")))
        raise PriceTableError(f"no price table for region {region!r} (available: {available})")
    return parse_table(json.loads(path.read_text()))
