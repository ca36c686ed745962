"""Local mode's user pool: the stack's pool, app client and groups in moto's Cognito, with demo users.

moto serves Cognito's API (CreateUserPool, AdminCreateUser, InitiateAuth with USER_PASSWORD_AUTH)
and each pool's public keys at `<endpoint>/<pool id>/.well-known/jwks.json`; its ID tokens carry
the issuer AWS would give them (`https://cognito-idp.<region>.amazonaws.com/<pool id>`), the
user's e-mail and `cognito:groups`. Users exist only here: no user is ever seeded in a stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.shared.access import Group
from nfe import identity

DEMO_PASSWORD = "NfeDemo#2026"  # noqa: S105 (the published password of the local demo users)


@dataclass(frozen=True)
class LocalUser:
    email: str
    groups: tuple[str, ...]
    password: str = DEMO_PASSWORD


DEMO_USERS: tuple[LocalUser, ...] = (
    LocalUser("faturista@example.com", (Group.FATURAMENTO,)),
    LocalUser("estoquista@example.com", (Group.ESTOQUE,)),
    LocalUser("auditor@example.com", (Group.AUDITORIA,)),
    LocalUser("admin@example.com", (Group.FATURAMENTO, Group.ESTOQUE)),
)


class UsersFileError(ValueError):
    pass


def load_users(path: Path) -> tuple[LocalUser, ...]:
    """`--users FILE`: a JSON list of {"email", "groups": [...], "password"?} replacing the demo users."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsersFileError(f"{path}: {exc}") from exc
    if not isinstance(entries, list):
        raise UsersFileError(f"{path}: expected a JSON list of users")
    known = {g.value for g in Group}
    users = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("email"), str) or "@" not in entry["email"]:
            raise UsersFileError(f'{path}: users[{index}] needs an "email"')
        groups = entry.get("groups", [])
        if not isinstance(groups, list) or not set(groups) <= known:
            raise UsersFileError(f"{path}: users[{index}].groups must be a list of {sorted(known)}")
        password = entry.get("password", DEMO_PASSWORD)
        if not isinstance(password, str):
            raise UsersFileError(f"{path}: users[{index}].password must be a string")
        users.append(LocalUser(entry["email"], tuple(groups), password))
    return tuple(users)


@dataclass
class LocalUserPool:
    pool_id: str
    client_id: str
    region: str
    endpoint_url: str
    users: tuple[LocalUser, ...] = field(default_factory=tuple)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint_url}/{self.pool_id}/.well-known/jwks.json"


def create_pool(cognito: Any, environment: str, mfa: str = "OFF") -> tuple[str, str]:
    """The stack's pool and console client (components/identity.py), from the same declaration."""
    pool = cognito.create_user_pool(
        PoolName=identity.pool_name(environment),
        UsernameAttributes=list(identity.USERNAME_ATTRIBUTES),
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": identity.PASSWORD_POLICY.boto()},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        MfaConfiguration=mfa,
        DeletionProtection="INACTIVE",
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=identity.console_client_name(environment),
        GenerateSecret=False,
        ExplicitAuthFlows=list(identity.CONSOLE_AUTH_FLOWS),
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
        **identity.token_validity(),
    )["UserPoolClient"]
    for group, description in identity.GROUPS.items():
        cognito.create_group(GroupName=group.value, UserPoolId=pool["Id"], Description=description)
    return pool["Id"], client["ClientId"]


def add_user(cognito: Any, pool_id: str, user: LocalUser) -> None:
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=user.email,
        UserAttributes=[{"Name": "email", "Value": user.email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    # Permanent: the user signs in at once instead of answering NEW_PASSWORD_REQUIRED first.
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=user.email, Password=user.password, Permanent=True)
    for group in user.groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=user.email, GroupName=str(group))


def provision(
    cognito: Any, endpoint_url: str, region: str, environment: str, users: tuple[LocalUser, ...] = DEMO_USERS
) -> LocalUserPool:
    pool_id, client_id = create_pool(cognito, environment)
    for user in users:
        add_user(cognito, pool_id, user)
    return LocalUserPool(pool_id, client_id, region, endpoint_url, users)


class SignInError(RuntimeError):
    pass


def sign_in(cognito: Any, client_id: str, email: str, password: str = DEMO_PASSWORD) -> dict[str, Any]:
    """InitiateAuth with USER_PASSWORD_AUTH, the console's flow: IdToken, AccessToken, RefreshToken."""
    try:
        answer = cognito.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": password}
        )
    except cognito.exceptions.ClientError as exc:
        raise SignInError(f"{email}: {exc.response['Error'].get('Message') or exc}") from exc
    if "AuthenticationResult" not in answer:
        raise SignInError(f"{email}: Cognito asks for {answer.get('ChallengeName')}, which this client does not answer")
    return dict(answer["AuthenticationResult"])


def describe_users(users: tuple[LocalUser, ...]) -> list[str]:
    """The lines `nfe local` prints at start, one per user."""
    return [
        f"{u.email} ({', '.join(u.groups) or 'no group'}) password "
        + (u.password if u.password == DEMO_PASSWORD else "from the users file")
        for u in users
    ]
