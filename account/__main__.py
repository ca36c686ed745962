"""Account-wide settings every nfe stack of this account and region relies on.

Each is one setting per account and region, so no app stack may own it: two stacks would fight
over it, and destroying one would pull it from under the other (prod must deploy alone in an empty
account, and destroying dev must not break prod). Deploy this project once per account and region
before the first app stack; the app stacks read the SSM parameter it writes and stop, naming this
project, when it is missing (components/account.py in the app).

- API Gateway's CloudWatch role (`aws.apigateway.Account`): without it a stage with execution
  logging fails ("CloudWatch Logs role ARN must be set in account settings to enable logging").
- The CloudWatch Logs resource policy that lets EventBridge write to the buses' log groups: an IAM
  role is not accepted for log targets, and resource policies are capped at 10 per region.

- GitHub Actions' OIDC provider and, per app stack, a deploy role and a read-only role
  (github_ci.py), when `nfe-account:githubRepository` is set: IAM is global, so set it on one
  region's stack only.

This project is self-contained (pulumi and pulumi_aws only), so it runs from any checkout.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from github_ci import GitHubCiArgs, create_github_ci

# Read by the app program; tests/test_account_project.py checks these match components/account.py.
BOOTSTRAP_PARAMETER = "/nfe/account/bootstrap"
BOOTSTRAP_VERSION = 1
EVENT_LOG_GROUP_PATTERN = "/aws/events/nfe-events-*"
EVENTS_LOG_POLICY_NAME = "nfe-eventbridge-to-logs"
LOG_WRITE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]


def main() -> None:
    region = aws.get_region().region
    account = aws.get_caller_identity().account_id
    partition = aws.get_partition().partition
    log_groups = f"arn:{partition}:logs:{region}:{account}:log-group"

    # API Gateway writes execution logs of every API in the region through this one role.
    role = aws.iam.Role(
        "apigateway-cloudwatch-role",
        name=f"nfe-apigateway-cloudwatch-{region}",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                    }
                ],
            }
        ),
        description="API Gateway account-wide logging to CloudWatch (one per account and region)",
        opts=pulumi.ResourceOptions(protect=True),
    )
    policy = aws.iam.RolePolicy(
        "apigateway-cloudwatch-policy",
        role=role.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ApiGatewayLogsInThisRegion",
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogGroup",
                            "logs:CreateLogStream",
                            "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams",
                            "logs:PutLogEvents",
                            "logs:GetLogEvents",
                            "logs:FilterLogEvents",
                        ],
                        "Resource": [f"{log_groups}:*", f"{log_groups}:*:log-stream:*"],
                    }
                ],
            }
        ),
        opts=pulumi.ResourceOptions(protect=True),
    )
    # Protected: deleting it resets the account's setting (pulumi-aws v7 has no reset_on_delete),
    # which breaks the logging of every API in the region, nfe's or not. `pulumi destroy` here
    # stops until someone unprotects it on purpose, after the last app stack is gone.
    aws.apigateway.Account(
        "apigateway-account",
        cloudwatch_role_arn=role.arn,
        opts=pulumi.ResourceOptions(depends_on=[policy], protect=True),
    )

    # One policy for every stack's bus log (`/aws/events/nfe-events-<env>`): a policy per stack
    # would spend the region's 10 on nfe alone. No source condition: AWS documents none for these
    # principals, and a wrong one silently drops every event.
    events_policy = aws.cloudwatch.LogResourcePolicy(
        "eventbridge-to-logs",
        policy_name=EVENTS_LOG_POLICY_NAME,
        policy_document=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EventBridgeToNfeBusLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                        "Action": LOG_WRITE_ACTIONS,
                        "Resource": f"{log_groups}:{EVENT_LOG_GROUP_PATTERN}:*",
                    }
                ],
            }
        ),
        opts=pulumi.ResourceOptions(protect=True),
    )

    # Written last, after what it describes exists: an app stack that finds it can rely on both.
    record = pulumi.Output.json_dumps(
        {
            "version": BOOTSTRAP_VERSION,
            "apiGatewayCloudWatchRoleArn": role.arn,
            "eventsLogPolicyName": events_policy.policy_name,
            "eventsLogGroupPattern": EVENT_LOG_GROUP_PATTERN,
        }
    )
    aws.ssm.Parameter(
        "bootstrap-record",
        name=BOOTSTRAP_PARAMETER,
        type="String",
        value=record,
        description="nfe account settings of this region (written by the account/ Pulumi project)",
    )
    pulumi.export("apiGatewayCloudWatchRoleArn", role.arn)
    pulumi.export("eventsLogPolicyName", events_policy.policy_name)
    pulumi.export("bootstrapParameter", BOOTSTRAP_PARAMETER)

    config = pulumi.Config()
    repository = config.get("githubRepository")
    if repository:
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise ValueError(f"nfe-account:githubRepository must be owner/name, got {repository!r}")
        roles = create_github_ci(
            GitHubCiArgs(
                repository=repository,
                region=region,
                account=account,
                partition=partition,
                stacks=tuple(config.get_object("githubStacks") or ("dev", "prod")),
                environments=tuple(config.get_object("githubEnvironments") or ("prod",)),
                branch=config.get("githubBranch") or "main",
                oidc_provider_arn=config.get("githubOidcProviderArn"),
                state_bucket=config.get("pulumiStateBucket"),
                state_kms_key_arn=config.get("pulumiStateKmsKeyArn"),
            )
        )
        # The workflows read these as repository variables (README "CI/CD").
        pulumi.export("githubRoleArns", roles)


main()
