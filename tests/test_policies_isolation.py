"""The isolation policies (policies/nfe_policies/isolation.py), each with a passing and a violating stack or
resource, known and as a first preview sees it; and the pack's names for the certificate and the function
outside the VPC kept equal to the program's."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from nfe.mockrun import ACCOUNT_ID, ResourceRecord
from tests.test_policies import FUNCTION, REGION, ROLE, ROLE_POLICY, only, resource, violations

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
INSTANCE = "aws:rds/instance:Instance"
MANAGED_POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
CERTIFICATE_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:nfe-sefaz-certificado-dev-abc-Xy12Zq"
VPC = {"vpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"]}}


def function(name: str, **inputs: Any) -> ResourceRecord:
    """A Lambda function whose physical name is `name` (the policies judge physical names)."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
    return resource(FUNCTION, name, {"name": name, **inputs}, {"arn": arn})


def role(name: str) -> ResourceRecord:
    return resource(ROLE, name, {"name": name}, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"})


def lambda_of(name: str, execution_role: ResourceRecord, **inputs: Any) -> ResourceRecord:
    record = function(name, role=execution_role.state["arn"], **inputs)
    record.options["propertyDependencies"] = {"role": [execution_role.urn]}
    return record


def role_policy(
    name: str, of: ResourceRecord, *statements: dict[str, Any], sources: tuple[Any, ...] = ()
) -> ResourceRecord:
    record = resource(
        ROLE_POLICY, name, {"role": f"{of.name}-id", "policy": json.dumps({"Statement": list(statements)})}
    )
    record.options["propertyDependencies"] = {"role": [of.urn], "policy": [s.urn for s in sources]}
    return record


def allow(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def certificate(**inputs: Any) -> ResourceRecord:
    values = {"namePrefix": "nfe-sefaz-certificado-dev-", "tags": {"nfe:secret": "sefaz-certificate"}, **inputs}
    return resource(SECRET, "sefaz-certificate", values, {"arn": CERTIFICATE_ARN})


def unknown(record: ResourceRecord, *keys: str) -> ResourceRecord:
    """As a first preview sees it: these values are computed and not known yet."""
    for key in keys:
        record.state[key] = UNKNOWN_STRING_VALUE
        record.inputs[key] = UNKNOWN_STRING_VALUE
    return record


# --- lambda-in-vpc --------------------------------------------------------------------------------------


def test_only_the_named_function_may_run_outside_the_vpc() -> None:
    # Given a function in the subnets, and the SEFAZ one (its physical name has the stack's suffix) outside
    assert violations("lambda-in-vpc", function("estoque-api-dev", **VPC)) == []
    assert violations("lambda-in-vpc", function("sefaz-autorizador-dev")) == []
    # When any other function has no VPC config, or one without subnets / Then it is reported
    message = only(violations("lambda-in-vpc", function("estoque-api-dev")))
    assert message.startswith("estoque-api-dev runs outside the VPC") and "only sefaz-autorizador may" in message
    empty = function("faturamento-api-dev", vpcConfig={"subnetIds": []})
    assert "runs outside the VPC" in only(violations("lambda-in-vpc", empty))
    # A name that merely starts like the allowed one is not it
    assert violations("lambda-in-vpc", function("sefaz-autorizador-copy-dev"))
    # Subnets unknown on a first preview are subnets all the same
    preview = function("estoque-api-dev", vpcConfig={"subnetIds": [UNKNOWN_STRING_VALUE]})
    assert violations("lambda-in-vpc", preview) == []
    # And the allowed names are policy config
    assert violations("lambda-in-vpc", function("batch-dev"), outsideVpcFunctions=["batch"]) == []


# --- no-database-access-outside-vpc --------------------------------------------------------------------


def _outside(*statements: dict[str, Any], sources: tuple[Any, ...] = ()) -> list[ResourceRecord]:
    execution = role("sefaz-role")
    fn = lambda_of("sefaz-autorizador-dev", execution)
    return [execution, fn, role_policy("sefaz-policy", execution, *statements, sources=sources)]


def test_a_function_outside_the_vpc_without_a_database_grant_passes() -> None:
    stack = _outside(allow(["secretsmanager:GetSecretValue"], [CERTIFICATE_ARN]))
    # And a function in the VPC may connect (that is what the private subnets are for)
    inside_role = role("api-role")
    inside = [
        inside_role,
        lambda_of("estoque-api-dev", inside_role, **VPC),
        role_policy(
            "api-policy", inside_role, allow(["rds-db:connect"], ["arn:aws:rds-db:...:dbuser:db-X/estoque_app"])
        ),
    ]
    assert violations("no-database-access-outside-vpc", *stack, *inside) == []


def test_a_database_grant_to_a_function_outside_the_vpc_is_reported() -> None:
    grant = allow(["rds-db:connect"], ["arn:aws:rds-db:us-east-1:123456789012:dbuser:db-X/faturamento_app"])
    message = only(violations("no-database-access-outside-vpc", *_outside(grant)))
    assert message.startswith(
        "sefaz-policy (policy, Statement[0]) grants rds-db:connect to the role of sefaz-autorizador-dev"
    )
    # A wildcard that covers it is a grant too, and so is a NotAction that leaves it out
    assert violations("no-database-access-outside-vpc", *_outside(allow(["rds-db:*"], ["*"])))
    not_action = {"Effect": "Allow", "NotAction": ["s3:*"], "Resource": ["*"]}
    assert violations("no-database-access-outside-vpc", *_outside(not_action))
    # Denying it grants nothing
    assert violations("no-database-access-outside-vpc", *_outside({**grant, "Effect": "Deny"})) == []


def test_a_database_grant_in_an_attached_managed_policy_or_inline_policy_is_reported() -> None:
    execution = role("sefaz-role")
    fn = lambda_of("sefaz-autorizador-dev", execution)
    managed = resource(
        MANAGED_POLICY, "db-access", {"policy": json.dumps({"Statement": [allow(["rds-db:connect"], ["*"])]})}
    )
    managed.state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:policy/db-access"
    attachment = resource(ATTACHMENT, "attach", {"role": "sefaz-role", "policyArn": managed.state["arn"]})
    attachment.options["propertyDependencies"] = {"role": [execution.urn], "policyArn": [managed.urn]}
    assert "db-access (policy, Statement[0])" in only(
        violations("no-database-access-outside-vpc", execution, fn, managed, attachment)
    )
    inline = role("inline-role")
    inline.inputs["inlinePolicies"] = inline.state["inlinePolicies"] = [
        {"name": "db", "policy": json.dumps({"Statement": [allow(["rds-db:connect"], ["*"])]})}
    ]
    assert "inline policy db" in only(
        violations("no-database-access-outside-vpc", inline, lambda_of("sefaz-autorizador-dev", inline))
    )


def test_at_preview_a_document_built_from_the_database_is_refused_and_one_that_is_not_passes() -> None:
    # Given role policies whose documents are unknown (they embed ARNs that do not exist yet)
    database = resource(INSTANCE, "database-instance", {"engine": "postgres"})
    secret = certificate()
    from_database = _outside(sources=(database,))
    unknown(from_database[2], "policy")
    from_secret = _outside(sources=(secret,))
    unknown(from_secret[2], "policy")
    # Then the one whose value came from the database may grant a connection: refused; the other passes
    assert "built from the database (database-instance)" in only(
        violations("no-database-access-outside-vpc", database, *from_database)
    )
    assert violations("no-database-access-outside-vpc", secret, *from_secret) == []


# --- sefaz-certificate-readers --------------------------------------------------------------------------


def _readers(reader_name: str = "sefaz-autorizador-dev") -> tuple[ResourceRecord, list[ResourceRecord]]:
    secret = certificate()
    execution = role("sefaz-role")
    fn = lambda_of(reader_name, execution)
    grant = role_policy("sefaz-policy", execution, allow(["secretsmanager:GetSecretValue"], [CERTIFICATE_ARN]))
    return secret, [secret, execution, fn, grant]


def test_the_sefaz_function_may_read_its_certificate() -> None:
    _, stack = _readers()
    assert violations("sefaz-certificate-readers", *stack) == []
    # And a secret resource policy that only denies passes too
    deny = {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    policy = resource(
        SECRET_POLICY, "cert-policy", {"secretArn": CERTIFICATE_ARN, "policy": json.dumps({"Statement": [deny]})}
    )
    policy.options["propertyDependencies"] = {"secretArn": [stack[0].urn]}
    assert violations("sefaz-certificate-readers", *stack, policy) == []


def test_any_other_role_granted_the_certificate_is_reported() -> None:
    secret, stack = _readers()
    other = role("api-role")
    api = lambda_of("faturamento-api-dev", other, **VPC)
    grant = role_policy("api-policy", other, allow(["secretsmanager:GetSecretValue"], [CERTIFICATE_ARN]))
    message = only(violations("sefaz-certificate-readers", *stack, other, api, grant))
    assert message.startswith(
        "api-policy (policy, Statement[0]) grants secretsmanager:GetSecretValue on the SEFAZ certificate's secret "
        "sefaz-certificate to api-role"
    )
    # By wildcard action or resource as well
    wide = role_policy("wide", other, allow(["secretsmanager:Get*"], ["arn:aws:secretsmanager:*:*:secret:nfe-*"]))
    assert "wide (policy, Statement[0])" in only(violations("sefaz-certificate-readers", *stack, other, wide))
    # A function merely named like the reader is not it
    _, impostor = _readers("sefaz-autorizador-copy-dev")
    assert violations("sefaz-certificate-readers", *impostor)
    # Another secret is none of this policy's business
    elsewhere = allow(
        ["secretsmanager:GetSecretValue"], [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:rds!db-1"]
    )
    assert violations("sefaz-certificate-readers", secret, other, role_policy("db", other, elsewhere)) == []


def test_a_managed_policy_or_a_resource_policy_granting_the_certificate_is_reported() -> None:
    secret, stack = _readers()
    managed = resource(
        MANAGED_POLICY,
        "readers",
        {"policy": json.dumps({"Statement": [allow(["secretsmanager:GetSecretValue"], [CERTIFICATE_ARN])]})},
    )
    assert "to whoever readers is attached to" in only(violations("sefaz-certificate-readers", *stack, managed))
    grant = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    policy = resource(
        SECRET_POLICY, "cert-policy", {"secretArn": CERTIFICATE_ARN, "policy": json.dumps({"Statement": [grant]})}
    )
    policy.options["propertyDependencies"] = {"secretArn": [secret.urn]}
    assert "in its resource policy" in only(violations("sefaz-certificate-readers", *stack, policy))


def test_the_certificate_is_found_by_its_name_prefix_too_and_at_preview_by_the_graph() -> None:
    # Given the secret without its tag, found by its name; and another role granted it
    untagged = certificate(tags={})
    other = role("api-role")
    grant = role_policy("api-policy", other, allow(["secretsmanager:GetSecretValue"], [CERTIFICATE_ARN]))
    assert violations("sefaz-certificate-readers", untagged, other, grant)
    # At preview the ARN and the documents are unknown: a document whose value came from the secret grants it
    secret = unknown(certificate(), "arn")
    execution = role("sefaz-role")
    reader = role_policy("sefaz-policy", execution, sources=(secret,))
    stranger = role_policy("api-policy", other, sources=(secret,))
    for record in (reader, stranger):
        unknown(record, "policy")
    fn = lambda_of("sefaz-autorizador-dev", execution)
    stack = [secret, execution, fn, reader, other]
    assert violations("sefaz-certificate-readers", *stack) == []
    message = only(violations("sefaz-certificate-readers", *stack, stranger))
    assert "(unknown until apply)" in message and "to api-role" in message


def test_the_pack_recognises_the_certificate_and_the_function_as_the_program_names_them() -> None:
    # Given the pack's own copies (it imports nothing of the program) and the program's
    from nfe_policies import isolation

    from components import sefaz_participant
    from nfe import topology

    # Then they are the same: a renamed function or secret fails here, not silently in the pack
    assert sefaz_participant.certificate_tags() == isolation.CERTIFICATE_TAG
    assert isolation.DEFAULT_CERTIFICATE_NAME_PREFIXES == [sefaz_participant.CERTIFICATE_NAME_PREFIX]
    assert isolation.DEFAULT_CERTIFICATE_READERS == [sefaz_participant.FUNCTION_NAME]
    assert [f.name for f in topology.FUNCTIONS if not f.in_vpc] == isolation.DEFAULT_OUTSIDE_VPC_FUNCTIONS


def test_function_and_role_fixtures_are_what_the_policies_read() -> None:
    # (guards the helpers above: a function's role is found through the graph, as the engine sends it)
    execution = role("r")
    fn = lambda_of("f", execution)
    assert fn.type == FUNCTION and fn.options["propertyDependencies"] == {"role": [execution.urn]}
