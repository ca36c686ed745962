"""Every policy of the pack, and the pack's name and default enforcement level.

`policies/__main__.py` serves this list to the Pulumi CLI; `nfe policy` runs the same list offline.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from . import (
    apigateway,
    cost,
    deploy,
    events,
    hosting,
    iam,
    identity,
    isolation,
    kms,
    lambda_,
    network,
    rds,
    sqs,
    storage,
)

PACK_NAME = "nfe-guardrails"
# Policies are mandatory unless they say otherwise (the advisory ones set their own level).
PACK_ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY

POLICIES: list[Policy] = [
    *rds.POLICIES,
    *network.POLICIES,
    *kms.POLICIES,
    *sqs.POLICIES,
    *events.POLICIES,
    *lambda_.POLICIES,
    *apigateway.POLICIES,
    *deploy.POLICIES,
    *iam.POLICIES,
    *cost.POLICIES,
    *identity.POLICIES,
    *hosting.POLICIES,
    *storage.POLICIES,
    *isolation.POLICIES,
]
