"""The vocabulary of pricing: what a resource looks like to the estimator, what a charge is, and
how the stack's usage figures are shared out between resources (Lambda functions by service, the
scheduled publisher by its schedule).

A pricer (nfe/cost/pricers.py) turns one resource and the usage into `Charge`s, or raises
`Unpriceable` with the reason; the estimator applies the prices. Pricers read inputs only through
`get` / `number` / `flag`, which refuse a value that is unknown at preview or secret, at any depth
of the path (`ephemeralStorage.size`, `metricQueries[0].metric`): a price never rests on a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nfe.config import StackConfig
from nfe.cost.preview import is_secret, is_unknown
from nfe.cost.prices import PriceTable
from nfe.cost.types import is_component
from nfe.topology import FUNCTIONS, Function

LAMBDA = "aws:lambda/function:Function"
REST_API = "aws:apigateway/restApi:RestApi"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
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
    function: str | None = None  # the nfe/topology.py function it deploys


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


# --- Reading inputs -----------------------------------------------------------------------------

_REQUIRED = object()
_MISSING = object()
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """'ephemeralStorage.size' -> ['ephemeralStorage', 'size']; 'a[0].b' -> ['a', 0, 'b']."""
    return [int(index) if index else key for key, index in _PATH_PART.findall(path)]


def _check_known(value: Any, path: str) -> None:
    if is_unknown(value):
        raise Unpriceable(f"input {path} is unknown until apply")
    if is_secret(value):
        raise Unpriceable(f"input {path} is secret")


def get(resource: Resource, path: str, default: Any = _REQUIRED) -> Any:
    """The input at `path`, or `default` when it (or an object on the way) is absent.

    Every step is checked, so an unknown or secret object hides nothing: with `ephemeralStorage`
    unknown, `get(r, "ephemeralStorage.size", 512)` refuses instead of answering 512.
    """
    value: Any = resource.inputs
    walked = ""
    for part in parse_path(path):
        if isinstance(part, int):
            if not isinstance(value, list):
                raise Unpriceable(f"input {walked} is not a list")
            walked += f"[{part}]"
            value = value[part] if part < len(value) else _MISSING
        else:
            if not isinstance(value, Mapping):
                raise Unpriceable(f"input {walked} is not an object")
            walked = f"{walked}.{part}" if walked else part
            value = value.get(part, _MISSING)
        if value is _MISSING or value is None:
            if default is _REQUIRED:
                raise Unpriceable(f"input {walked} is not set")
            return default
        _check_known(value, walked)
    return value


def number(resource: Resource, path: str, default: Any = _REQUIRED) -> float:
    value = get(resource, path, default)
    if isinstance(value, bool):
        raise Unpriceable(f"input {path} is not a number: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Unpriceable(f"input {path} is not a number: {value!r}") from None


def flag(resource: Resource, path: str, default: bool) -> bool:
    value = get(resource, path, default)
    if not isinstance(value, bool):
        raise Unpriceable(f"input {path} is not true or false: {value!r}")
    return value


def items(resource: Resource, path: str) -> list[Any]:
    """A list input, each element checked (an unknown element could be anything)."""
    value = get(resource, path, [])
    if not isinstance(value, list):
        raise Unpriceable(f"input {path} is not a list")
    return [get(resource, f"{path}[{index}]") for index in range(len(value))]


def physical_name(resource: Resource) -> str | None:
    """The `name` input (None when auto-named); unknown or secret refuses."""
    name = get(resource, "name", None)
    return None if name is None else str(name)


# --- Components ---------------------------------------------------------------------------------


def _urn_type(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent types $ ...>$<type>::<name>
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def component_of(resource: Resource, by_urn: Mapping[str, Resource]) -> str:
    """The name of the nearest `nfe:index:*` ancestor, or "stack"."""
    parent = resource.parent
    visited: set[str] = set()
    while parent and parent not in visited:
        visited.add(parent)
        if is_component(_urn_type(parent)):
            return parent.rsplit("::", 1)[-1]
        ancestor = by_urn.get(parent)
        parent = ancestor.parent if ancestor is not None else None
    return "stack"


# --- Lambda -------------------------------------------------------------------------------------


def _longest_match(name: str) -> Function | None:
    matches = [fn for fn in FUNCTIONS if fn.name in name]
    return max(matches, key=lambda fn: len(fn.name)) if matches else None


def topology_function(resource: Resource) -> Function | None:
    """The nfe/topology.py function a Lambda resource deploys, by name (longest match wins).

    The logical name decides when it matches; only otherwise does the `name` input, which must then
    be known (it decides which usage figure the function gets).
    """
    found = _longest_match(resource.name)
    if found is not None:
        return found
    name = physical_name(resource)
    return _longest_match(name) if name is not None else None


MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 24 * 60}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")


def _cron_field_count(field: str, low: int, high: int) -> int:
    """How many values of [low, high] a cron minutes or hours field matches."""
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = int(part)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    if not values or min(values) < low or max(values) > high:
        raise ValueError(field)
    return len(values)


def schedule_firings(expression: str, hours_per_month: int) -> float:
    """Invocations a month of an EventBridge schedule expression.

    `rate(n unit)` fires every n units; `cron(min hour * * ? *)` fires on the matched minutes of
    the matched hours of every day. Cron expressions that pick days, months or years are refused:
    their count depends on the calendar month.
    """
    minutes_per_month = hours_per_month * 60
    rate = _RATE.match(expression.strip())
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value <= 0:
            raise Unpriceable(f"schedule {expression!r} never fires")
        return minutes_per_month / (value * MINUTES_PER_UNIT[unit])
    cron = _CRON.match(expression.strip())
    if cron:
        fields = cron.group(1).split()
        if len(fields) == 6 and all(f in ("*", "?") for f in fields[2:]):
            try:
                per_day = _cron_field_count(fields[0], 0, 59) * _cron_field_count(fields[1], 0, 23)
            except ValueError:
                raise Unpriceable(f"schedule {expression!r} is not a cron expression this review reads") from None
            return per_day * hours_per_month / 24
        raise Unpriceable(f"schedule {expression!r} picks days, months or years: its monthly count is not modelled")
    raise Unpriceable(f"schedule {expression!r} is neither rate(...) nor cron(...)")


def _scheduled_invocations(
    resource: Resource, resources: Sequence[Resource], hours_per_month: int
) -> tuple[float, str]:
    """Invocations a month of a scheduled function, from the scheduled rules of its component.

    A rule's target names the function by ARN, which a first preview does not know, so the
    schedule is found where the component that owns both puts it: beside the function.
    """
    by_urn = {r.urn: r for r in resources}
    component = component_of(resource, by_urn)
    # The component is checked first: a rule elsewhere in the stack is not read at all.
    rules = [
        r
        for r in resources
        if r.type == EVENT_RULE and component_of(r, by_urn) == component and "scheduleExpression" in r.inputs
    ]
    if not rules:
        raise Unpriceable(f"no scheduled rule beside it in {component}, and usage gives no invocations")
    total = 0.0
    hows = []
    for rule in rules:
        try:
            expression = str(get(rule, "scheduleExpression"))
            state = get(rule, "state", "ENABLED")
        except Unpriceable as exc:
            raise Unpriceable(f"schedule {rule.name}: {exc.reason}") from None
        if state == "DISABLED":
            hows.append(f"{rule.name} disabled")
            continue
        firings = schedule_firings(expression, hours_per_month)
        total += firings
        hows.append(f"{rule.name} {expression}")
    return total, "schedule: " + ", ".join(hows)


def function_demands(
    resources: Sequence[Resource], config: StackConfig, hours_per_month: int = 730
) -> dict[str, FunctionDemand | str]:
    """Invocations and duration per Lambda resource (by URN), or the reason there are none.

    usage.functions is keyed by service ("faturamento", "estoque") or "publisher"; a key equal to
    a function's own name ("faturamento-api") takes precedence. A service's invocations are split
    evenly between its functions in the stack (API and consumer); the migrator runs once per
    deploy and is taken as zero. The publisher runs on its schedule: its invocations come from the
    schedule resource (43,800 a month at rate(1 minute)) unless usage sets them; eager publishing
    runs inside the API and consumer functions and is part of their duration.
    """
    usage = config.usage.functions
    keyed: dict[str, tuple[str, Function]] = {}
    result: dict[str, FunctionDemand | str] = {}
    for resource in resources:
        if resource.type != LAMBDA:
            continue
        try:
            fn = topology_function(resource)
        except Unpriceable as exc:
            result[resource.urn] = f"cannot tell which function of nfe/topology.py it deploys: {exc.reason}"
            continue
        if fn is None:
            result[resource.urn] = f"no usage figure: {resource.name} matches no function of nfe/topology.py"
        elif fn.name in usage:
            keyed[resource.urn] = (fn.name, fn)
        elif fn.kind == "migrator":
            result[resource.urn] = FunctionDemand(0, 0, f"{fn.name} runs once per deploy: 0 invocations", fn.name)
        elif fn.kind == "publisher":
            keyed[resource.urn] = ("publisher", fn)
        else:
            keyed[resource.urn] = (fn.service, fn)
    by_urn = {r.urn: r for r in resources}
    for urn, (key, fn) in keyed.items():
        if key not in usage:
            result[urn] = f"no usage figure: usage.functions has no {key!r} entry"
            continue
        figure = usage[key]
        if figure.invocations is None:
            if fn.kind != "publisher":
                result[urn] = f"no usage figure: usage.functions.{key} gives no invocations"
                continue
            try:
                invocations, how = _scheduled_invocations(by_urn[urn], resources, hours_per_month)
            except Unpriceable as exc:
                result[urn] = exc.reason
                continue
            result[urn] = FunctionDemand(invocations, figure.avg_duration_ms, how, fn.name)
            continue
        sharing = sum(1 for k, _ in keyed.values() if k == key)
        invocations = figure.invocations / sharing
        how = (
            f"usage.functions.{key}" if sharing == 1 else f"usage.functions.{key} {num(figure.invocations)} / {sharing}"
        )
        result[urn] = FunctionDemand(invocations, figure.avg_duration_ms, how, fn.name)
    return result
