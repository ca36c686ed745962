"""Account-wide settings live in account/, deployed once per account and region; app stacks check for them."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import account
from nfe.cli import main
from nfe.mockrun import ProgramError, RecordingMocks, _account_bootstrap_record, run_program
from nfe.plan import plan
from nfe.policy_runner import check_program

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


# --- GitHub Actions through OIDC (account/github_ci.py, README "CI/CD") -----------------------------

REPO = "acme/nfe"
OIDC = "token.actions.githubusercontent.com"


def _github_ci() -> Any:
    spec = importlib.util.spec_from_file_location("account_github_ci", ROOT / "account" / "github_ci.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _with_ci(**extra: str) -> Any:
    return run_program(ROOT / "account", "us-east-1", {"nfe-account:githubRepository": REPO, **extra})


def _role(result: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    role = result.by_name(f"github-{name}")
    policy = result.by_name(f"github-{name}-policy")
    return json.loads(role.inputs["assumeRolePolicy"]), json.loads(policy.inputs["policy"])


def test_without_a_repository_no_ci_resource_is_created() -> None:
    result = run_program(ROOT / "account", "us-east-1")
    assert not [r for r in result.resources if r.name.startswith("github-")]
    assert "githubRoleArns" not in result.outputs


def test_each_role_trusts_only_this_repository_through_githubs_provider() -> None:
    # Given the account project with a repository configured
    result = _with_ci()
    (provider,) = result.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == f"https://{OIDC}" and provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.options["protect"] is True
    expected = {
        "dev-deploy": [f"repo:{REPO}:ref:refs/heads/main"],
        # prod: only a job in the prod environment, i.e. after its required reviewers approved
        "prod-deploy": [f"repo:{REPO}:environment:prod"],
        "dev-read": [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main"],
        "prod-read": [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main"],
    }
    for name, subjects in expected.items():
        trust, _ = _role(result, name)
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Federated": provider.state["arn"]}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        # Exact matches only: no StringLike, so no `repo:acme/*` or `repo:acme/nfe:*` slips in
        assert set(statement["Condition"]) == {"StringEquals"}
        assert statement["Condition"]["StringEquals"] == {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": subjects}
    assert result.outputs["githubRoleArns"]["prod-deploy"] == "arn:aws:iam::123456789012:role/nfe-github-prod-deploy"


def test_an_existing_provider_is_reused_and_other_settings_are_read() -> None:
    arn = f"arn:aws:iam::123456789012:oidc-provider/{OIDC}"
    result = _with_ci(
        **{
            "nfe-account:githubOidcProviderArn": arn,
            "nfe-account:githubBranch": "trunk",
            "nfe-account:pulumiStateBucket": "acme-pulumi-state",
        }
    )
    assert not result.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    trust, policy = _role(result, "dev-deploy")
    assert trust["Statement"][0]["Principal"] == {"Federated": arn}
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"] == [f"repo:{REPO}:ref:refs/heads/trunk"]
    state = [s for s in policy["Statement"] if s["Sid"] == "StateObjects"]
    assert state[0]["Resource"] == ["arn:aws:s3:::acme-pulumi-state/*"]
    _, read = _role(result, "dev-read")
    writes = {a for s in read["Statement"] if s["Effect"] == "Allow" for a in s["Action"] if a == "s3:PutObject"}
    assert writes and all(
        r.endswith("/.pulumi/locks/*")
        for s in read["Statement"]
        if "s3:PutObject" in s["Action"]
        for r in s["Resource"]
    )


def test_a_malformed_repository_stops_the_program() -> None:
    with pytest.raises(ProgramError, match="must be owner/name"):
        run_program(ROOT / "account", "us-east-1", {"nfe-account:githubRepository": "nfe"})


def test_no_wildcard_beyond_the_listed_and_justified_ones() -> None:
    ci = _github_ci()
    result = _with_ci()
    justified = ci.justified_wildcards()
    for name in ("dev-deploy", "prod-deploy", "dev-read", "prod-read"):
        _, policy = _role(result, name)
        for statement in policy["Statement"]:
            if statement["Effect"] == "Allow":  # a Deny may be as broad as it likes
                assert "NotAction" not in statement and "NotResource" not in statement
                assert "*" not in statement["Action"]
        assert ci.wildcard_actions(policy) <= justified, name
    # Every justified service has its reason written down
    assert all(reason.strip() for reason in ci.DEPLOY_SERVICES.values())
    # The deploy role may not touch the CI roles, the provider or the account settings
    _, deploy = _role(result, "prod-deploy")
    (deny,) = [s for s in deploy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == ["iam:*"] and f"arn:aws:iam::123456789012:oidc-provider/{OIDC}" in deny["Resource"]
    assert "arn:aws:iam::123456789012:role/nfe-github-*" in deny["Resource"]
    # The read-only role reads configuration, never data
    _, read = _role(result, "prod-read")
    denied = {s["Sid"]: s for s in read["Statement"] if s["Effect"] == "Deny"}
    assert "secretsmanager:GetSecretValue" in denied["NoDataReads"]["Action"]
    objects = denied["NoObjectReadsButTheConsoleAndTheState"]
    assert "s3:GetObject" in objects["Action"] and objects["NotResource"] == ["arn:aws:s3:::nfe-console-*/*"]
    allowed = {a for s in read["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert not [a for a in allowed if a.split(":")[1].startswith(("Create", "Put", "Delete", "Update"))]


def test_the_deploy_role_covers_every_service_the_stacks_create() -> None:
    # A new resource type in a new service fails here, not in a team's first deploy.
    ci = _github_ci()
    needed = {
        ci.service_of(record.type)
        for stack in ("dev", "prod")
        for record in plan(stack).resources
        if record.type.startswith("aws:")
    }
    assert {"events", "logs", "cloudwatch", "ec2", "cognito-idp"} <= needed  # the mapping is exercised
    missing = needed - set(ci.DEPLOY_SERVICES) - {"iam"}
    assert not missing, f"add to account/github_ci.py DEPLOY_SERVICES: {sorted(missing)}"


def test_the_account_project_passes_the_policy_pack_with_its_config(tmp_path: Path) -> None:
    # Given the account project with the CI roles, checked by the pack with account/policy-config.json
    program = tmp_path / "account"
    shutil.copytree(ROOT / "account", program)
    with (program / "Pulumi.us-east-1.yaml").open("a") as stack_file:
        stack_file.write(f"  nfe-account:githubRepository: {REPO}\n")
    report = check_program(program, "us-east-1", config_file=ROOT / "account" / "policy-config.json")
    # Then nothing mandatory is violated, and the advisories are the CI roles' listed wildcards only
    assert report.mandatory == []
    assert {v.policy for v in report.violations} == {"iam-no-wildcard-actions"}
    assert {v.resource for v in report.violations} == {
        f"github-{n}-policy" for n in ("dev-deploy", "prod-deploy", "dev-read", "prod-read")
    }
