"""The vocabulary of pricing: what a resource looks like to the estimator, what a charge is, and
how the stack's usage figures are shared out between resources (Lambda functions by service).

A pricer (nfe/cost/pricers.py) turns one resource and the usage into `Charge`s, or raises
`Unpriceable` with the reason; the estimator applies the prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nfe.config import StackConfig
from nfe.cost.preview import is_secret, is_unknown
from nfe.cost.prices import PriceTable
from nfe.topology import FUNCTIONS, Function

LAMBDA = "aws:lambda/function:Function"
REST_API = "aws:apigateway/restApi:RestApi"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
DB_INSTANCE = "aws:rds/instance:Instance"
PROXY_TARGET = "aws:rds/proxyTarget:ProxyTarget"


class Resource(Protocol):
    """What the estimator reads from a resource: `nfe.mockrun.ResourceRecord` or a preview's."""

    @property
    def urn(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def parent(self) -> str | None: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


class Unpriceable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Charge:
    dimension: str  # short word: "requests", "compute", "instance", "storage", ...
    quantity: float  # in the price line's base unit (h, GB-s, requests, GB, GB-month, ...)
    price_key: str
    derivation: str = ""  # how the quantity was reached, e.g. "500,000 x 40 ms x 0.5 GB"
    note: str = ""
    free_pool: str | None = None  # free-tier allowance this quantity draws on


@dataclass(frozen=True)
class FunctionDemand:
    invocations: float
    duration_ms: float
    how: str


@dataclass
class PricingContext:
    config: StackConfig
    table: PriceTable
    resources: Sequence[Resource]
    demands: dict[str, FunctionDemand | str] = field(default_factory=dict)

    @property
    def hours(self) -> int:
        return self.table.hours_per_month

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def share(self, total: float, type_token: str, usage_key: str, noun: str) -> tuple[float, str]:
        """Split a stack-wide usage figure evenly over the resources of one type."""
        count = max(1, len(self.of_type(type_token)))
        if count == 1:
            return total, f"usage.{usage_key}"
        return total / count, f"usage.{usage_key} {num(total)} / {count} {noun}"


def num(value: float) -> str:
    """1000000 -> '1,000,000'; 0.95367 -> '0.9537'."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


_REQUIRED = object()


def get(resource: Resource, key: str, default: Any = _REQUIRED) -> Any:
    value = resource.inputs.get(key, default)
    if value is _REQUIRED:
        raise Unpriceable(f"input {key} is not set")
    if is_unknown(value):
        raise Unpriceable(f"input {key} is unknown until apply")
    if is_secret(value):
        raise Unpriceable(f"input {key} is secret")
    return value


def number(resource: Resource, key: str, default: Any = _REQUIRED) -> float:
    value = get(resource, key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unpriceable(f"input {key} is not a number: {value!r}") from None


def resource_name(resource: Resource) -> str:
    name = resource.inputs.get("name")
    return name if isinstance(name, str) and not is_unknown(name) else resource.name


# --- Lambda -------------------------------------------------------------------------------------


def topology_function(resource: Resource) -> Function | None:
    """The nfe/topology.py function a Lambda resource deploys, by name (longest match wins)."""
    names = (resource.name, resource_name(resource))
    matches = [fn for fn in FUNCTIONS if any(fn.name in n for n in names)]
    return max(matches, key=lambda fn: len(fn.name)) if matches else None


def function_demands(resources: Sequence[Resource], config: StackConfig) -> dict[str, FunctionDemand | str]:
    """Invocations and duration per Lambda resource (by URN), or the reason there are none.

    usage.functions is keyed by service ("faturamento", "estoque") or "publisher"; a key equal to
    a function's own name ("faturamento-api") takes precedence. A service's invocations are split
    evenly between its functions in the stack (API and consumer); the migrator runs once per
    deploy and is taken as zero.
    """
    usage = config.usage.functions
    keyed: dict[str, str] = {}
    result: dict[str, FunctionDemand | str] = {}
    for resource in resources:
        if resource.type != LAMBDA:
            continue
        fn = topology_function(resource)
        if fn is None:
            result[resource.urn] = f"no usage figure: {resource.name} matches no function of nfe/topology.py"
        elif fn.name in usage:
            keyed[resource.urn] = fn.name
        elif fn.kind == "migrator":
            result[resource.urn] = FunctionDemand(0, 0, f"{fn.name} runs once per deploy: 0 invocations")
        elif fn.kind == "publisher":
            keyed[resource.urn] = "publisher"
        else:
            keyed[resource.urn] = fn.service
    for urn, key in keyed.items():
        if key not in usage:
            result[urn] = f"no usage figure: usage.functions has no {key!r} entry"
            continue
        sharing = sum(1 for k in keyed.values() if k == key)
        figure = usage[key]
        invocations = figure.invocations / sharing
        how = (
            f"usage.functions.{key}" if sharing == 1 else f"usage.functions.{key} {num(figure.invocations)} / {sharing}"
        )
        result[urn] = FunctionDemand(invocations, figure.avg_duration_ms, how)
    return result
