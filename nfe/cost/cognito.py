"""Cognito user pools: billed per monthly active user (a user who signs in, refreshes a token or is
created or changed in the month), at the rate of the pool's feature tier.

The quantity is `usage.monthlyActiveUsers`; `--free-tier` subtracts the account's allowance (10,000
MAU a month for Lite and Essentials; Plus has none). Only the first price band is modelled (Lite
bills $0.0055 per MAU up to 100,000, less above): our stacks are far below it. App clients and
groups cost nothing by themselves.
"""

from __future__ import annotations

from nfe.cost.pricing import Charge, PricingContext, Resource, Unpriceable, get

USER_POOL = "aws:cognito/userPool:UserPool"
# A pool created without a tier is on Essentials, AWS's default for new pools since November 2024.
DEFAULT_TIER = "ESSENTIALS"
PRICE_KEYS = {"LITE": "cognito.mau.lite", "ESSENTIALS": "cognito.mau.essentials", "PLUS": "cognito.mau.plus"}
FREE_POOLS = {"LITE": "freeTier.cognito.mau", "ESSENTIALS": "freeTier.cognito.mau", "PLUS": None}


def price_user_pool(resource: Resource, ctx: PricingContext) -> list[Charge]:
    tier = str(get(resource, "userPoolTier", DEFAULT_TIER)).upper()
    if tier not in PRICE_KEYS:
        raise Unpriceable(f"user pool tier {tier!r} has no price line")
    users = ctx.config.usage.monthly_active_users
    return [
        Charge(
            "active-users",
            users,
            PRICE_KEYS[tier],
            note=f"usage.monthlyActiveUsers, {tier.title()} tier",
            free_pool=FREE_POOLS[tier],
        )
    ]
