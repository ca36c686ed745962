"""The policy pack the Pulumi CLI runs: `pulumi preview --policy-pack policies`.

`PolicyPack(...)` starts the analyzer's gRPC server and never returns, so this file holds that call
and nothing else; the policies live in `nfe_policies` (which `nfe policy` and the tests import).
"""

from nfe_policies.registry import PACK_ENFORCEMENT_LEVEL, PACK_NAME, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, enforcement_level=PACK_ENFORCEMENT_LEVEL, policies=POLICIES)
