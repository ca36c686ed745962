"""The pull-request cost comment (`nfe cost --format github`): golden files from a pair of previews.

The previews (tests/fixtures/ci/{base,head}/preview-dev.json, written by make_previews.py in the
shape `pulumi preview --json --show-sames` prints) are the base branch's dev stack and a pull request
that turns RDS Proxy on, moves the instance to db.t4g.small, doubles the functions' memory and raises
`nfe:usage.apiRequests`. Each side is priced with the project's own Pulumi.dev.yaml under that side's
`stack-overlay.yaml` (region, environment, budget, usage, guardrail: all the estimate reads of a
preview's resources), so the golden files move with prices and pricing rules, not with settings the
cost review never reads, and a new required setting of the stack does not break them.
Set NFE_UPDATE_GOLDEN=1 to rewrite the golden files, then review their diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nfe.cli import main
from nfe.config import CostGuardrailConfig
from nfe.cost.comment import GITHUB_COMMENT_LIMIT, MARKER, evaluate_guardrail, github_length, render_github
from nfe.cost.diff import diff_estimates

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "tests" / "fixtures" / "ci"
GOLDEN = CI / "golden"
# Each side's project folder (Pulumi.yaml, Pulumi.dev.yaml, preview-dev.json), made once per run.
SIDES: dict[str, Path] = {}


def _merge(target: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@pytest.fixture(autouse=True, scope="module")
def _sides(tmp_path_factory: pytest.TempPathFactory) -> None:
    for side in ("base", "head"):
        folder = tmp_path_factory.mktemp(side)
        document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
        _merge(document["config"], yaml.safe_load((CI / side / "stack-overlay.yaml").read_text())["config"])
        (folder / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
        shutil.copy(ROOT / "Pulumi.yaml", folder / "Pulumi.yaml")
        shutil.copy(CI / side / "preview-dev.json", folder / "preview-dev.json")
        SIDES[side] = folder


def _comment(
    capsys: pytest.CaptureFixture[str], *extra: str, before: str | Path = "base", after: str | Path = "head"
) -> tuple[int, str]:
    before = SIDES[before] if isinstance(before, str) else before
    after = SIDES[after] if isinstance(after, str) else after
    code = main(
        [
            "cost",
            "--stack",
            "dev",
            "--project-dir",
            str(after),
            "--preview-json",
            str(after / "preview-dev.json"),
            "--base-preview-json",
            str(before / "preview-dev.json"),
            "--base-stack-file",
            str(before / "Pulumi.dev.yaml"),
            "--format",
            "github",
            *extra,
        ]
    )
    return code, capsys.readouterr().out


def _priced(side: str) -> list[str]:
    """`nfe cost` on one side's preview, with that side's stack file."""
    folder = SIDES[side]
    return ["cost", "--stack", "dev", "--project-dir", str(folder), "--preview-json", str(folder / "preview-dev.json")]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NFE_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed: rerun with NFE_UPDATE_GOLDEN=1 and review the diff"


def test_an_increase_above_the_guardrail_is_blocked(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the pull request's preview against the base branch's / When the comment is rendered
    code, text = _comment(capsys)
    # Then it fails the check (exit 1) and still prints the whole comment, which is the golden one
    assert code == 1
    _golden("comment-blocked.md", text)
    assert text.startswith(MARKER.format(stack="dev") + "\n")
    assert "monthly cost will increase by **+$36.37** (+45.7%)" in text
    assert "| `dev` (us-east-1) | $79.56 | $115.93 | +$36.37 (+45.7%) |" in text
    assert "**Guardrail: ❌ blocked.**" in text
    assert "above `nfe:costGuardrail.maxIncreasePercent` (20%)" in text
    assert "above `nfe:monthlyBudgetUsd` ($85.00)" in text
    # The new proxy heads the table; usage-based lines are marked, fixed ones are not
    rows = [line for line in text.splitlines() if line.startswith(("| + |", "| ~ |", "| - |"))]
    assert rows[0].startswith("| + | `database-proxy` | `rds/proxy`")
    assert "`api-api` 📊" in text and "`database-instance` 📊" not in text
    assert "- `alarms` (`sns/topic`): no price line for this type" in text


def test_the_override_label_unblocks_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _comment(capsys, "--labels", "documentation, cost-increase-approved")
    assert code == 0
    _golden("comment-overridden.md", text)
    assert "**Guardrail: ⚠️ unblocked by the label `cost-increase-approved`.**" in text


def test_another_label_does_not_unblock(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _comment(capsys, "--labels", "cost-increase-approved-not,documentation")
    assert code == 1


def test_a_decrease_passes(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the same pair the other way round (the pull request undoes the change)
    code, text = _comment(capsys, before="head", after="base")
    assert code == 0
    _golden("comment-decrease.md", text)
    assert "monthly cost will decrease by **-$36.37** (-31.4%) 📉" in text
    assert "**Guardrail: ✅ passed.**" in text
    assert "| - | `database-proxy` | `rds/proxy`" in text


def test_the_same_preview_on_both_sides_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _comment(capsys, before="head", after="head")
    assert code == 0
    assert "monthly cost will not change" in text and "No resource's cost changed." in text


def test_an_earlier_json_estimate_can_be_the_before(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the base branch's estimate as `--format json`, the older way of comparing
    assert (
        main(
            [
                "cost",
                "--stack",
                "dev",
                "--project-dir",
                str(SIDES["base"]),
                "--preview-json",
                str(SIDES["base"] / "preview-dev.json"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    before = tmp_path / "before.json"
    before.write_text(capsys.readouterr().out)
    code = main([*_priced("head"), "--diff", str(before), "--format", "github"])
    assert code == 1
    assert "| `dev` (us-east-1) | $79.56 | $115.93 | +$36.37 (+45.7%) |" in capsys.readouterr().out


def test_the_comment_needs_a_before(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "cost",
            "--stack",
            "dev",
            "--project-dir",
            str(SIDES["head"]),
            "--preview-json",
            str(SIDES["head"] / "preview-dev.json"),
            "--format",
            "github",
        ]
    )
    assert code == 2
    assert "--base-preview-json FILE or --diff FILE" in capsys.readouterr().err


def test_a_base_preview_of_another_stack_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = json.loads(
        (SIDES["base"] / "preview-dev.json").read_text().replace("urn:pulumi:dev::", "urn:pulumi:prod::")
    )
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(other))
    code = main([*_priced("head"), "--base-preview-json", str(path), "--format", "github"])
    assert code == 2
    assert "is a preview of stack 'prod', not 'dev'" in capsys.readouterr().err


def _estimate(resources: int, per_resource: float, stack: str = "dev") -> dict[str, object]:
    items = [
        {
            "resource": f"{stack}-function-with-a-long-name-{i:05d}",
            "type": "aws:lambda/function:Function",
            "component": "faturamento",
            "monthly": per_resource * (1 + i / resources),
            "basis": f"requests: {i} requests x $0.20/1M requests (usage.functions.faturamento)",
        }
        for i in range(resources)
    ]
    unpriced = [
        {"resource": f"thing-{i}", "type": "aws:foo/bar:Bar", "reason": "no price line for this type"}
        for i in range(50)
    ]
    total = sum(float(str(i["monthly"])) for i in items)
    return {"stack": stack, "region": "us-east-1", "monthlyTotal": total, "items": items, "unpriced": unpriced}


def test_a_huge_change_is_trimmed_to_githubs_limit_table_first() -> None:
    # Given 3,000 resources whose cost changed (a table of about 600,000 characters)
    before, after = _estimate(3000, 1.0), _estimate(3000, 2.0)
    diff = diff_estimates(before, after)
    verdict = evaluate_guardrail(diff, CostGuardrailConfig(), 10_000.0, [])
    # When the comment is rendered
    text = render_github(diff, before, after, verdict, CostGuardrailConfig())
    # Then it fits, keeps the headline, the guardrail and every unpriced line, and drops the smallest rows
    assert github_length(text) <= GITHUB_COMMENT_LIMIT and len(text) > GITHUB_COMMENT_LIMIT - 2_000
    assert "monthly cost will increase by" in text and "**Guardrail: ❌ blocked.**" in text
    assert text.count("no price line for this type") == 50
    assert "`dev-function-with-a-long-name-02999`" in text  # the largest change stays
    assert "`dev-function-with-a-long-name-00000`" not in text  # the smallest goes
    assert "smaller change(s) left out to fit GitHub's comment limit" in text
    # And with a tighter limit the unpriced list is cut next, never the headline
    tight = render_github(diff, before, after, verdict, CostGuardrailConfig(), limit=3_000)
    assert github_length(tight) <= 3_000 and "more left out to fit GitHub's comment limit" in tight
    assert tight.startswith(MARKER.format(stack="dev"))
    # And whatever else is too long is cut at the end, the marker and headline kept
    noted = render_github(diff, before, after, verdict, CostGuardrailConfig(), notes=["📊" * 40_000], limit=10_000)
    assert github_length(noted) <= 10_000 and noted.startswith(MARKER.format(stack="dev"))
    assert noted.endswith("_(cut to fit GitHub's comment limit)_\n")


def test_the_guardrail_rules() -> None:
    guardrail = CostGuardrailConfig(max_increase_percent=10)
    # A stack already over budget is not blocked by a change that does not raise it
    over = diff_estimates(_estimate(1, 200.0), _estimate(1, 200.0))
    verdict = evaluate_guardrail(over, guardrail, 100.0, [])
    assert not verdict.blocked and verdict.exit_code == 0 and "already above" in verdict.warnings[0]
    # 9 % more and under budget passes; 11 % more is blocked; over budget and rising is blocked
    assert not evaluate_guardrail(
        diff_estimates(_estimate(1, 100.0), _estimate(1, 109.0)), guardrail, 500.0, []
    ).blocked
    assert evaluate_guardrail(diff_estimates(_estimate(1, 100.0), _estimate(1, 111.0)), guardrail, 500.0, []).blocked
    rising = evaluate_guardrail(diff_estimates(_estimate(1, 100.0), _estimate(1, 105.0)), guardrail, 100.0, [])
    assert rising.blocked and rising.exit_code == 1 and "nfe:monthlyBudgetUsd" in rising.reasons[0]
    # A new stack (nothing before) has no percentage; only the budget applies
    empty = {"stack": "dev", "region": "us-east-1", "monthlyTotal": 0.0, "items": [], "unpriced": []}
    first = evaluate_guardrail(diff_estimates(empty, _estimate(1, 50.0)), guardrail, 100.0, [])
    assert not first.blocked


def test_the_guardrail_is_read_from_the_stack_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a stack file allowing +50 % under a $200 budget, with its own override label
    after = tmp_path / "head"
    shutil.copytree(SIDES["head"], after)
    stack_file = after / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["nfe:monthlyBudgetUsd"] = 200
    document["config"]["nfe:costGuardrail"] = {"maxIncreasePercent": 50, "overrideLabel": "finops-ok"}
    stack_file.write_text(yaml.safe_dump(document))
    # Then the +45.7 % change passes, and at 40 % it is blocked until that label is on the pull request
    code, text = _comment(capsys, after=after)
    assert code == 0 and "**Guardrail: ✅ passed.**" in text
    document["config"]["nfe:costGuardrail"]["maxIncreasePercent"] = 40
    stack_file.write_text(yaml.safe_dump(document))
    code, text = _comment(capsys, after=after)
    assert code == 1 and "(40%)" in text and "add the label `finops-ok`" in text
    assert _comment(capsys, "--labels", "finops-ok", after=after)[0] == 0
    # And a bad value stops it with the key named
    document["config"]["nfe:costGuardrail"]["maxIncreasePercent"] = 0
    stack_file.write_text(yaml.safe_dump(document))
    arguments = [
        "cost",
        "--stack",
        "dev",
        "--project-dir",
        str(after),
        "--preview-json",
        str(after / "preview-dev.json"),
    ]
    assert main([*arguments, "--base-preview-json", str(SIDES["base"] / "preview-dev.json"), "--format", "github"]) == 2
    assert "nfe:costGuardrail.maxIncreasePercent" in capsys.readouterr().err
