"""Render an estimate as a terminal table (with the seed-style ASCII bars), markdown for a
pull-request comment, or JSON."""

from __future__ import annotations

import json

from nfe.cost.model import CostEstimate, LineItem

BAR_WIDTH = 40


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def percent(part: float, whole: float) -> str:
    return "n/a" if whole == 0 else f"{part / whole * 100:+.1f}%"


def short_type(type_token: str) -> str:
    """aws:rds/instance:Instance -> rds/instance"""
    if type_token.startswith("aws:"):
        return type_token.removeprefix("aws:").rsplit(":", 1)[0]
    return type_token


def _by_component(estimate: CostEstimate) -> dict[str, list[LineItem]]:
    groups: dict[str, list[LineItem]] = {}
    for item in estimate.items:
        groups.setdefault(item.component, []).append(item)
    return groups


def _header(estimate: CostEstimate) -> str:
    free = "free tier applied" if estimate.free_tier else "free tier not applied (--free-tier)"
    return (
        f"stack {estimate.stack}, {estimate.region}, USD per month (730 h), list prices"
        f" (table {estimate.price_table_version}), {free}"
    )


def _comparisons(estimate: CostEstimate) -> list[str]:
    total = estimate.monthly_total
    base = estimate.baseline
    claim = base.serverless_claim
    return [
        f"vs the seed's serverless claim {dollars(claim)}: {signed(total - claim)} ({percent(total - claim, claim)})"
        f" [the seed's own serverless lines sum to {dollars(base.serverless_lines_sum)};"
        f" its section 2 says {dollars(base.serverless_section2_total)}]",
        f"vs the seed's ECS claim {dollars(base.claimed_total)}: {signed(total - base.claimed_total)}"
        f" ({percent(total - base.claimed_total, base.claimed_total)})"
        f" [its five lines sum to {dollars(base.monthly_total)}]",
        f"vs the seed's ECS lines at list price {dollars(base.list_price_total)}:"
        f" {signed(total - base.list_price_total)}"
        f" ({percent(total - base.list_price_total, base.list_price_total)})"
        + (f" [{', '.join(base.lines_at_seed_figure)} at the seed's own figure]" if base.lines_at_seed_figure else ""),
    ]


def _bar(value: float, scale: float) -> str:
    return "█" * max(1 if value > 0 else 0, round(value / scale * BAR_WIDTH)) if scale > 0 else ""


def bar_chart(estimate: CostEstimate) -> list[str]:
    base = estimate.baseline
    rows: list[tuple[str, float]] = [
        ("ECS, seed's claim", base.claimed_total),
        ("ECS, seed's lines", base.monthly_total),
        ("ECS at list price", base.list_price_total),
        ("serverless, seed's claim", base.serverless_claim),
        (f"this stack ({estimate.stack})", estimate.monthly_total),
    ]
    rows += [(f"  {name}", value) for name, value in estimate.components().items()]
    scale = max(value for _, value in rows)
    label_width = max(len(label) for label, _ in rows)
    return [f"{label:<{label_width}}  {_bar(value, scale):<{BAR_WIDTH}} {dollars(value)}" for label, value in rows]


def render_table(estimate: CostEstimate) -> str:
    out = [f"Cost review: {_header(estimate)}"]
    out += estimate.notes
    out.append("")
    name_width = max([len(i.resource) + 2 for i in estimate.items] + [len(c) for c in estimate.components()] + [20])
    type_width = max([len(short_type(i.type)) for i in estimate.items] + [4])
    out.append(f"{'COMPONENT / RESOURCE':<{name_width}}  {'TYPE':<{type_width}}  {'MONTHLY':>10}  BASIS")
    totals = estimate.components()
    for component, items in _by_component(estimate).items():
        out.append(f"{component:<{name_width}}  {'':<{type_width}}  {totals[component]:>10,.2f}  subtotal")
        for item in items:
            out.append(
                f"{'  ' + item.resource:<{name_width}}  {short_type(item.type):<{type_width}}"
                f"  {item.monthly:>10,.2f}  {item.basis}"
            )
    rule = "-" * (name_width + type_width + 16)
    out += [rule, f"{'TOTAL':<{name_width}}  {'':<{type_width}}  {estimate.monthly_total:>10,.2f}", ""]
    if estimate.unpriced:
        out.append(f"UNPRICED (not in the total): {len(estimate.unpriced)}")
        out += [f"  {u.resource}  {u.type}: {u.reason}" for u in estimate.unpriced]
    else:
        out.append("UNPRICED: none")
    out.append(f"Known free: {estimate.free_resources} resources (IAM, security groups and rules, network, wiring)")
    out += ["", "SEED'S ECS BASELINE (shared/seed/architecture-diagrams.md, sections 1 and 5)"]
    base = estimate.baseline
    line_width = max(len(line.line) for line in base.lines)
    out.append(f"  {'LINE':<{line_width}}  {'SEED':>8}  {'LIST':>8}  BASIS")
    for line in base.lines:
        listed = "  (seed)" if line.list_price is None else f"{line.list_price:>8,.2f}"
        out.append(f"  {line.line:<{line_width}}  {line.seed:>8,.2f}  {listed}  {line.basis}")
    out.append(f"  {'sum of the lines':<{line_width}}  {base.monthly_total:>8,.2f}  {base.list_price_total:>8,.2f}")
    out.append(f"  {'seed headline':<{line_width}}  {base.claimed_total:>8,.2f}  (the lines do not add up to it)")
    out += [""] + [f"This stack {dollars(estimate.monthly_total)} {text}" for text in _comparisons(estimate)]
    out += ["", "MONTHLY COST (USD)", *bar_chart(estimate)]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(estimate: CostEstimate) -> str:
    total = estimate.monthly_total
    out = [f"### Cost review: `{estimate.stack}` ({estimate.region}): **{dollars(total)}/month**", ""]
    out.append(f"_{_header(estimate)}_")
    out += ["", *[f"- {note}" for note in estimate.notes], *[f"- {text}" for text in _comparisons(estimate)], ""]
    out += ["| Component | Monthly |", "|---|---:|"]
    out += [f"| {_md(name)} | {dollars(value)} |" for name, value in estimate.components().items()]
    out += [f"| **Total** | **{dollars(total)}** |", ""]
    out += [f"<details><summary>Line items ({len(estimate.items)})</summary>", ""]
    out += ["| Component | Resource | Type | Monthly | Basis |", "|---|---|---|---:|---|"]
    out += [
        f"| {_md(i.component)} | `{_md(i.resource)}` | `{short_type(i.type)}` | {dollars(i.monthly)} | {_md(i.basis)} |"
        for i in estimate.items
    ]
    out += ["", "</details>", ""]
    if estimate.unpriced:
        out += [f"**Unpriced, not in the total ({len(estimate.unpriced)}):**", ""]
        out += [f"- `{_md(u.resource)}` (`{u.type}`): {_md(u.reason)}" for u in estimate.unpriced]
    else:
        out.append("**Unpriced:** none.")
    out += ["", f"Known free: {estimate.free_resources} resources.", ""]
    base = estimate.baseline
    out += ["<details><summary>The seed's ECS baseline, as printed and at list price</summary>", ""]
    out += ["| Line | Seed | List price | Basis |", "|---|---:|---:|---|"]
    for line in base.lines:
        listed = "seed's own figure" if line.list_price is None else dollars(line.list_price)
        out.append(f"| {_md(line.line)} | {dollars(line.seed)} | {listed} | {_md(line.basis)} |")
    out.append(f"| **Sum of the lines** | **{dollars(base.monthly_total)}** | **{dollars(base.list_price_total)}** | |")
    out.append(f"| Seed headline | {dollars(base.claimed_total)} | | the lines do not add up to it |")
    out += ["", "```", *bar_chart(estimate), "```", "", "</details>"]
    return "\n".join(out) + "\n"


def render_json(estimate: CostEstimate) -> str:
    return json.dumps(estimate.to_json(), indent=2) + "\n"


RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}
