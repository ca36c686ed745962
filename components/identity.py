"""Identity: the stack's Cognito user pool, the web console's app client and one group per kind of work.

The settings that do not vary by stack (e-mail usernames, the password policy, the console's flows
and token lifetimes, the groups) are declared in nfe/identity.py, which local mode reads too; the
stack chooses MFA and deletion protection (`nfe:identity`). Nobody signs up: administrators create
users (README, "Users"), and no user is ever created by this program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from nfe import identity

# Lite covers what the pool uses (passwords, TOTP, groups) at the lowest price per active user;
# Essentials (AWS's default for new pools) adds managed login and passwordless, which we don't use.
USER_POOL_TIER = "LITE"


@dataclass(frozen=True)
class IdentityArgs:
    environment: str
    mfa: Literal["OFF", "OPTIONAL", "ON"]
    deletion_protection: bool


class Identity(pulumi.ComponentResource):
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nfe:index:Identity", name, None, opts)
        self.args = args
        self._prefix = name
        self.user_pool = self._create_user_pool()
        self.client = self._create_console_client()
        self.groups = self._create_groups()
        self.user_pool_id = self.user_pool.id
        self.user_pool_arn = self.user_pool.arn
        self.client_id = self.client.id
        self.register_outputs(
            {"userPoolId": self.user_pool_id, "userPoolArn": self.user_pool_arn, "userPoolClientId": self.client_id}
        )

    def _opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)  # type: ignore[arg-type]

    def _create_user_pool(self) -> aws.cognito.UserPool:
        args, policy = self.args, identity.PASSWORD_POLICY
        mfa_on = args.mfa != "OFF"
        return aws.cognito.UserPool(
            f"{self._prefix}-user-pool",
            name=identity.pool_name(args.environment),
            user_pool_tier=USER_POOL_TIER,
            username_attributes=list(identity.USERNAME_ATTRIBUTES),
            auto_verified_attributes=["email"],
            username_configuration={"case_sensitive": False},
            admin_create_user_config={"allow_admin_create_user_only": True},
            password_policy={
                "minimum_length": policy.minimum_length,
                "require_lowercase": policy.require_lowercase,
                "require_uppercase": policy.require_uppercase,
                "require_numbers": policy.require_numbers,
                "require_symbols": policy.require_symbols,
                "temporary_password_validity_days": policy.temporary_password_validity_days,
            },
            mfa_configuration=args.mfa,
            # TOTP only: SMS would need an SNS spending setup and is the weaker factor.
            software_token_mfa_configuration={"enabled": True} if mfa_on else None,
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            # Deleting the pool would delete every user with it: prod's pool refuses to be deleted.
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            opts=self._opts(),
        )

    def _create_console_client(self) -> aws.cognito.UserPoolClient:
        return aws.cognito.UserPoolClient(
            f"{self._prefix}-console-client",
            name=identity.console_client_name(self.args.environment),
            user_pool_id=self.user_pool.id,
            # A browser app cannot keep a secret.
            generate_secret=False,
            explicit_auth_flows=list(identity.CONSOLE_AUTH_FLOWS),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            id_token_validity=identity.ID_TOKEN_MINUTES,
            access_token_validity=identity.ACCESS_TOKEN_MINUTES,
            refresh_token_validity=identity.REFRESH_TOKEN_HOURS,
            token_validity_units={"id_token": "minutes", "access_token": "minutes", "refresh_token": "hours"},
            opts=self._opts(),
        )

    def _create_groups(self) -> dict[str, aws.cognito.UserGroup]:
        return {
            group.value: aws.cognito.UserGroup(
                f"{self._prefix}-group-{group.value}",
                name=group.value,
                user_pool_id=self.user_pool.id,
                description=description,
                opts=self._opts(),
            )
            for group, description in identity.GROUPS.items()
        }
