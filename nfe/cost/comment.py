"""The cost review as a pull-request comment (`nfe cost --format github`), modelled on Infracost's.

Before is the base branch's estimate (its `pulumi preview --json`, or an `nfe cost --format json`
estimate), after is this change's. The comment gives, in this order: the monthly total before and
after with the change and its percentage; the guardrail's verdict; the resources whose cost changed
(lines depending on `nfe:usage` marked as estimates); what cannot be priced and why. It fits GitHub's
65,536-character comment limit by dropping the smallest rows of the per-resource table first.

The guardrail (`nfe:costGuardrail`, `nfe:monthlyBudgetUsd`) blocks a change that raises the monthly
estimate by more than `maxIncreasePercent`, or raises it while the new total is above the budget. A
change that lowers or keeps the cost is never blocked, even on a stack already over budget: blocking
every pull request for a cost it did not cause would teach people to add the override label by
habit. The override label unblocks; `nfe cost` then exits 0 and the comment says who decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nfe.config import CostGuardrailConfig
from nfe.cost.diff import EstimateDiff, LineChange
from nfe.cost.render import dollars, short_type, signed

# GitHub refuses a comment body above 65,536 characters ("Body is too long", pulumi/actions#482).
GITHUB_COMMENT_LIMIT = 65_536
# The first line, which the workflow searches for to update its own comment instead of adding one.
MARKER = "<!-- nfe-cost-review stack={stack} -->"
# Dimensions billed per resource-month or per hour of existence: what the resource is, not how much
# it is used. Any other line of a resource with a `usage.` line depends on volumes too (a Lambda's
# compute and traces follow its invocations; log storage follows ingestion).
FIXED_DIMENSIONS = frozenset(
    {"instance", "storage-provisioned", "key", "endpoint", "alarm", "dashboard", "master-secret", "proxy"}
)
USAGE_MARK = "📊"

EXIT_PASSED, EXIT_BLOCKED = 0, 1


def github_length(text: str) -> int:
    """A body's length counted in UTF-16 code units, never less than in characters: the emoji
    above are two units each, and which count GitHub applies is not documented, so take the larger."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class ResourceChange:
    """One resource's monthly cost before and after, from its changed lines."""

    component: str
    resource: str
    type: str
    before: float | None  # None: the resource is new
    after: float | None  # None: the resource is gone
    lines: tuple[LineChange, ...]
    usage_based: bool

    @property
    def delta(self) -> float:
        return math.fsum(line.delta for line in self.lines)

    @property
    def symbol(self) -> str:
        if self.before is None:
            return "+"
        if self.after is None:
            return "-"
        return "~"


@dataclass
class Guardrail:
    blocked: bool = False
    overridden: bool = False
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKED if self.blocked and not self.overridden else EXIT_PASSED


def is_usage_based(item: dict[str, Any], siblings: list[dict[str, Any]]) -> bool:
    """Whether a line's amount follows `nfe:usage` volumes rather than what the resource is."""
    if "usage." in str(item.get("basis", "")):
        return True
    dimension = str(item.get("basis", "")).split(":", 1)[0]
    if dimension in FIXED_DIMENSIONS:
        return False
    return any("usage." in str(other.get("basis", "")) for other in siblings)


def _lines_by_resource(document: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in document.get("items", []):
        grouped.setdefault((item["resource"], item["type"]), []).append(item)
    return grouped


def usage_share(document: dict[str, Any]) -> float:
    """The part of an estimate's total that comes from `nfe:usage` volumes."""
    total = 0.0
    for lines in _lines_by_resource(document).values():
        total += math.fsum(item["monthly"] for item in lines if is_usage_based(item, lines))
    return total


def resource_changes(diff: EstimateDiff, before: dict[str, Any], after: dict[str, Any]) -> list[ResourceChange]:
    """Changed lines grouped per resource, largest change first."""
    old_lines, new_lines = _lines_by_resource(before), _lines_by_resource(after)
    grouped: dict[tuple[str, str, str], list[LineChange]] = {}
    for change in diff.changes:
        component, _, type_token, _ = change.key
        name = str((change.after or change.before or {}).get("resource", change.key[1]))
        grouped.setdefault((component, name, type_token), []).append(change)
    result = []
    for (component, name, type_token), lines in grouped.items():
        old = old_lines.get((name, type_token), [])
        new = new_lines.get((name, type_token), [])
        # A resource keeps its name across a change of the same stack, so its lines are found by it.
        usage = any(is_usage_based(line.after, new) for line in lines if line.after) or any(
            is_usage_based(line.before, old) for line in lines if line.before
        )
        result.append(
            ResourceChange(
                component=component,
                resource=name,
                type=type_token,
                before=math.fsum(i["monthly"] for i in old) if old else None,
                after=math.fsum(i["monthly"] for i in new) if new else None,
                lines=tuple(lines),
                usage_based=usage,
            )
        )
    result.sort(key=lambda r: (-abs(r.delta), r.resource, r.type))
    return result


def _percent(delta: float, before: float) -> float | None:
    return None if before <= 0 else delta / before * 100


def evaluate_guardrail(
    diff: EstimateDiff, guardrail: CostGuardrailConfig, budget: float, labels: list[str]
) -> Guardrail:
    verdict = Guardrail()
    delta = round(diff.delta, 2)
    percent = _percent(delta, diff.before_total)
    if delta > 0 and percent is not None and percent > guardrail.max_increase_percent:
        verdict.reasons.append(
            f"the monthly estimate rises by {percent:.1f}%, above `nfe:costGuardrail.maxIncreasePercent`"
            f" ({guardrail.max_increase_percent:g}%)"
        )
    if delta > 0 and diff.after_total > budget:
        verdict.reasons.append(
            f"the new monthly estimate {dollars(diff.after_total)} is above `nfe:monthlyBudgetUsd`"
            f" ({dollars(budget)}), and this change raises it"
        )
    elif diff.after_total > budget:
        verdict.warnings.append(
            f"the stack is already above `nfe:monthlyBudgetUsd` ({dollars(diff.after_total)} against"
            f" {dollars(budget)}); this change does not raise it, so it is not blocked"
        )
    verdict.blocked = bool(verdict.reasons)
    verdict.overridden = verdict.blocked and guardrail.override_label in labels
    return verdict


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _amount(value: float | None) -> str:
    return "-" if value is None else dollars(value)


def _headline(stack: str, diff: EstimateDiff) -> str:
    delta = round(diff.delta, 2)
    percent = _percent(delta, diff.before_total)
    share = "" if percent is None else f" ({percent:+.1f}%)"
    if delta > 0:
        return f"### 💰 Cost review of `{stack}`: monthly cost will increase by **{signed(delta)}**{share} 📈"
    if delta < 0:
        return f"### 💰 Cost review of `{stack}`: monthly cost will decrease by **{signed(delta)}**{share} 📉"
    return f"### 💰 Cost review of `{stack}`: monthly cost will not change"


def _guardrail_section(verdict: Guardrail, label: str) -> list[str]:
    out: list[str] = []
    if verdict.blocked and verdict.overridden:
        out.append(f"**Guardrail: ⚠️ unblocked by the label `{label}`.** It would have blocked this change:")
    elif verdict.blocked:
        out.append("**Guardrail: ❌ blocked.** This check fails because:")
    else:
        out.append("**Guardrail: ✅ passed.**")
    out += [f"- {reason}" for reason in verdict.reasons]
    if verdict.blocked and not verdict.overridden:
        out += [
            "",
            f"Reduce the cost, or have a maintainer review it and add the label `{label}` to unblock it.",
        ]
    out += [f"- ⚠️ {warning}" for warning in verdict.warnings]
    return out


def _resource_row(change: ResourceChange) -> str:
    what = "; ".join(
        f"{line.key[3]} {_amount(line.before['monthly'] if line.before else None)}"
        f" → {_amount(line.after['monthly'] if line.after else None)}"
        for line in change.lines
    )
    mark = f" {USAGE_MARK}" if change.usage_based else ""
    return (
        f"| {change.symbol} | `{_md(change.resource)}`{mark} | `{short_type(change.type)}` | {_md(change.component)}"
        f" | {_amount(change.before)} | {_amount(change.after)} | {signed(change.delta)} | {_md(what)} |"
    )


def _table(changes: list[ResourceChange], left_out: list[ResourceChange]) -> list[str]:
    if not changes and not left_out:
        return ["No resource's cost changed."]
    out = [
        f"<details><summary>Resources whose cost changed ({len(changes) + len(left_out)})</summary>",
        "",
        "| | Resource | Type | Component | Before | After | Change | Lines |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    out += [_resource_row(change) for change in changes]
    if left_out:
        rest = math.fsum(c.delta for c in left_out)
        out += [
            "",
            f"_{len(left_out)} smaller change(s) left out to fit GitHub's comment limit: {signed(rest)} together;"
            " `nfe cost --diff` lists every line._",
        ]
    out += ["", "</details>"]
    return out


def _unpriced(after: dict[str, Any], before: dict[str, Any], limit: int | None) -> list[str]:
    unpriced = after.get("unpriced", [])
    if not unpriced:
        return ["**Unpriced:** none."]
    known = {(u["resource"], u["type"]) for u in before.get("unpriced", [])}
    out = [f"**Unpriced, in neither total ({len(unpriced)}):** each total is a lower bound.", ""]
    shown = unpriced if limit is None else unpriced[:limit]
    for u in shown:
        new = "" if (u["resource"], u["type"]) in known else " _(new)_"
        out.append(f"- `{_md(u['resource'])}` (`{short_type(u['type'])}`){new}: {_md(str(u.get('reason', '')))}")
    if len(shown) < len(unpriced):
        out.append(f"- _{len(unpriced) - len(shown)} more left out to fit GitHub's comment limit_")
    return out


def render_github(
    diff: EstimateDiff,
    before: dict[str, Any],
    after: dict[str, Any],
    verdict: Guardrail,
    guardrail: CostGuardrailConfig,
    *,
    notes: list[str] | None = None,
    price_table: str = "",
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The comment's Markdown, never longer than `limit` characters."""
    stack = str(after.get("stack", diff.after_stack))
    changes = resource_changes(diff, before, after)
    usage_after, usage_before = usage_share(after), usage_share(before)
    delta = round(diff.delta, 2)
    percent = _percent(delta, diff.before_total)

    def compose(shown: list[ResourceChange], left_out: list[ResourceChange], unpriced_limit: int | None) -> str:
        out = [MARKER.format(stack=stack), _headline(stack, diff), ""]
        out += [
            "| Stack | Before | After | Change |",
            "|---|---:|---:|---:|",
            f"| `{stack}` ({after.get('region', '')}) | {dollars(diff.before_total)} | {dollars(diff.after_total)}"
            f" | {signed(delta)}" + ("" if percent is None else f" ({percent:+.1f}%)") + " |",
            "",
        ]
        out += _guardrail_section(verdict, guardrail.override_label)
        out.append("")
        out += _table(shown, left_out)
        out.append("")
        out.append(
            f"{USAGE_MARK} **Usage-based estimates:** {dollars(usage_after)} of the new total"
            f" ({dollars(usage_before)} before) follows the volumes in `nfe:usage` (requests, invocations,"
            " messages, GB), not what is deployed: a different month costs differently."
        )
        out.append("")
        out += _unpriced(after, before, unpriced_limit)
        out.append("")
        footer = [
            f"USD per month (730 h), list prices (table {price_table or 'in use'});"
            " before: the base branch, after: this pull request.",
            *(notes or []),
            "This comment is updated in place on every push.",
        ]
        out += [f"<sub>{_md(' '.join(footer))}</sub>"]
        return "\n".join(out) + "\n"

    text = compose(changes, [], None)
    shown, left_out = list(changes), []
    if github_length(text) > limit:
        # The per-resource table goes first, smallest changes first (the list is sorted largest
        # first): keep the longest prefix that fits, found by bisection (a table can be huge).
        low, high = 0, len(changes)
        while low < high:
            middle = (low + high + 1) // 2
            if github_length(compose(changes[:middle], changes[middle:], None)) <= limit:
                low = middle
            else:
                high = middle - 1
        shown, left_out = changes[:low], changes[low:]
        text = compose(shown, left_out, None)
    unpriced_limit = len(after.get("unpriced", []))
    while github_length(text) > limit and unpriced_limit > 0:
        unpriced_limit -= 1
        text = compose(shown, left_out, unpriced_limit)
    if github_length(text) > limit:
        # Only huge notes can get here; keep the marker and headline, cut the rest.
        cut = "\n\n_(cut to fit GitHub's comment limit)_\n"
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits with the note
            middle = (low + high + 1) // 2
            if github_length(text[:middle]) + len(cut) <= limit:
                low = middle
            else:
                high = middle - 1
        text = text[:low] + cut
    return text
