"""`nfe cost --preview`: the offline plan run as a first `pulumi preview` sees it (ids and computed
outputs unknown, nfe.mockrun's preview mode), for both stacks of the real program and for the
fixture program, whose one endpoint takes its subnets from an apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nfe.cli import main
from nfe.config import load_stack_file
from nfe.cost import CostEstimate, estimate
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
COST_PROGRAM = ROOT / "tests" / "fixtures" / "cost_program"
# Why a resource may be unpriced in preview mode and not in the offline plan: a price input unknown.
UNKNOWN_REASON = "is unknown until apply"


def run_cli(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str, str]:
    code = main(["cost", "--project-dir", str(project), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _lines(result: CostEstimate | dict[str, Any]) -> dict[tuple[str, str], str]:
    items = result["items"] if isinstance(result, dict) else [i.to_json() for i in result.items]
    return {(i["resource"], i["basis"].split(":", 1)[0]): i["basis"] for i in items}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def offline(stack: str) -> CostEstimate:
    return estimate(plan(stack, ROOT).resources, load_stack_file(ROOT / f"Pulumi.{stack}.yaml"))


def test_both_stacks_are_priced_in_preview_mode_and_say_what_they_cannot_price(
    stack: str, offline: CostEstimate, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the real program's stack priced from its offline plan, and `nfe cost --preview`
    code, out, err = run_cli(capsys, ROOT, "--stack", stack, "--preview", "--format", "json")
    # Then the preview-mode review runs to the end
    assert code == 0, err
    preview = json.loads(out)
    # And every line it prices is priced exactly as in the offline plan
    before, after = _lines(offline), _lines(preview)
    assert {key: before.get(key) for key in after} == after
    # And every resource whose lines are missing is listed unpriced, with the unknown input named
    unpriced = {u["resource"]: u["reason"] for u in preview["unpriced"]}
    missing = {resource for resource, _ in before} - {resource for resource, _ in after}
    assert missing <= set(unpriced)
    assert all(UNKNOWN_REASON in unpriced[r] for r in missing)
    # And the rest of the unpriced list is what the offline plan cannot price either
    offline_unpriced = {u.resource: u.reason for u in offline.unpriced}
    assert {r: why for r, why in unpriced.items() if r not in missing} == offline_unpriced
    # And the total is the offline one less what could not be priced
    assert preview["monthlyTotal"] <= round(offline.monthly_total, 2)


def test_preview_mode_table_says_it_is_a_preview(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the fixture program's dev stack in preview mode, rendered as the terminal table
    code, out, err = run_cli(capsys, COST_PROGRAM, "--stack", "dev", "--preview")
    assert code == 0, err
    # Then it says where the resources came from and lists the endpoint it cannot price, and why
    assert "offline plan in preview mode" in out
    assert "database-secretsmanager-endpoint  aws:ec2/vpcEndpoint:VpcEndpoint: input subnetIds is unknown" in out
    assert "the total is a lower bound" in out


@pytest.mark.parametrize("fixture_stack", ["dev", "prod"])
def test_an_input_computed_at_deploy_is_unpriced_in_preview_mode_only(
    fixture_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the fixture program, whose secretsmanager endpoint takes its subnets from an apply
    args = ["--stack", fixture_stack, "--format", "json"]
    code, deploy, _ = run_cli(capsys, COST_PROGRAM, *args)
    assert code == 0
    code, first_preview, _ = run_cli(capsys, COST_PROGRAM, *args, "--preview")
    assert code == 0
    deploy_doc, preview_doc = json.loads(deploy), json.loads(first_preview)
    # Then the offline plan prices it per AZ, and preview mode lists it unpriced with the reason
    assert ("database-secretsmanager-endpoint", "endpoint") in _lines(deploy_doc)
    assert {u["resource"]: u["reason"] for u in preview_doc["unpriced"]} == {
        "alarms": "no price line for this type",
        "database-secretsmanager-endpoint": "input subnetIds is unknown until apply",
    }
    # And the difference in the totals is exactly that endpoint's lines
    endpoint = sum(i["monthly"] for i in deploy_doc["items"] if i["resource"] == "database-secretsmanager-endpoint")
    assert deploy_doc["monthlyTotal"] - preview_doc["monthlyTotal"] == pytest.approx(endpoint, abs=0.01)


def test_preview_and_preview_json_are_exclusive(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given both sources of resources at once
    with pytest.raises(SystemExit) as exit_info:
        main(["cost", "--stack", "dev", "--preview", "--preview-json", str(tmp_path / "p.json")])
    # Then argparse refuses them (exit 2) with a message naming both
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "--preview" in err and "not allowed with" in err


def test_the_real_stacks_price_the_custom_metrics_and_the_scheduled_publisher(offline: CostEstimate) -> None:
    # Given a real stack's estimate
    by_line = {(i.resource, i.dimension): i for i in offline.items}
    metrics = [i for i in offline.items if i.dimension == "custom-metrics"]
    # Then the functions' 41 EMF metrics (nfe/cost/metrics.py) cost $12.30 a month
    assert sum(i.monthly for i in metrics) == pytest.approx(41 * 0.30)
    # And the publisher runs 43,800 times a month, from its schedule resource
    publisher = next(i for (r, d), i in by_line.items() if "publisher" in r and d == "requests")
    assert "43,800 requests" in publisher.basis and "rate(1 minute)" in publisher.basis
