"""The user pool's settings, declared once for the stack (components/identity.py) and local mode.

- E-mail is the username; nobody signs up: administrators create users (`AdminCreateUser`).
- Passwords: 12 characters with lower and upper case, a digit and a symbol; a temporary password
  lasts 3 days. Cognito's default is 8 characters with the same four classes and 7 days, so this is
  stricter on every axis (the policy pack refuses anything weaker than the default).
- The console's app client has no secret (a browser cannot keep one) and exactly two flows:
  `USER_PASSWORD_AUTH` (the password goes over TLS to Cognito, never to our API; it is also the one
  flow moto implements faithfully, so local mode signs in the same way) and refresh.
- Token lifetimes: ID and access tokens 60 minutes, the refresh token 12 hours (a working day).
  API Gateway checks an ID token's signature and expiry only, so a disabled user or one removed
  from a group keeps the rights in a token already issued until it expires: at most 60 minutes.
  Shorter would mean more refreshes; longer, a longer window after someone leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.shared.access import GROUP_DESCRIPTIONS, Group

GROUPS: dict[Group, str] = dict(GROUP_DESCRIPTIONS)

ID_TOKEN_MINUTES = 60
ACCESS_TOKEN_MINUTES = 60
REFRESH_TOKEN_HOURS = 12
CONSOLE_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
USERNAME_ATTRIBUTES = ("email",)


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int = 12
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True
    temporary_password_validity_days: int = 3

    def boto(self) -> dict[str, object]:
        """As Cognito's API (and moto) take it: `Policies.PasswordPolicy` of CreateUserPool."""
        return {
            "MinimumLength": self.minimum_length,
            "RequireLowercase": self.require_lowercase,
            "RequireUppercase": self.require_uppercase,
            "RequireNumbers": self.require_numbers,
            "RequireSymbols": self.require_symbols,
            "TemporaryPasswordValidityDays": self.temporary_password_validity_days,
        }


PASSWORD_POLICY = PasswordPolicy()

# The default of Cognito's password policy: the floor a deployed pool may not go below.
COGNITO_DEFAULT_PASSWORD_POLICY = PasswordPolicy(minimum_length=8, temporary_password_validity_days=7)

MFA_MODES = ("OFF", "OPTIONAL", "ON")


def pool_name(environment: str) -> str:
    return f"nfe-users-{environment}"


def console_client_name(environment: str) -> str:
    return f"nfe-console-{environment}"


def token_validity() -> dict[str, object]:
    """The console client's token lifetimes as CreateUserPoolClient takes them."""
    return {
        "IdTokenValidity": ID_TOKEN_MINUTES,
        "AccessTokenValidity": ACCESS_TOKEN_MINUTES,
        "RefreshTokenValidity": REFRESH_TOKEN_HOURS,
        "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "hours"},
    }
