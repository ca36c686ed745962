"""Compare two JSON estimates line by line: dev against prod, or before and after a change.

Lines are matched on (component, resource, type, dimension), the dimension being the word before
the colon in `basis`. The stack name inside resource and component names ("nfe-db-dev") is
neutralised first, so the same resource in two stacks matches.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from nfe.cost.render import dollars, percent, short_type, signed

Key = tuple[str, str, str, str]


class DiffError(ValueError):
    pass


@dataclass(frozen=True)
class LineChange:
    key: Key
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def delta(self) -> float:
        return (self.after["monthly"] if self.after else 0.0) - (self.before["monthly"] if self.before else 0.0)

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"

    def to_json(self) -> dict[str, Any]:
        component, resource, type_token, dimension = self.key
        return {
            "change": self.kind,
            "component": component,
            "resource": resource,
            "type": type_token,
            "dimension": dimension,
            "before": self.before["monthly"] if self.before else None,
            "after": self.after["monthly"] if self.after else None,
            "delta": round(self.delta, 4),
            "basisBefore": self.before["basis"] if self.before else None,
            "basisAfter": self.after["basis"] if self.after else None,
        }


@dataclass(frozen=True)
class EstimateDiff:
    before_stack: str
    after_stack: str
    before_total: float
    after_total: float
    changes: list[LineChange]
    unchanged: int
    unpriced_added: list[dict[str, Any]]
    unpriced_removed: list[dict[str, Any]]

    @property
    def delta(self) -> float:
        return self.after_total - self.before_total

    def to_json(self) -> dict[str, Any]:
        return {
            "before": {"stack": self.before_stack, "monthlyTotal": self.before_total},
            "after": {"stack": self.after_stack, "monthlyTotal": self.after_total},
            "delta": round(self.delta, 2),
            "changes": [c.to_json() for c in self.changes],
            "unchanged": self.unchanged,
            "unpricedAdded": self.unpriced_added,
            "unpricedRemoved": self.unpriced_removed,
        }


def _neutral(name: str, stack: str) -> str:
    if not stack:
        return name
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(stack)}(?![A-Za-z0-9])", "{stack}", name)


def _check(document: Any, label: str) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("items"), list) or "monthlyTotal" not in document:
        raise DiffError(f"{label} is not an `nfe cost --format json` estimate")
    return document


def _keyed(document: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    stack = str(document.get("stack", ""))
    lines: dict[Key, dict[str, Any]] = {}
    for item in document["items"]:
        key = (
            _neutral(item["component"], stack),
            _neutral(item["resource"], stack),
            item["type"],
            str(item["basis"]).split(":", 1)[0],
        )
        if key in lines:  # two lines of one dimension on one resource: add them up
            merged = dict(lines[key])
            merged["monthly"] = merged["monthly"] + item["monthly"]
            merged["basis"] = f"{merged['basis']}; {item['basis']}"
            lines[key] = merged
        else:
            lines[key] = item
    return lines


def _unpriced(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    stack = str(document.get("stack", ""))
    return {(_neutral(u["resource"], stack), u["type"]): u for u in document.get("unpriced", [])}


def diff_estimates(before: Any, after: Any) -> EstimateDiff:
    before = _check(before, "the --diff file")
    after = _check(after, "the estimate")
    old, new = _keyed(before), _keyed(after)
    changes: list[LineChange] = []
    unchanged = 0
    for key in list(old) + [k for k in new if k not in old]:
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and math.isclose(a["monthly"], b["monthly"], abs_tol=5e-5):
            unchanged += 1
            continue
        changes.append(LineChange(key, a, b))
    changes.sort(key=lambda c: (-abs(c.delta), c.key))
    old_unpriced, new_unpriced = _unpriced(before), _unpriced(after)
    return EstimateDiff(
        before_stack=str(before.get("stack", "before")),
        after_stack=str(after.get("stack", "after")),
        before_total=float(before["monthlyTotal"]),
        after_total=float(after["monthlyTotal"]),
        changes=changes,
        unchanged=unchanged,
        unpriced_added=[u for k, u in new_unpriced.items() if k not in old_unpriced],
        unpriced_removed=[u for k, u in old_unpriced.items() if k not in new_unpriced],
    )


def _label(change: LineChange) -> str:
    component, resource, type_token, dimension = change.key
    return f"{component} / {resource} ({short_type(type_token)}) {dimension}"


def _amount(item: dict[str, Any] | None) -> str:
    return "-" if item is None else dollars(item["monthly"])


def _explain(change: LineChange) -> str:
    if change.before and change.after:
        return f"{change.before['basis']}  ->  {change.after['basis']}"
    return str((change.after or change.before or {}).get("basis", ""))


def render_diff_table(diff: EstimateDiff) -> str:
    out = [f"Cost diff: {diff.before_stack} -> {diff.after_stack} (USD per month)", ""]
    if not diff.changes:
        out.append("no line changed")
    width = max([len(_label(c)) for c in diff.changes] + [10])
    symbol = {"added": "+", "removed": "-", "changed": "~"}
    for change in diff.changes:
        out.append(
            f"{symbol[change.kind]} {_label(change):<{width}}"
            f"  {_amount(change.before):>10} -> {_amount(change.after):>10}  {signed(change.delta):>10}"
        )
        out.append(f"    {_explain(change)}")
    out.append("")
    out.append(f"{diff.unchanged} line(s) unchanged")
    for u in diff.unpriced_added:
        out.append(f"newly unpriced: {u['resource']} ({u['type']}): {u.get('reason', '')}")
    for u in diff.unpriced_removed:
        out.append(f"no longer unpriced: {u['resource']} ({u['type']})")
    out.append(
        f"TOTAL {dollars(diff.before_total)} -> {dollars(diff.after_total)}:"
        f" {signed(diff.delta)} ({percent(diff.delta, diff.before_total)})"
    )
    explained = math.fsum(c.delta for c in diff.changes)
    out.append(f"explained by the lines above: {signed(explained)}")
    return "\n".join(out) + "\n"


def render_diff_markdown(diff: EstimateDiff) -> str:
    out = [
        f"### Cost diff: `{diff.before_stack}` -> `{diff.after_stack}`: **{signed(diff.delta)}/month**"
        f" ({percent(diff.delta, diff.before_total)})",
        "",
        f"{dollars(diff.before_total)} -> {dollars(diff.after_total)}; {diff.unchanged} line(s) unchanged.",
        "",
        "| Change | Line | Before | After | Delta | Basis |",
        "|---|---|---:|---:|---:|---|",
    ]
    for change in diff.changes:
        out.append(
            f"| {change.kind} | {_label(change).replace('|', '/')} | {_amount(change.before)} | {_amount(change.after)}"
            f" | {signed(change.delta)} | {_explain(change).replace('|', '/')} |"
        )
    for u in diff.unpriced_added:
        out.append(f"\nNewly unpriced: `{u['resource']}` (`{u['type']}`): {u.get('reason', '')}")
    return "\n".join(out) + "\n"


def render_diff_json(diff: EstimateDiff) -> str:
    return json.dumps(diff.to_json(), indent=2) + "\n"


DIFF_RENDERERS = {"table": render_diff_table, "markdown": render_diff_markdown, "json": render_diff_json}
