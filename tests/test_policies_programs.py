"""`nfe policy` on whole Pulumi programs: a program making the classic mistakes, a failing program,
and the project's own dev and prod stacks (clean, and caught when one of their safeguards is undone)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nfe.cli import main
from nfe.config import stack_file_values
from nfe.mockrun import PlanResult, ResourceRecord
from nfe.plan import plan as offline_plan
from nfe.policy_runner import (
    PACK_DIR,
    PROJECT_DIR,
    PolicyConfigError,
    Violation,
    analyze,
    check_program,
    engine_config,
    load_config,
    load_pack,
)

BAD_PROGRAM = Path(__file__).parent / "fixtures" / "bad_program"
CLASSIC_MISTAKES = {
    ("rds-not-publicly-accessible", "public-db"),
    ("rds-iam-auth-required", "public-db"),
    ("no-open-ingress", "open-db-sg"),
    ("db-port-ingress-sources", "open-db-sg"),
    ("sqs-dead-letter-queue", "orders-queue"),
    ("rds-proxy-require-tls", "plain-proxy"),
    ("iam-no-wildcard-actions", "s3-admin"),
}


def test_bad_program_fails_naming_each_classic_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the fixture program, When checked for dev as JSON
    code = main(["policy", "--program", str(BAD_PROGRAM), "--stack", "dev", "--json"])
    document = json.loads(capsys.readouterr().out)
    # Then it exits 1 and every mistake is a mandatory violation on its resource
    assert code == 1
    assert document["stack"] == "dev"
    assert all(set(v) == {"policy", "level", "resource", "type", "message"} for v in document["violations"])
    mandatory = {(v["policy"], v["resource"]) for v in document["violations"] if v["level"] == "mandatory"}
    assert mandatory >= CLASSIC_MISTAKES
    types = {v["resource"]: v["type"] for v in document["violations"]}
    assert types["public-db"] == "aws:rds/instance:Instance" and types["s3-admin"] == "aws:iam/role:Role"


def test_bad_program_table_lists_policy_level_resource_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the fixture program, When checked with the default table output
    code = main(["policy", "--program", str(BAD_PROGRAM), "--stack", "dev"])
    lines = capsys.readouterr().out.splitlines()
    # Then a header, a row per violation naming policy, level and resource, and a summary
    assert code == 1
    assert lines[0].split() == ["policy", "level", "resource", "message"]
    for policy, resource in CLASSIC_MISTAKES:
        assert any(line.split()[:3] == [policy, "mandatory", resource] for line in lines[1:]), (policy, resource)
    assert lines[-1].startswith("stack dev: 6 resources, 23 policies: ")


def test_a_program_that_raises_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a program that fails while declaring its resources
    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('the program broke')\n")
    # When checked
    code = main(["policy", "--program", str(tmp_path), "--stack", "dev"])
    # Then the check could not be made: exit 2, with the program's error
    assert code == 2
    assert "the program broke" in capsys.readouterr().err


def test_an_invalid_policy_config_stops_the_check_before_the_program_runs(tmp_path: Path) -> None:
    # Given a policy config file that does not satisfy a policy's schema, and a program that would fail
    config = tmp_path / "dev.json"
    config.write_text(json.dumps({"rds-backup-retention": {"minDays": "a week"}}))
    (tmp_path / "__main__.py").write_text("raise RuntimeError('the program ran')\n")
    # When checked, Then the config error is raised first, naming the bad value
    with pytest.raises(PolicyConfigError, match=r"rds-backup-retention\.minDays: expected integer"):
        check_program(tmp_path, "dev", config_file=config)


# --- the project's own stacks ----------------------------------------------------------------------

PACK = load_pack()


@pytest.fixture(scope="module")
def plans() -> Iterator[dict[str, PlanResult]]:
    yield {stack: offline_plan(stack) for stack in ("dev", "prod")}


def check(plan: PlanResult, config_values: dict[str, str] | None = None) -> list[Violation]:
    """The pack on a plan, with the stack's policy config and stack config, as `nfe policy` runs it."""
    values = config_values or stack_file_values(PROJECT_DIR / f"Pulumi.{plan.stack}.yaml")
    settings, _ = load_config(PACK, PACK_DIR / "config" / f"{plan.stack}.json")
    with engine_config(values):
        return analyze(plan, values, PACK, settings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_project_stacks_have_no_mandatory_violation(plans: dict[str, PlanResult], stack: str) -> None:
    # Given the real program for the stack, When checked
    violations = check(plans[stack])
    # Then nothing blocks a deployment; prod meets even the advisory Multi-AZ policy, made mandatory there
    assert [v for v in violations if v.level == "mandatory"] == []
    assert ("rds-multi-az" in {v.policy for v in violations}) == (stack == "dev")


def _of_type(plan: PlanResult, type_: str) -> list[ResourceRecord]:
    return [r for r in plan.resources if r.type == type_]


def _set(record: ResourceRecord, key: str, value: object) -> None:
    # Resource policies read inputs, stack policies outputs: undo the safeguard in both.
    record.inputs[key] = value
    record.state[key] = value


def _consumed_queue(plan: PlanResult) -> ResourceRecord:
    mapping = _of_type(plan, "aws:lambda/eventSourceMapping:EventSourceMapping")[0]
    arn = mapping.inputs["eventSourceArn"]
    return next(q for q in _of_type(plan, "aws:sqs/queue:Queue") if q.state["arn"] == arn)


def _short_visibility(plan: PlanResult) -> str:
    queue = _consumed_queue(plan)
    _set(queue, "visibilityTimeoutSeconds", 30)
    return queue.name


def _no_redrive(plan: PlanResult) -> str:
    queue = _consumed_queue(plan)
    del queue.inputs["redrivePolicy"], queue.state["redrivePolicy"]
    return queue.name


def _no_stage_throttling(plan: PlanResult) -> str:
    settings = _of_type(plan, "aws:apigateway/methodSettings:MethodSettings")
    plan.resources.remove(settings[0])
    return _of_type(plan, "aws:apigateway/stage:Stage")[0].name


def _tls_not_forced(plan: PlanResult) -> str:
    group = _of_type(plan, "aws:rds/parameterGroup:ParameterGroup")[0]
    parameters = [p | {"value": "0"} if p["name"] == "rds.force_ssl" else p for p in group.inputs["parameters"]]
    _set(group, "parameters", parameters)
    return group.name


def _no_archive(plan: PlanResult) -> str:
    plan.resources.remove(_of_type(plan, "aws:cloudwatch/eventArchive:EventArchive")[0])
    return _of_type(plan, "aws:cloudwatch/eventBus:EventBus")[0].name


def _open_database_port(plan: PlanResult) -> str:
    rule = _of_type(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")[0]
    for key in ("referencedSecurityGroupId", "prefixListId"):
        rule.inputs.pop(key, None)
    _set(rule, "cidrIpv4", "10.0.0.0/8")
    _set(rule, "fromPort", 5432)
    _set(rule, "toPort", 5432)
    return rule.name


UNDONE: list[tuple[str, Callable[[PlanResult], str]]] = [
    ("sqs-visibility-covers-consumer", _short_visibility),
    ("sqs-dead-letter-queue", _no_redrive),
    ("apigateway-throttling", _no_stage_throttling),
    ("rds-force-ssl", _tls_not_forced),
    ("eventbus-archive", _no_archive),
    ("db-port-ingress-sources", _open_database_port),
]


@pytest.mark.parametrize(("policy", "undo"), UNDONE, ids=[policy for policy, _ in UNDONE])
def test_undoing_a_safeguard_of_the_dev_stack_is_caught(
    plans: dict[str, PlanResult], policy: str, undo: Callable[[PlanResult], str]
) -> None:
    # Given the real dev stack with one safeguard undone (found by type, not by name)
    plan = copy.deepcopy(plans["dev"])
    resource = undo(plan)
    # When checked
    violations = check(plan)
    # Then that policy blocks it, on that resource
    assert (policy, "mandatory", resource) in {(v.policy, v.level, v.resource) for v in violations}


def test_dev_stack_over_budget_is_caught(plans: dict[str, PlanResult]) -> None:
    # Given the dev stack's config with a budget far below its estimate
    values = stack_file_values(PROJECT_DIR / "Pulumi.dev.yaml") | {"nfe:monthlyBudgetUsd": "1"}
    # When checked
    violations = check(plans["dev"], values)
    # Then the cost policy reports the stack
    budget = [v for v in violations if v.policy == "monthly-cost-budget"]
    assert (
        len(budget) == 1
        and budget[0].level == "mandatory"
        and "exceeds nfe:monthlyBudgetUsd $1.00" in budget[0].message
    )
