"""`nfe policy` on whole Pulumi programs: a program making the classic mistakes, a failing program,
a copy of this program with a safeguard undone in its own code, and the project's own dev and prod
stacks (clean, caught when one of their safeguards is undone, and checked as a first preview)."""

from __future__ import annotations

import copy
import json
import shutil
import sys
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
    ("subnet-az-id", "by-name-subnet"),
    ("api-function-timeout", "slow-api-fn"),
    ("code-waits-for-migrations", "slow-api-fn"),
    ("rds-proxy-borrow-timeout", "plain-proxy-targets"),
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
    assert lines[-1].startswith(f"stack dev: 15 resources, {len(PACK.policies)} policies: ")


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


def test_bad_program_as_a_first_preview_still_fails_and_nothing_crashes(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the fixture program run as a first preview (ids and computed outputs unknown)
    code = main(["policy", "--program", str(BAD_PROGRAM), "--stack", "dev", "--preview", "--json"])
    document = json.loads(capsys.readouterr().out)
    # Then what a preview can show is still caught (exit 1, not 2: no policy raised), and what it
    # cannot is an advisory "can't run"
    assert code == 1 and document["preview"] is True
    mandatory = {(v["policy"], v["resource"]) for v in document["violations"] if v["level"] == "mandatory"}
    assert {("subnet-az-id", "by-name-subnet"), ("api-function-timeout", "slow-api-fn")} <= mandatory
    assert ("code-waits-for-migrations", "slow-api-fn") in mandatory
    cannot_run = [v for v in document["violations"] if v["message"].startswith("can't run during preview")]
    assert all(v["level"] == "advisory" for v in cannot_run)


# --- --program runs that program's own code ----------------------------------------------------------

# What the Pulumi program is made of: its entry point, project and stack files, and the packages
# and folders it imports or reads (nfe/ holds its config model, topology and build inputs).
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "pyproject.toml")
PROGRAM_FOLDERS = ("components", "functions", "nfe", "sql")


def copy_program(destination: Path) -> Path:
    for name in PROGRAM_FILES:
        shutil.copy2(PROJECT_DIR / name, destination / name)
    for name in PROGRAM_FOLDERS:
        shutil.copytree(PROJECT_DIR / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def test_program_option_checks_the_copy_own_components(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a copy of this program whose database component no longer encrypts storage, while this
    # process has already imported the checkout's own components (as `nfe policy` on the checkout does)
    import components.database

    assert Path(components.database.__file__).resolve().parent == PROJECT_DIR / "components"
    program = copy_program(tmp_path)
    database = program / "components" / "database.py"
    source = database.read_text()
    assert source.count("storage_encrypted=True") == 1
    database.write_text(source.replace("storage_encrypted=True", "storage_encrypted=False"))
    # When the copy is checked
    code = main(["policy", "--program", str(program), "--stack", "dev", "--json"])
    found = {(v["policy"], v["level"], v["resource"]) for v in json.loads(capsys.readouterr().out)["violations"]}
    # Then the copy's own code ran: the unencrypted database is a mandatory violation
    assert code == 1
    assert ("rds-storage-encrypted-with-cmk", "mandatory", "database-instance") in found
    # And the unmodified checkout stays clean, and its imported component was left alone
    assert main(["policy", "--stack", "dev", "--json"]) == 0
    assert not any(
        v["policy"] == "rds-storage-encrypted-with-cmk" for v in json.loads(capsys.readouterr().out)["violations"]
    )
    assert sys.modules["components.database"] is components.database


def test_a_program_whose_interpreter_dies_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a program that ends its own interpreter before the engine can answer
    (tmp_path / "Pulumi.yaml").write_text("name: dies\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text("import os\nos._exit(9)\n")
    # When checked, Then the check could not be made, and says so
    assert main(["policy", "--program", str(tmp_path), "--stack", "dev"]) == 2
    assert "stopped without a result" in capsys.readouterr().err


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


def _waits_for(plan: PlanResult, urn: str, target: str) -> bool:
    by_urn = {r.urn: r for r in plan.resources}
    seen: set[str] = set()
    todo = [urn]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen and current in by_urn:
            seen.add(current)
            todo.extend(by_urn[current].depends_on)
    return False


def _api_function(plan: PlanResult) -> ResourceRecord:
    uris = {str(i.inputs.get("uri")) for i in _of_type(plan, "aws:apigateway/integration:Integration")}
    return next(f for f in _of_type(plan, "aws:lambda/function:Function") if f.state["invokeArn"] in uris)


def _api_function_not_waiting(plan: PlanResult) -> str:
    # Drop every dependency through which the API function waits for the migration.
    invocation = _of_type(plan, "aws:lambda/invocation:Invocation")[0].urn
    function = _api_function(plan)
    function.depends_on = [d for d in function.depends_on if not _waits_for(plan, d, invocation)]
    return function.name


def _api_timeout_30(plan: PlanResult) -> str:
    function = _api_function(plan)
    _set(function, "timeout", 30)
    return function.name


def _subnet_by_name(plan: PlanResult) -> str:
    subnet = _of_type(plan, "aws:ec2/subnet:Subnet")[0]
    subnet.inputs.pop("availabilityZoneId", None)
    subnet.state.pop("availabilityZoneId", None)
    _set(subnet, "availabilityZone", "us-east-1a")
    return subnet.name


def _function_named(plan: PlanResult, name: str) -> ResourceRecord:
    return next(f for f in _of_type(plan, "aws:lambda/function:Function") if f.inputs["name"] == f"{name}-dev")


def _role_policy_of(plan: PlanResult, function: ResourceRecord) -> ResourceRecord:
    (role,) = function.options["propertyDependencies"]["role"]
    return next(
        p
        for p in _of_type(plan, "aws:iam/rolePolicy:RolePolicy")
        if role in p.options["propertyDependencies"].get("role", [])
    )


def _add_statement(policy: ResourceRecord, action: str, resource: str) -> None:
    document = json.loads(policy.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": [action], "Resource": [resource]})
    _set(policy, "policy", json.dumps(document))


def _api_function_outside_the_vpc(plan: PlanResult) -> str:
    function = _api_function(plan)
    del function.inputs["vpcConfig"], function.state["vpcConfig"]
    return function.name


def _sefaz_connects_to_the_database(plan: PlanResult) -> str:
    policy = _role_policy_of(plan, _function_named(plan, "sefaz-autorizador"))
    _add_statement(policy, "rds-db:connect", "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-X/faturamento_app")
    return policy.name


def _api_reads_the_certificate(plan: PlanResult) -> str:
    (secret,) = _of_type(plan, "aws:secretsmanager/secret:Secret")
    policy = _role_policy_of(plan, _api_function(plan))
    _add_statement(policy, "secretsmanager:GetSecretValue", secret.state["arn"])
    return policy.name


UNDONE: list[tuple[str, Callable[[PlanResult], str]]] = [
    ("code-waits-for-migrations", _api_function_not_waiting),
    ("api-function-timeout", _api_timeout_30),
    ("subnet-az-id", _subnet_by_name),
    ("sqs-visibility-covers-consumer", _short_visibility),
    ("sqs-dead-letter-queue", _no_redrive),
    ("apigateway-throttling", _no_stage_throttling),
    ("rds-force-ssl", _tls_not_forced),
    ("eventbus-archive", _no_archive),
    ("db-port-ingress-sources", _open_database_port),
    ("lambda-in-vpc", _api_function_outside_the_vpc),
    ("no-database-access-outside-vpc", _sefaz_connects_to_the_database),
    ("sefaz-certificate-readers", _api_reads_the_certificate),
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


def test_prod_proxy_borrow_timeout_left_at_its_default_is_caught(plans: dict[str, PlanResult]) -> None:
    # Given the prod stack (the one with an RDS Proxy) whose target group no longer sets a borrow timeout
    plan = copy.deepcopy(plans["prod"])
    group = _of_type(plan, "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup")[0]
    for properties in (group.inputs, group.state):
        properties["connectionPoolConfig"].pop("connectionBorrowTimeout")
    # When checked, Then RDS's 120 s default is reported against the shortest function timeout
    found = [v for v in check(plan) if v.policy == "rds-proxy-borrow-timeout"]
    assert [(v.level, v.resource) for v in found] == [("mandatory", group.name)]
    assert "120 s is longer than the 15 s timeout" in found[0].message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_of_each_stack_says_what_it_cannot_decide(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack run as a first `pulumi preview` sees it: ids and computed outputs unknown
    code = main(["policy", "--stack", stack, "--preview", "--json"])
    document = json.loads(capsys.readouterr().out)
    # Then no policy crashed (exit 2) and nothing blocks (exit 1)
    assert code == 0 and document["preview"] is True
    violations = document["violations"]
    cannot_run = {v["policy"] for v in violations if v["message"].startswith("can't run during preview")}
    # And the policies that compare ARNs say, as advisories, that they can't run yet
    assert {"iam-no-wildcard-actions", "sqs-dead-letter-queue", "rds-storage-encrypted-with-cmk"} <= cannot_run
    assert all(v["level"] == "advisory" for v in violations if v["policy"] in cannot_run)
    # While the ones that follow the dependency graph or read plain inputs decide even now
    deciding = {
        "lambda-in-vpc",
        "no-database-access-outside-vpc",
        "sefaz-certificate-readers",
        "code-waits-for-migrations",
        "api-function-timeout",
        "rds-proxy-borrow-timeout",
        "subnet-az-id",
        "monthly-cost-budget",
        "eventbus-archive",
    }
    assert not cannot_run & deciding
