"""`nfe cost` on the real program (__main__.py, components/) and on the small fixture program, from
their offline plans and from `pulumi preview --json` documents generated from those plans in the
exact preview shape: both must cost the same.

`preview_document` is the generator; `python tests/test_cost_program.py dev > preview-dev.json`
writes one for the real program, e.g. to try `nfe cost --preview-json` without a Pulumi CLI.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from nfe.cli import main
from nfe.config import load_stack_file, stack_file_values
from nfe.cost import estimate, parse_preview
from nfe.cost.diff import diff_estimates, render_diff_table
from nfe.cost.preview import SIGNATURE_KEY, UNKNOWN
from nfe.mockrun import PlanResult, ResourceRecord
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
COST_PROGRAM = ROOT / "tests" / "fixtures" / "cost_program"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
# Mock-generated ids of other resources (nfe/mockrun.py): on a first preview these are unknown.
_COMPUTED = re.compile(r"arn:aws:|^(sg|subnet|vpc|pl)-[0-9a-f]{8}$|\.amazonaws\.com")


def _as_preview_value(value: Any) -> Any:
    """A recorded input as `pulumi preview --json` prints it for a stack being created."""
    if isinstance(value, dict):
        return {k: _as_preview_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_preview_value(v) for v in value]
    if isinstance(value, str):
        return UNKNOWN if _COMPUTED.search(value) else value
    if value is None or isinstance(value, bool | int | float):
        return value
    # Assets and archives (Lambda code) print as signature objects.
    path = getattr(value, "path", None)
    return {SIGNATURE_KEY: ARCHIVE_SIG, "path": str(path)} if path else {SIGNATURE_KEY: ARCHIVE_SIG}


def _state(record: ResourceRecord, stack_urn: str, provider: str) -> dict[str, Any]:
    # Key order of apitype.ResourceV3: urn, custom, type, inputs, parent, provider.
    state: dict[str, Any] = {"urn": record.urn, "custom": record.custom, "type": record.type}
    if record.custom:
        state["inputs"] = {"__defaults": [], **_as_preview_value(record.inputs)}
    state["parent"] = record.parent or stack_urn
    if record.custom:
        state["provider"] = provider
    return state


def preview_document(result: PlanResult, config: dict[str, str]) -> dict[str, Any]:
    """The `pulumi preview --json` digest a first `pulumi up` of this plan's stack would print."""
    stack_urn = f"urn:pulumi:{result.stack}::{result.project}::pulumi:pulumi:Stack::{result.project}-{result.stack}"
    provider = f"urn:pulumi:{result.stack}::{result.project}::pulumi:providers:aws::default_7_51_1::{UNKNOWN}"
    steps: list[dict[str, Any]] = [
        {
            "op": "create",
            "urn": stack_urn,
            "newState": {"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"},
            "detailedDiff": None,
        }
    ]
    for record in result.resources:
        step: dict[str, Any] = {"op": "create", "urn": record.urn}
        if record.custom:
            step["provider"] = provider
        step["newState"] = _state(record, stack_urn, provider)
        step["detailedDiff"] = None
        steps.append(step)
    return {
        "config": {k: ("[secret]" if "password" in k.lower() else v) for k, v in sorted(config.items())},
        "steps": steps,
        "duration": 3_512_000_000,
        "changeSummary": {"create": len(steps)},
    }


@pytest.fixture(scope="module")
def plans() -> dict[str, PlanResult]:
    return {stack: plan(stack, ROOT) for stack in ("dev", "prod")}


@pytest.fixture(scope="module")
def previews(plans: dict[str, PlanResult], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("previews")
    paths = {}
    for stack, result in plans.items():
        paths[stack] = folder / f"preview-{stack}.json"
        paths[stack].write_text(json.dumps(preview_document(result, stack_file_values(ROOT / f"Pulumi.{stack}.yaml"))))
    return paths


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["cost", "--project-dir", str(ROOT), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_of_the_real_program_costs_the_same_as_its_offline_plan(
    stack: str, plans: dict[str, PlanResult], previews: dict[str, Path]
) -> None:
    # Given the real program's offline plan and a preview document generated from it
    config = load_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    resources, _ = parse_preview(json.loads(previews[stack].read_text()))
    # When both are priced
    from_plan = estimate(plans[stack].resources, config)
    from_preview = estimate(resources, config)
    # Then they agree to the cent and line by line
    assert from_preview.monthly_total == pytest.approx(from_plan.monthly_total, abs=1e-9)
    assert sorted(i.basis for i in from_preview.items) == sorted(i.basis for i in from_plan.items)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_priced_type_in_the_real_program_is_priced(stack: str, plans: dict[str, PlanResult]) -> None:
    # Given the real program's resources
    result = estimate(plans[stack].resources, load_stack_file(ROOT / f"Pulumi.{stack}.yaml"))
    # Then nothing of a type the estimator prices fell out (only types without a price line are unpriced)
    assert [u for u in result.unpriced if u.reason != "no price line for this type"] == []
    # And every Lambda function found its usage in nfe/topology.py, and the database is there
    priced = {(i.type, i.dimension) for i in result.items}
    assert ("aws:rds/instance:Instance", "instance") in priced
    assert ("aws:lambda/function:Function", "compute") in priced
    assert "aws:lambda/function:Function" not in {u.type for u in result.unpriced}


def test_prod_costs_more_than_dev_and_diff_explains_it_line_by_line(
    previews: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the dev estimate saved as JSON by the CLI from the offline plan
    code, dev_json, _ = run_cli(capsys, "--stack", "dev", "--format", "json")
    assert code == 0
    assert set(json.loads(dev_json)) == {"stack", "region", "currency", "monthlyTotal", "items", "unpriced", "baseline"}
    (tmp_path / "dev.json").write_text(dev_json)
    # When prod (from its preview document, to save a second program run) is compared with it
    prod = ["--stack", "prod", "--preview-json", str(previews["prod"])]
    code, out, _ = run_cli(capsys, *prod, "--diff", str(tmp_path / "dev.json"), "--format", "json")
    assert code == 0
    diff = json.loads(out)
    # Then prod costs more, and the changed lines add up to the difference of the totals
    assert diff["after"]["monthlyTotal"] > diff["before"]["monthlyTotal"]
    assert sum(c["delta"] for c in diff["changes"]) == pytest.approx(diff["delta"], abs=0.01)
    # And the main reasons are there: Multi-AZ instance and storage, the proxy, endpoints in two AZs
    by_line = {(c["resource"], c["dimension"]): c for c in diff["changes"]}
    instance = next(c for (r, d), c in by_line.items() if d == "instance")
    assert (instance["before"], instance["after"]) == (pytest.approx(11.68), pytest.approx(23.36))
    proxy = next(c for (r, d), c in by_line.items() if d == "proxy")
    assert (proxy["change"], proxy["after"]) == ("added", pytest.approx(21.90))
    endpoints = [c for (r, d), c in by_line.items() if d == "endpoint"]
    assert endpoints and all(c["after"] == pytest.approx(2 * c["before"]) for c in endpoints)


def test_diff_in_table_format_names_lines_and_totals(plans: dict[str, PlanResult]) -> None:
    # Given two estimates of dev, the second with twice the API traffic
    config = load_stack_file(ROOT / "Pulumi.dev.yaml")
    busier = config.model_copy(update={"usage": config.usage.model_copy(update={"api_requests": 2_000_000})})
    document: dict[str, Any] = estimate(plans["dev"].resources, config).to_json()
    after = estimate(plans["dev"].resources, busier).to_json()
    # When they are diffed
    comparison = diff_estimates(document, after)
    # Then exactly the request lines the API's calls bill on changed: the REST API's, by $3.50, and
    # the console distribution's, whose /api/* behaviour every call passes through, by $1.00
    assert [(c.key[3], c.kind) for c in comparison.changes] == [("requests", "changed")] * 2
    assert sorted(c.delta for c in comparison.changes) == pytest.approx([1.00, 3.50])
    text = render_diff_table(comparison)
    assert "+$3.50" in text and "+$1.00" in text and "TOTAL" in text


def test_table_and_markdown_output_of_the_real_dev_stack(
    capsys: pytest.CaptureFixture[str], previews: dict[str, Path]
) -> None:
    # Given the dev stack read from a preview document (no program run)
    code, table, _ = run_cli(capsys, "--stack", "dev", "--preview-json", str(previews["dev"]))
    assert code == 0
    code, markdown, _ = run_cli(
        capsys, "--stack", "dev", "--preview-json", str(previews["dev"]), "--format", "markdown"
    )
    assert code == 0
    # Then the table has subtotals, the total, the seed's baseline both ways, and the bar chart
    assert "subtotal" in table and "TOTAL" in table
    assert "$171.00" in table and "$180.00" in table and "$44.00" in table
    assert "█" in table
    # And the markdown is a PR comment: a heading with the total, tables, collapsible details
    assert markdown.startswith("### Cost review: `dev`")
    assert "| Component | Monthly |" in markdown and "<details>" in markdown


def test_exit_code_2_with_a_message_when_inputs_cannot_be_used(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, previews: dict[str, Path]
) -> None:
    # Given a preview of prod used for dev, a missing file, a non-estimate --diff file, an unknown stack
    bad_diff = tmp_path / "not-an-estimate.json"
    bad_diff.write_text('{"hello": 1}')
    cases = [
        (["--stack", "dev", "--preview-json", str(previews["prod"])], "not 'dev'"),
        (["--stack", "dev", "--preview-json", str(tmp_path / "missing.json")], "cannot read"),
        (["--stack", "dev", "--preview-json", str(previews["dev"]), "--diff", str(bad_diff)], "not an `nfe cost"),
        (["--stack", "staging"], "no stack file"),
    ]
    for args, message in cases:
        # Then each exits 2 and says why on stderr
        code, out, err = run_cli(capsys, *args)
        assert (code, out) == (2, ""), args
        assert message in err, (args, err)


def test_exit_code_2_when_the_program_or_its_config_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a project whose stack config is invalid, and one whose program raises
    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  nfe:environment: dev\n  nfe:monthlyBudgetUsd: -1\n")
    code = main(["cost", "--project-dir", str(tmp_path), "--stack", "dev"])
    _, err = capsys.readouterr()
    assert code == 2 and "nfe:monthlyBudgetUsd" in err
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  nfe:environment: dev\n  nfe:monthlyBudgetUsd: 10\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('no bus today')\n")
    code = main(["cost", "--project-dir", str(tmp_path), "--stack", "dev"])
    _, err = capsys.readouterr()
    # Then both exit 2 with the reason
    assert code == 2 and "no bus today" in err


def _same_lines(a: list[Any], b: list[Any]) -> None:
    def key(item: Any) -> tuple[str, str, str, str, float]:
        return (item.component, item.resource, item.type, item.basis, round(item.monthly, 6))

    assert sorted(map(key, a)) == sorted(map(key, b))


@pytest.fixture(scope="module")
def fixture_plans() -> dict[str, PlanResult]:
    return {stack: plan(stack, COST_PROGRAM) for stack in ("dev", "prod")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_generated_preview_and_offline_plan_cost_the_same_fixture_program(
    stack: str, fixture_plans: dict[str, PlanResult], tmp_path: Path
) -> None:
    # Given the fixture program's offline plan and the preview document generated from it
    result = fixture_plans[stack]
    config = load_stack_file(COST_PROGRAM / f"Pulumi.{stack}.yaml")
    path = tmp_path / f"preview-{stack}.json"
    path.write_text(json.dumps(preview_document(result, stack_file_values(COST_PROGRAM / f"Pulumi.{stack}.yaml"))))
    # When both are priced
    resources, _ = parse_preview(json.loads(path.read_text()))
    from_preview = estimate(resources, config)
    from_plan = estimate(result.resources, config)
    # Then totals and every line agree, although ARNs and ids are unknown in the preview
    assert from_preview.monthly_total == pytest.approx(from_plan.monthly_total, abs=1e-9)
    _same_lines(from_preview.items, from_plan.items)
    assert [(u.resource, u.type) for u in from_preview.unpriced] == [(u.resource, u.type) for u in from_plan.unpriced]
    assert any(UNKNOWN in json.dumps(r.inputs) for r in resources)


def test_generated_document_has_the_digest_shape(fixture_plans: dict[str, PlanResult]) -> None:
    # Given a generated document
    document = preview_document(fixture_plans["dev"], {"aws:region": "us-east-1"})
    # Then its keys follow display.PreviewDigest / PreviewStep / apitype.ResourceV3 order
    assert list(document) == ["config", "steps", "duration", "changeSummary"]
    custom_step = next(s for s in document["steps"] if s["newState"]["custom"])
    assert list(custom_step) == ["op", "urn", "provider", "newState", "detailedDiff"]
    assert list(custom_step["newState"])[:4] == ["urn", "custom", "type", "inputs"]
    assert custom_step["newState"]["inputs"]["__defaults"] == []


if __name__ == "__main__":
    stack_name = sys.argv[1] if len(sys.argv) > 1 else "dev"
    values = stack_file_values(ROOT / f"Pulumi.{stack_name}.yaml")
    sys.stdout.write(json.dumps(preview_document(plan(stack_name, ROOT), values), indent=4) + "\n")
