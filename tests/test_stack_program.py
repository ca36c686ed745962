"""The program's edges: bad config stops it, prod refuses to deploy without the CA bundle, a real run
packages the artifacts it deploys, optional config adds what it names, and `nfe plan` shows it all."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest

from nfe import build
from nfe.cli import main
from nfe.mockrun import ProgramError, run_program
from nfe.plan import plan
from tests.test_build import PROXY_TEST_CA, RDS_TEST_CA, SEFAZ_TEST_CA, write_test_ca_bundle

ROOT = Path(__file__).resolve().parents[1]


def database_config(**overrides: object) -> dict[str, str]:
    """Prod's `nfe:database` object with some keys replaced, as the engine hands it to the program."""
    values: dict[str, object] = {
        "engineVersion": "16",
        "multiAz": True,
        "deletionProtection": True,
        "proxy": True,
        **overrides,
    }
    return {"nfe:database": json.dumps({k: v for k, v in values.items() if v is not None})}


def test_bad_config_stops_the_program_with_the_key_named() -> None:
    # Given a stack whose backup retention is below the minimum
    # When the program runs / Then it stops, naming the key and the allowed range
    with pytest.raises(ProgramError, match=r"nfe:database\.backupRetentionDays must be between 7 and 35, got 3"):
        plan("dev", config={"nfe:database": json.dumps({"backupRetentionDays": 3})})


def test_plan_command_exits_2_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stack that has no stack file / When `nfe plan` runs / Then it exits 2 and says why
    assert main(["plan", "--stack", "nosuchstack"]) == 2
    assert "no stack file" in capsys.readouterr().err


def test_prod_refuses_to_deploy_without_the_bundle_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given a real (not offline) run of prod whose configured CA bundle does not exist
    monkeypatch.delenv(build.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(build.BUILD_DIR_ENV, str(tmp_path / "build"))
    missing = tmp_path / "rds-global-bundle.pem"
    # When the program runs / Then it refuses before packaging anything, saying where to get the file
    with pytest.raises(ProgramError, match=r"caBundlePath .*rds-global-bundle\.pem: no such file; download"):
        run_program(ROOT, "prod", database_config(caBundlePath=str(missing)))
    assert not (tmp_path / "build").exists()


def test_prod_refuses_a_bundle_that_cannot_verify_its_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given prod (behind RDS Proxy) with a bundle of RDS CAs only
    monkeypatch.delenv(build.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(build.BUILD_DIR_ENV, str(tmp_path / "build"))
    bundle = write_test_ca_bundle(tmp_path / "rds-only.pem", RDS_TEST_CA)
    # When the program runs / Then it refuses: every connection through the proxy would fail verify-full
    with pytest.raises(ProgramError, match=r"has no 'Amazon Root CA \.\.\.' certificate"):
        run_program(ROOT, "prod", database_config(caBundlePath=str(bundle)))


def test_prod_without_a_configured_bundle_is_refused_even_offline() -> None:
    with pytest.raises(ProgramError, match=r"prod requires nfe:database\.caBundlePath"):
        plan("prod", config=database_config(caBundlePath=None))


def sefaz_config(**values: object) -> dict[str, str]:
    """`nfe:sefaz` as the engine hands it to the program."""
    return {"nfe:sefaz": json.dumps({k: v for k, v in values.items() if v is not None})}


def test_a_real_run_packages_what_it_deploys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given prod with generated test bundles (RDS and SEFAZ), run as `pulumi up` would (not offline)
    monkeypatch.delenv(build.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(build.BUILD_DIR_ENV, str(tmp_path / "build"))
    bundle = write_test_ca_bundle(tmp_path / "test-ca-bundle.pem", RDS_TEST_CA, PROXY_TEST_CA)
    sefaz_bundle = write_test_ca_bundle(tmp_path / "sefaz-ca-bundle.pem", SEFAZ_TEST_CA)
    # When the program runs
    config = database_config(caBundlePath=str(bundle)) | sefaz_config(caBundlePath=str(sefaz_bundle))
    result = run_program(ROOT, "prod", config)
    # Then every function's code is a zip it built, the migrator's with sql/ and the bundle inside
    functions = {r.inputs["name"]: r.inputs for r in result.of_type("aws:lambda/function:Function")}
    for inputs in functions.values():
        path = Path(inputs["code"]["path"])
        assert path.parent == tmp_path / "build" / "functions" and path.is_file()
    migrator = Path(functions["db-migrator-prod"]["code"]["path"])
    with zipfile.ZipFile(migrator) as archive:
        assert archive.read(build.CA_BUNDLE_ARCHIVE_PATH) == bundle.read_bytes()
        assert "sql/V001__schemas_and_tables.sql" in archive.namelist()
        assert build.SEFAZ_CA_BUNDLE_ARCHIVE_PATH not in archive.namelist()
    # And the SEFAZ bundle is in the SEFAZ function's zip alone, which has no RDS bundle (no database)
    sefaz = functions["sefaz-autorizador-prod"]
    with zipfile.ZipFile(sefaz["code"]["path"]) as archive:
        assert archive.read(build.SEFAZ_CA_BUNDLE_ARCHIVE_PATH) == sefaz_bundle.read_bytes()
        assert build.CA_BUNDLE_ARCHIVE_PATH not in archive.namelist()
    assert sefaz["environment"]["variables"]["SEFAZ_CA_BUNDLE"] == build.SEFAZ_CA_BUNDLE_RUNTIME_PATH
    (layer_record,) = result.of_type("aws:lambda/layerVersion:LayerVersion")
    layer = Path(layer_record.inputs["code"]["path"])
    assert layer.parent == tmp_path / "build" / "layer" and layer.is_file()


def test_produção_refuses_to_deploy_without_the_sefaz_bundle_even_offline() -> None:
    # Given prod (its emitente in produção, ambiente 1) without nfe:sefaz.caBundlePath
    # When the program runs, even as an offline plan / Then it refuses, naming the key
    with pytest.raises(ProgramError, match=r"ambiente is 1 \(produção\): nfe:sefaz\.caBundlePath is required"):
        plan("prod", config=sefaz_config(pendingAlarmMinutes=15))


def test_a_real_run_refuses_a_missing_or_empty_sefaz_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(build.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(build.BUILD_DIR_ENV, str(tmp_path / "build"))
    bundle = write_test_ca_bundle(tmp_path / "rds.pem", RDS_TEST_CA, PROXY_TEST_CA)
    database = database_config(caBundlePath=str(bundle))
    # Given a configured SEFAZ bundle that does not exist, then one that holds no certificate
    with pytest.raises(ProgramError, match=r"nfe:sefaz\.caBundlePath .*missing\.pem: no such file"):
        run_program(ROOT, "prod", database | sefaz_config(caBundlePath=str(tmp_path / "missing.pem")))
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate")
    with pytest.raises(ProgramError, match=r"nfe:sefaz\.caBundlePath .*not a PEM certificate bundle"):
        run_program(ROOT, "prod", database | sefaz_config(caBundlePath=str(empty)))
    # Then nothing was built
    assert not (tmp_path / "build").exists()


def test_homologação_without_the_sefaz_bundle_deploys_and_says_the_function_will_not_connect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given dev (homologação) without nfe:sefaz.caBundlePath / When planned
    with caplog.at_level(logging.WARNING):
        result = plan("dev")
    # Then it deploys, warning, and the function gets no SEFAZ_CA_BUNDLE (it refuses to connect without one)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "SEFAZ's servers cannot be verified, so the SEFAZ function will refuse to connect" in w for w in warnings
    )
    (sefaz,) = [
        f for f in result.of_type("aws:lambda/function:Function") if f.inputs["name"] == "sefaz-autorizador-dev"
    ]
    assert "SEFAZ_CA_BUNDLE" not in sefaz.inputs["environment"]["variables"]


def test_the_pending_alarm_follows_its_config() -> None:
    # Given dev with a 30-minute pending threshold / When planned
    result = plan("dev", config=sefaz_config(pendingAlarmMinutes=30))
    # Then the alarm fires on a wait over 30 minutes, and the dashboard draws that line
    (alarm,) = [
        a
        for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == "EsperaAutorizacao"
    ]
    assert alarm.inputs["threshold"] == 1800
    (dashboard,) = result.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert '"label":"pending alarm","value":1800' in dashboard.inputs["dashboardBody"]
    # And a threshold below 5 minutes is refused, naming the key
    with pytest.raises(ProgramError, match=r"nfe:sefaz\.pendingAlarmMinutes must be between 5 and 720, got 2"):
        plan("dev", config=sefaz_config(pendingAlarmMinutes=2))


def test_custom_domain_and_admin_entries_when_configured() -> None:
    # Given dev with a custom domain and two administrator CIDRs
    api = {"customDomain": "api.nfe.example.com", "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}
    network = {
        "vpcCidr": "10.20.0.0/16",
        "availabilityZoneIds": ["use1-az1", "use1-az2"],
        "adminPrefixListEntries": ["203.0.113.0/24", "198.51.100.7/32"],
    }
    # When the program runs
    result = plan("dev", config={"nfe:api": json.dumps(api), "nfe:network": json.dumps(network)})
    # Then the domain maps to the stage, and the prefix list holds exactly those entries
    (domain,) = result.of_type("aws:apigateway/domainName:DomainName")
    assert domain.inputs["domainName"] == "api.nfe.example.com"
    assert domain.inputs["regionalCertificateArn"] == api["certificateArn"]
    (mapping,) = result.of_type("aws:apigateway/basePathMapping:BasePathMapping")
    assert mapping.inputs["stageName"] == "dev"
    (prefix_list,) = result.of_type("aws:ec2/managedPrefixList:ManagedPrefixList")
    assert [e["cidr"] for e in prefix_list.inputs["entries"]] == network["adminPrefixListEntries"]
    assert prefix_list.inputs["maxEntries"] == 2


def test_plan_command_prints_a_tree_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    # When `nfe plan` runs for dev, as text and as JSON
    assert main(["plan", "--stack", "dev"]) == 0
    tree = capsys.readouterr().out
    assert main(["plan", "--stack", "dev", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # Then the JSON lists every resource with engine property names, and the tree counts the same
    assert document["stack"] == "dev"
    resources = document["resources"]
    assert all(set(r) == {"urn", "type", "name", "parent", "inputs", "dependsOn"} for r in resources)
    function = next(
        r for r in resources if r["type"] == "aws:lambda/function:Function" and r["name"] == "faturamento-api-fn"
    )
    assert function["inputs"]["reservedConcurrentExecutions"] == 10
    assert function["inputs"]["code"]["path"].endswith(".zip")
    custom = [r for r in resources if not r["type"].startswith("nfe:index:")]
    assert f"nfe-dev: {len(custom)} resources in 11 components" in tree
    assert "nfe:index:SagaService faturamento" in tree and "nfe:index:SecureDatabase database" in tree
    assert "nfe:index:SefazParticipant sefaz (22 resources)" in tree
    assert tree.strip().splitlines()[-1].split() == ["total", str(len(custom))]


EXISTING_VPC_PROGRAM = """
from components.database import SecureDatabase, SecureDatabaseArgs
from components.lambdas import LambdaRuntime

runtime = LambdaRuntime(
    environment="test",
    code_paths={"db-migrator": "migrator.zip"},
    layer_arns=["arn:aws:lambda:us-east-1:123456789012:layer:deps:1"],
    memory_mb=512,
    api_timeout_seconds=25,
    consumer_timeout_seconds=15,
    reserved_concurrency=10,
    log_retention_days=7,
    db_sslmode="require",
    db_sslrootcert=None,
)
SecureDatabase(
    "database",
    SecureDatabaseArgs(
        environment="test", region="us-east-1", engine_version="17", instance_class="db.t4g.micro",
        allocated_storage_gb=20, storage_type="gp3", multi_az=False, backup_retention_days=7,
        deletion_protection=False, final_snapshot=False, proxy=False, vpc_cidr="10.9.0.0/16",
        availability_zone_ids=["use1-az1", "use1-az2"], endpoint_azs=1, admin_prefix_list_entries=[],
        xray_endpoint=False,
        log_retention_days=7, proxy_borrow_timeout_seconds=10, runtime=runtime, sql_checksum="abc",
        alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:alarms",
        vpc_id="vpc-0given", subnet_ids=["subnet-given-a", "subnet-given-b"],
    ),
)
"""


def test_secure_database_in_given_subnets_creates_no_network(tmp_path: Path) -> None:
    # Given a program that hands SecureDatabase an existing VPC and two private subnets
    (tmp_path / "Pulumi.yaml").write_text("name: existing-vpc\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(EXISTING_VPC_PROGRAM)
    # When it runs under mocks
    result = run_program(tmp_path, "test", {"aws:region": "us-east-1"})
    # Then no VPC or subnet is created and everything lands in the given ones
    types = {r.type for r in result.resources}
    assert not types & {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"}
    assert {g.inputs["vpcId"] for g in result.of_type("aws:ec2/securityGroup:SecurityGroup")} == {"vpc-0given"}
    (subnet_group,) = result.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert subnet_group.inputs["subnetIds"] == ["subnet-given-a", "subnet-given-b"]
    assert all(e.inputs["subnetIds"] == ["subnet-given-a"] for e in result.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"))
    (params,) = result.of_type("aws:rds/parameterGroup:ParameterGroup")
    assert params.inputs["family"] == "postgres17"
