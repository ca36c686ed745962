"""The stack as a graph: what a resource waits for, and which resources one of its properties names.

Both come from what the engine hands a stack policy. `PolicyResource.dependencies` are the URNs the
engine orders the resource after (explicit `depends_on`, with components expanded to their
children, plus every resource whose outputs it takes as inputs); `property_dependencies` says, per
input property, which resources that value came from. The graph, unlike ARNs, is known on a first
preview, so a policy that can follow it still decides when the ARNs it would compare are unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from .common import known


def direct_dependencies(resource: PolicyResource) -> list[PolicyResource]:
    found = list(resource.dependencies)
    for resources in resource.property_dependencies.values():
        found.extend(resources)
    return found


class Dependencies:
    """Transitive dependencies of every resource of one stack, each walked once."""

    def __init__(self) -> None:
        self._closure: dict[str, frozenset[str]] = {}

    def of(self, resource: PolicyResource) -> frozenset[str]:
        """URNs `resource` waits for, directly or through others (never itself)."""
        if resource.urn not in self._closure:
            seen: set[str] = set()
            stack = list(direct_dependencies(resource))
            while stack:
                current = stack.pop()
                if current.urn in seen:
                    continue
                seen.add(current.urn)
                stack.extend(direct_dependencies(current))
            seen.discard(resource.urn)
            self._closure[resource.urn] = frozenset(seen)
        return self._closure[resource.urn]


Matcher = Callable[[Any, PolicyResource], bool]


def referents(
    resource: PolicyResource,
    key: str,
    candidates: Iterable[PolicyResource],
    matches: Matcher,
    pick: Callable[[Any], Any] = lambda value: value,
) -> list[PolicyResource]:
    """The candidates that `resource`'s property `key` designates.

    Known value: the candidates `matches(value, candidate)` accepts (`pick` digs the reference out
    of a nested value, e.g. a schedule's `target.arn`). Unknown value (a preview: the ARN it copies
    does not exist yet): the candidates the value came from, per the engine's property dependencies
    of `key`; when those are not given (an engine or runner that sends only `dependencies`), the
    candidates among the resource's direct dependencies.
    """
    pool = list(candidates)
    try:
        value = pick(resource.props.get(key))
    except UnknownValueError:
        sources = resource.property_dependencies.get(key) or resource.dependencies
        urns = {s.urn for s in sources}
        return [c for c in pool if c.urn in urns]
    if value is None:
        return []
    return [c for c in pool if matches(value, c)]


def names_function(reference: Any, function: PolicyResource) -> bool:
    """Whether a reference (name, ARN, qualified ARN, invoke ARN or an API Gateway integration URI)
    designates this Lambda function."""
    ref = str(reference)
    name, arn, invoke_arn = (known(function.props, k) for k in ("name", "arn", "invokeArn"))
    for ident in (str(v) for v in (name, arn) if v):
        # A qualifier (":live", ":$LATEST", ":3") still designates the function.
        if ref == ident or ref.startswith(f"{ident}:"):
            return True
    if invoke_arn and ref == str(invoke_arn):
        return True
    # An integration URI of the function or one of its aliases: .../functions/<arn>[:alias]/invocations
    return bool(arn) and (f"/functions/{arn}/" in ref or f"/functions/{arn}:" in ref)
