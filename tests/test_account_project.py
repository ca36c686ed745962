"""Account-wide settings live in account/, deployed once per account and region; app stacks check for them."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import account
from nfe.cli import main
from nfe.mockrun import ProgramError, RecordingMocks, _account_bootstrap_record, run_program
from nfe.plan import plan

ROOT = Path(__file__).resolve().parents[1]
# Settings AWS keeps once per account and region: only account/ may declare them.
ACCOUNT_WIDE = ("aws:apigateway/account:Account", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
# Inputs that name a physical resource; two stacks in one account must never share one.
NAME_INPUTS = ("name", "identifier", "policyName", "layerName", "stageName", "domainName", "alias")
# Names that live inside another resource of the same stack (a group of its own user pool, a
# client of it), so equal names in two stacks are two different things.
SCOPED_NAMES = ("aws:cognito/userGroup:UserGroup", "aws:cognito/userPoolClient:UserPoolClient")


@pytest.fixture
def empty_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(RecordingMocks, "ssm_parameters", {})
    yield


def test_account_project_declares_the_settings_and_records_them() -> None:
    # When the account project runs for us-east-1
    result = run_program(ROOT / "account", "us-east-1")
    types = [r.type for r in result.resources]
    # Then it holds API Gateway's CloudWatch role and one EventBridge log policy for every nfe bus
    assert types.count("aws:apigateway/account:Account") == 1
    # Protected: a destroy of this project would reset the setting under every API in the region
    for record in result.resources:
        if record.type != "aws:ssm/parameter:Parameter":
            assert record.options["protect"] is True, record.name
    (policy,) = result.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert set(statement["Principal"]["Service"]) == {"events.amazonaws.com", "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == (
        f"arn:aws:logs:us-east-1:123456789012:log-group:{account.EVENT_LOG_GROUP_PATTERN}:*"
    )
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # And its record is what the app program reads (and what the offline runner's mocks hold)
    (parameter,) = result.of_type("aws:ssm/parameter:Parameter")
    assert parameter.inputs["name"] == account.BOOTSTRAP_PARAMETER
    record = json.loads(parameter.inputs["value"])
    assert record == json.loads(_account_bootstrap_record("us-east-1"))
    assert record["version"] == account.BOOTSTRAP_VERSION
    assert record["eventsLogGroupPattern"] == account.EVENT_LOG_GROUP_PATTERN


def test_the_bus_log_of_every_stack_is_admitted_by_the_account_policy() -> None:
    for stack in ("dev", "prod"):
        (log_group,) = [
            r
            for r in plan(stack).of_type("aws:cloudwatch/logGroup:LogGroup")
            if r.inputs["name"].startswith("/aws/events/")
        ]
        assert fnmatch.fnmatchcase(log_group.inputs["name"], account.EVENT_LOG_GROUP_PATTERN)


@pytest.mark.usefixtures("empty_account")
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_app_stack_in_an_account_without_the_settings_stops_and_says_what_to_run(stack: str) -> None:
    # Given an account where account/ was never deployed / When an app stack runs
    with pytest.raises(ProgramError) as error:
        plan(stack)
    # Then it stops before declaring anything, naming the parameter and the command to run
    message = str(error.value)
    assert account.BOOTSTRAP_PARAMETER in message and "ParameterNotFound" in message
    assert "cd account && pulumi stack init us-east-1" in message and "pulumi up" in message


@pytest.mark.usefixtures("empty_account")
def test_plan_command_reports_the_missing_bootstrap_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert "no nfe account settings in us-east-1" in err and "Traceback" not in err


def test_an_older_bootstrap_record_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    old = json.loads(_account_bootstrap_record("us-east-1")) | {"version": 0}
    monkeypatch.setattr(RecordingMocks, "ssm_parameters", {account.BOOTSTRAP_PARAMETER: json.dumps(old)})
    with pytest.raises(ProgramError, match="version 0, this program needs 1"):
        plan("dev")


def _physical_names(stack: str) -> set[str]:
    names = set()
    for record in plan(stack).resources:
        if record.type in SCOPED_NAMES:
            continue
        for key in NAME_INPUTS:
            value = record.inputs.get(key)
            if isinstance(value, str):
                names.add(f"{record.type}:{value}")
    return names


def test_two_stacks_share_no_account_setting_and_no_physical_name() -> None:
    # Given dev and prod planned for the same account
    dev, prod = plan("dev"), plan("prod")
    # Then neither declares an account-wide setting (destroying one cannot remove the other's) ...
    for result in (dev, prod):
        assert not [r for r in result.resources if r.type in ACCOUNT_WIDE]
    # ... no physical name is declared by both (they never fight over a resource) ...
    assert _physical_names("dev") & _physical_names("prod") == set()
    # ... and prod refers to nothing of dev's: it deploys alone in an account of its own.
    assert "-dev" not in json.dumps([r.inputs for r in prod.resources], default=str)
