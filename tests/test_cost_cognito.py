"""The cost review prices Cognito user pools per monthly active user, by tier; --free-tier takes the allowance off."""

from __future__ import annotations

import pytest

from nfe.config import load_stack_file
from nfe.cost import estimate
from nfe.cost.types import is_free
from tests.test_cost_estimator import ROOT, config, res

POOL = "aws:cognito/userPool:UserPool"


def pool_line(users: int, tier: str | None, free_tier: bool = False, region: str = "us-east-1") -> tuple[float, str]:
    inputs = {"userPoolTier": tier} if tier else {}
    stack = config(region=region, usage={"monthlyActiveUsers": users})
    result = estimate([res(POOL, "users", inputs)], stack, free_tier=free_tier)
    assert not result.unpriced, result.unpriced
    [item] = [i for i in result.items if i.resource == "users"]
    return item.monthly, item.basis


@pytest.mark.parametrize(("tier", "rate"), [("LITE", 0.0055), ("ESSENTIALS", 0.015), ("PLUS", 0.02), (None, 0.015)])
def test_each_tier_bills_its_rate_per_active_user(tier: str | None, rate: float) -> None:
    monthly, basis = pool_line(20_000, tier)
    assert monthly == pytest.approx(20_000 * rate)
    assert basis.startswith("active-users: 20,000 MAU")


def test_free_tier_takes_10000_users_off_lite_and_essentials_but_not_plus() -> None:
    assert pool_line(20_000, "LITE", free_tier=True)[0] == pytest.approx(10_000 * 0.0055)
    assert pool_line(50, "ESSENTIALS", free_tier=True)[0] == 0
    assert pool_line(50, "PLUS", free_tier=True)[0] == pytest.approx(50 * 0.02)


def test_no_sa_east_1_rate_leaves_the_pool_unpriced() -> None:
    stack = config(region="sa-east-1", network={"availabilityZoneIds": ["sae1-az1", "sae1-az2"]})
    result = estimate([res(POOL, "users", {"userPoolTier": "LITE"})], stack)
    assert [u.resource for u in result.unpriced] == ["users"]


def test_clients_and_groups_are_free_and_the_stacks_pools_are_priced() -> None:
    assert is_free("aws:cognito/userPoolClient:UserPoolClient") and is_free("aws:cognito/userGroup:UserGroup")
    from nfe.cost.estimator import estimate as run
    from nfe.plan import plan

    dev = load_stack_file(ROOT / "Pulumi.dev.yaml")
    result = run(plan("dev").resources, dev)  # type: ignore[arg-type]
    [line] = [i for i in result.items if i.type == POOL]
    assert line.monthly == pytest.approx(dev.usage.monthly_active_users * 0.0055)
    assert "Lite tier" in line.basis
    assert not [u for u in result.unpriced if u.type.startswith("aws:cognito/")]
