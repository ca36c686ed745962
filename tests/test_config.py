"""Typed stack configuration: both stack files load; bad values stop with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfe.config import ConfigError, load_stack_file, parse, zone_id_prefix

ROOT = Path(__file__).resolve().parents[1]


def base(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {"environment": "dev", "monthlyBudgetUsd": 60}
    values.update(overrides)
    return values


def test_dev_stack_is_single_az_without_proxy() -> None:
    config = load_stack_file(ROOT / "Pulumi.dev.yaml")
    assert config.environment == "dev"
    assert config.database.multi_az is False
    assert config.database.proxy is False
    assert config.database.instance_class == "db.t4g.micro"
    assert config.database.allocated_storage_gb == 20
    assert config.network.admin_prefix_list_entries == []
    assert config.lambda_.memory_mb == 512
    assert config.lambda_.reserved_concurrency == 10
    assert config.api.throttle_rate_limit == 100 and config.api.throttle_burst_limit == 200
    # The publisher's invocations follow from its schedule (the cost review reads it), not usage.
    assert config.usage.functions["publisher"].invocations is None


def test_prod_stack_is_multi_az_with_proxy_and_deletion_protection() -> None:
    config = load_stack_file(ROOT / "Pulumi.prod.yaml")
    assert config.environment == "prod"
    assert config.database.multi_az is True
    assert config.database.deletion_protection is True
    assert config.database.proxy is True
    assert config.network.endpoint_azs == 2


def test_each_stack_configures_its_sefaz_participant() -> None:
    # prod emits in produção, which does not deploy without the SEFAZ CA bundle; dev in homologação
    prod, dev = (load_stack_file(ROOT / f"Pulumi.{name}.yaml") for name in ("prod", "dev"))
    assert prod.emitente_of().ambiente == 1 and prod.sefaz.ca_bundle_path == "certs/sefaz-ca-bundle.pem"
    assert dev.emitente_of().ambiente == 2 and dev.sefaz.ca_bundle_path is None
    assert prod.sefaz.pending_alarm_minutes == dev.sefaz.pending_alarm_minutes == 15
    # The cost review prices the SEFAZ function from usage.functions.sefaz: one invocation per nota
    for config in (prod, dev):
        assert config.usage.functions["sefaz"].invocations == config.usage.notas_per_month


def test_the_sefaz_settings_default_to_a_15_minute_alarm_and_no_bundle() -> None:
    config = parse(base())
    assert (config.sefaz.ca_bundle_path, config.sefaz.pending_alarm_minutes) == (None, 15)
    assert config.usage.functions["sefaz"].invocations == 100_000


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            base(database={"backupRetentionDays": 3}),
            "nfe:database.backupRetentionDays must be between 7 and 35, got 3",
        ),
        (
            base(database={"instanceClass": "db.r5.large"}),
            "nfe:database.instanceClass must be one of 'db.t4g.micro', 'db.t4g.small' or 'db.t4g.medium'",
        ),
        (
            base(database={"engineVersion": "13.4"}),
            "nfe:database.engineVersion must be a PostgreSQL 16 or 17",
        ),
        (
            base(network={"vpcCidr": "10.0.0.0/8"}),
            "nfe:network.vpcCidr must be an IPv4 CIDR between /16 and /24",
        ),
        (base(network={"adminPrefixListEntries": ["0.0.0.0/0"]}), "must not contain an open range"),
        (base(network={"availabilityZoneIds": ["use1-az1"]}), "at least two distinct availability zones"),
        (base(network={"availabilityZoneIds": ["use1-az1", "use1-az1"]}), "at least two distinct availability zones"),
        (
            base(network={"availabilityZoneIds": ["us-east-1a", "us-east-1b"]}),
            "nfe:network.availabilityZoneIds must hold zone IDs such as use1-az1, got 'us-east-1a'",
        ),
        (base(network={"availabilityZones": ["us-east-1a", "us-east-1b"]}), "availabilityZones is not a known"),
        (
            base(network={"availabilityZoneIds": ["use1-az1", "sae1-az2"]}),
            "network.availabilityZoneIds: 'sae1-az2' is not a zone of us-east-1 (its IDs start use1-)",
        ),
        (
            base(database={"proxy": True}, network={"availabilityZoneIds": ["use1-az1", "use1-az3"]}),
            "network.availabilityZoneIds: RDS Proxy is not available in use1-az3",
        ),
        (
            base(**{"lambda": {"apiTimeoutSeconds": 29}}),
            "nfe:lambda.apiTimeoutSeconds must be below API Gateway's 29 s integration limit",
        ),
        (
            base(**{"lambda": {"consumerTimeoutSeconds": 16}}),
            "nfe:lambda.consumerTimeoutSeconds must be at most 15: the queues' 90 s visibility timeout",
        ),
        (
            base(database={"proxy": True, "proxyBorrowTimeoutSeconds": 20}),
            "database.proxyBorrowTimeoutSeconds (20) must not exceed the shortest function timeout (15 s",
        ),
        (base(**{"lambda": {"memoryMb": 64}}), "nfe:lambda.memoryMb must be between 128 and 10240, got 64"),
        (base(api={"customDomain": "api.example.com"}), "customDomain needs certificateArn"),
        (base(monthlyBudgetUsd=0), "nfe:monthlyBudgetUsd must be more than 0, got 0"),
        (base(databse={}), "nfe:databse is not a known setting"),
        ({"monthlyBudgetUsd": 10}, "nfe:environment is required"),
        (base(environment="prod"), "database.multiAz must be true for prod"),
        (base(usage={"apiRequests": -1}), "nfe:usage.apiRequests must be at least 0, got -1"),
        (base(sefaz={"pendingAlarmMinutes": 2}), "nfe:sefaz.pendingAlarmMinutes must be between 5 and 720, got 2"),
        (base(sefaz={"caBundle": "certs/x.pem"}), "nfe:sefaz.caBundle is not a known setting"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, object], message: str) -> None:
    # Given a stack config with one bad value / When it is validated / Then the message names it
    with pytest.raises(ConfigError) as error:
        parse(values)
    assert message in str(error.value)


def test_zone_ids_are_fine_without_a_proxy_where_the_proxy_is_missing() -> None:
    # Given a stack without RDS Proxy / When it names use1-az3 / Then nothing forbids it
    config = parse(base(network={"availabilityZoneIds": ["use1-az1", "use1-az3"]}))
    assert config.network.availability_zone_ids == ["use1-az1", "use1-az3"]


def test_a_borrow_timeout_without_a_proxy_is_not_checked_against_the_functions() -> None:
    config = parse(base(database={"proxyBorrowTimeoutSeconds": 120}))
    assert config.database.proxy is False


@pytest.mark.parametrize(
    ("region", "prefix"),
    [("us-east-1", "use1"), ("sa-east-1", "sae1"), ("eu-central-1", "euc1"), ("ap-southeast-2", "apse2")],
)
def test_zone_id_prefix_follows_the_region(region: str, prefix: str) -> None:
    assert zone_id_prefix(region) == prefix


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        parse(base(database={"backupRetentionDays": 40, "allocatedStorageGb": 5}))
    assert len(error.value.problems) == 2


def test_scalar_strings_from_the_engine_are_coerced() -> None:
    # The engine hands scalars to programs as strings.
    config = parse({"environment": "dev", "monthlyBudgetUsd": "60"})
    assert config.monthly_budget_usd == 60.0


def test_the_program_requires_the_emitente_the_tools_do_not() -> None:
    # Given a stack file without nfe:emitente: the cost review and the policy tools can read it
    config = parse({"environment": "dev", "monthlyBudgetUsd": 60})
    assert config.emitente is None
    # But the program stops, naming the key
    with pytest.raises(ConfigError, match="nfe:emitente is required"):
        config.emitente_of()


def test_a_bad_emitente_names_each_bad_key() -> None:
    emitente = {
        "cnpj": "11222333000182",
        "razaoSocial": "X Ltda",
        "ie": "110042490114",
        "crt": 3,
        "endereco": {
            "logradouro": "Rua A",
            "numero": "1",
            "bairro": "Centro",
            "codigoMunicipio": "3304557",
            "municipio": "Rio",
            "uf": "SP",
            "cep": "01310100",
        },
        "serie": 900,
    }
    with pytest.raises(ConfigError) as raised:
        parse({"environment": "dev", "monthlyBudgetUsd": 60, "emitente": emitente})
    problems = "\n".join(raised.value.problems)
    for key in ("nfe:emitente.cnpj", "nfe:emitente.crt", "nfe:emitente.endereco.codigoMunicipio", "nfe:emitente.serie"):
        assert key in problems, problems
    assert "not supported yet" in problems
