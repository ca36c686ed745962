"""Packaging: the arm64 layer, one zip per function, reproducible bytes, Lambda's size limits, TLS choice.

The layer's wheels are downloaded from PyPI once and cached under build/cache/, so only the first
run on a machine fetches them.
"""

from __future__ import annotations

import ast
import datetime
import os
import re
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nfe import build, topology

ROOT = Path(__file__).resolve().parents[1]
EM_AARCH64 = 183
# Test fixtures generated on the fly, named after the CAs the checks look for; never real certificates.
RDS_TEST_CA = "Amazon RDS test-fixture Root CA"
PROXY_TEST_CA = "Amazon Root CA 1 test-fixture"
SEFAZ_TEST_CA = "AC Raiz test-fixture (standing for ICP-Brasil)"


def write_test_ca_bundle(path: Path, *common_names: str) -> Path:
    """A PEM bundle of throwaway self-signed CA certificates with the given common names."""
    now = datetime.datetime.now(datetime.UTC)
    pems = []
    for common_name in common_names:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        pems.append(certificate.public_bytes(serialization.Encoding.PEM))
    path.write_bytes(b"".join(pems))
    return path


@pytest.fixture(scope="module")
def layer() -> Path:
    return build.build_layer()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_ca_bundle(tmp_path_factory.mktemp("certs") / "test-ca-bundle.pem", RDS_TEST_CA, PROXY_TEST_CA)


@pytest.fixture(scope="module")
def function_zips(tmp_path_factory: pytest.TempPathFactory, bundle: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("build")
    return {spec.name: build.build_function(spec, bundle, out) for spec in topology.FUNCTIONS}


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[5] == 1, "not little-endian"
    return int(struct.unpack_from("<H", data, 18)[0])


def zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def test_layer_psycopg_extension_is_an_aarch64_elf(layer: Path) -> None:
    # Given the dependency layer / When its psycopg C extension is read / Then it is built for AArch64
    with zipfile.ZipFile(layer) as archive:
        extensions = [n for n in archive.namelist() if n.startswith("python/psycopg_binary/_psycopg.cpython-313")]
        assert extensions, "psycopg_binary's _psycopg extension for CPython 3.13 is missing"
        assert all(elf_machine(archive.read(n)) == EM_AARCH64 for n in extensions)


def test_every_shared_object_in_the_layer_is_aarch64(layer: Path) -> None:
    with zipfile.ZipFile(layer) as archive:
        shared = [n for n in archive.namelist() if ".so" in Path(n).suffixes]
        machines = {n: elf_machine(archive.read(n)) for n in shared}
    assert len(shared) > 5
    assert {n: m for n, m in machines.items() if m != EM_AARCH64} == {}


def test_layer_holds_the_pinned_versions_and_not_the_runtimes_boto(layer: Path) -> None:
    # Given the pins in pyproject.toml / Then the layer carries exactly those versions
    names = zip_names(layer)
    dist_infos = {
        n.split("/")[1].lower() for n in names if n.count("/") >= 2 and n.split("/")[1].endswith(".dist-info")
    }
    pins = {}
    for requirement in build.pinned_requirements():
        name, _, version = requirement.partition("==")
        pins[name.split("[")[0]] = version
    for name, version in pins.items():
        # A wheel's dist-info carries the normalized name (erpbrasil.assinatura -> erpbrasil_assinatura)
        assert f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info" in dist_infos, name
    # psycopg[binary] brings the C implementation at psycopg's own version.
    assert f"psycopg_binary-{pins['psycopg']}.dist-info" in dist_infos
    assert any(n.startswith("python/aws_xray_sdk/") for n in names), "the [tracer] extra is missing"
    assert not any(n.startswith(("python/botocore/", "python/boto3/")) for n in names)


def test_layer_pins_are_read_from_pyproject(tmp_path: Path) -> None:
    # Given a pyproject with other pins / When the layer requirements are read / Then they follow it
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["psycopg[binary]==9.9.9", "pydantic==1.0.0", '
        '"pydantic-settings==2.0.0", "aws-lambda-powertools[tracer]==3.0.0", "boto3==1.0", "nfelib==9.0", '
        '"xsdata==9.1", "lxml==9.2", "signxml==9.3", "erpbrasil.assinatura==9.4", "BrazilFiscalReport==9.5"]\n'
    )
    assert build.pinned_requirements(pyproject) == [
        "psycopg[binary]==9.9.9",
        "pydantic==1.0.0",
        "pydantic-settings==2.0.0",
        "aws-lambda-powertools[tracer]==3.0.0",
        "nfelib==9.0",
        "xsdata==9.1",
        "lxml==9.2",
        "signxml==9.3",
        "erpbrasil.assinatura==9.4",
        "BrazilFiscalReport==9.5",
    ]
    pyproject.write_text('[project]\ndependencies = ["psycopg[binary]>=3", "pydantic==1.0.0"]\n')
    with pytest.raises(build.BuildError):
        build.pinned_requirements(pyproject)


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.name)
def test_handler_string_points_at_a_function_in_its_zip(
    spec: topology.Function, function_zips: dict[str, Path]
) -> None:
    # Given the function's zip / When its handler string is resolved / Then the module defines that function
    module, _, attribute = spec.handler.rpartition(".")
    path = module.replace(".", "/") + ".py"
    with zipfile.ZipFile(function_zips[spec.name]) as archive:
        assert path in archive.namelist(), f"{spec.handler}: {path} is not in the zip"
        tree = ast.parse(archive.read(path))
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))} | {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    assert attribute in defined, f"{path} defines no {attribute}"


def _imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Imports as (module, relative level), leaving out those under `if TYPE_CHECKING:`."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda f: f.name)
def test_every_import_in_a_zip_resolves_on_lambda(
    spec: topology.Function, function_zips: dict[str, Path], layer: Path
) -> None:
    # Given the function's zip and the layer / When every import of its code is listed
    # Then each is the zip's own code, the layer's, the runtime's boto3, or the standard library
    layer_top = {n.split("/")[1] for n in zip_names(layer) if n.count("/") >= 2}
    layer_top |= {Path(n.split("/")[1]).stem.split(".")[0] for n in zip_names(layer) if n.count("/") == 1}
    available = set(sys.stdlib_module_names) | layer_top | {"boto3", "botocore", "functions", "__future__"}
    names = zip_names(function_zips[spec.name])
    problems = []
    with zipfile.ZipFile(function_zips[spec.name]) as archive:
        for name in sorted(n for n in names if n.endswith(".py")):
            for module, level in _imports(ast.parse(archive.read(name))):
                if level:
                    continue
                top = module.split(".")[0]
                if top not in available:
                    problems.append(f"{name}: {module} is in neither the zip, the layer nor the runtime")
                elif top == "functions":
                    as_path = module.replace(".", "/")
                    if f"{as_path}.py" not in names and f"{as_path}/__init__.py" not in names:
                        problems.append(f"{name}: {module} is not packaged with {spec.name}")
    assert problems == []


def test_zips_hold_their_own_code_only(function_zips: dict[str, Path], bundle: Path) -> None:
    faturamento = zip_names(function_zips["faturamento-api"])
    migrator = zip_names(function_zips["db-migrator"])
    # A change to the estoque service must not redeploy faturamento's functions.
    assert not any(n.startswith("functions/estoque/") for n in faturamento)
    assert not any(n.startswith("sql/") for n in faturamento)
    assert {f"sql/{p.name}" for p in (ROOT / "sql").glob("*.sql")} <= migrator
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in faturamento | migrator)
    with zipfile.ZipFile(function_zips["db-migrator"]) as archive:
        assert archive.read(build.CA_BUNDLE_ARCHIVE_PATH) == bundle.read_bytes()


def test_sizes_are_within_lambda_limits(function_zips: dict[str, Path], layer: Path) -> None:
    layer_size = build.unzipped_size(layer)
    for name, path in function_zips.items():
        assert build.unzipped_size(path) + layer_size < build.LAMBDA_UNZIPPED_LIMIT_BYTES, name
        # Direct uploads (no S3 bucket) are limited to 50 MB zipped.
        assert path.stat().st_size < 50 * 1024 * 1024, name
    assert layer.stat().st_size < 50 * 1024 * 1024


def test_same_sources_give_identical_bytes_whatever_the_timestamps(tmp_path: Path, bundle: Path) -> None:
    # Given a copy of the sources built once
    source = tmp_path / "src"
    for folder in ("functions", "sql"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    spec = topology.function("db-migrator")
    first = build.build_function(spec, bundle, tmp_path / "a", source_root=source).read_bytes()
    # When every file's timestamp changes and it is built again
    for path in source.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = build.build_function(spec, bundle, tmp_path / "b", source_root=source).read_bytes()
    # Then the zips are byte-identical; and a changed migration changes them
    assert first == second
    (source / "sql" / "V999__extra.sql").write_text("SELECT 1;\n")
    third = build.build_function(spec, bundle, tmp_path / "c", source_root=source).read_bytes()
    assert third != first


def test_layer_rebuilt_from_the_same_wheels_is_identical(tmp_path: Path, layer: Path) -> None:
    # Given the built layer / When it is packed again into another folder / Then the bytes are the same
    again = build.build_layer(tmp_path)
    assert again != layer
    assert again.read_bytes() == layer.read_bytes()


def test_prod_without_a_bundle_is_refused() -> None:
    with pytest.raises(build.BuildError, match=r"prod requires nfe:database\.caBundlePath"):
        build.tls_settings("prod", None, offline=False)
    # Even an offline plan refuses: the stack file itself is wrong.
    with pytest.raises(build.BuildError, match="prod requires"):
        build.tls_settings("prod", None, offline=True)


def test_a_configured_bundle_must_exist_and_hold_certificates(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="no such file"):
        build.tls_settings("prod", str(tmp_path / "missing.pem"), offline=False)
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("hello")
    with pytest.raises(build.BuildError, match="not a PEM certificate bundle"):
        build.tls_settings("prod", str(not_pem), offline=False)


def test_behind_a_proxy_the_bundle_must_also_verify_the_proxys_certificate(tmp_path: Path) -> None:
    # Given a bundle with the RDS CAs only: enough for the instance, not for RDS Proxy's ACM certificate
    rds_only = write_test_ca_bundle(tmp_path / "rds-only.pem", RDS_TEST_CA)
    assert build.tls_settings("dev", str(rds_only), offline=False).sslmode == "verify-full"
    # When the stack connects through a proxy / Then the deploy is refused, naming the missing root
    with pytest.raises(build.BuildError, match=r"has no 'Amazon Root CA \.\.\.' certificate"):
        build.tls_settings("prod", str(rds_only), offline=False, via_proxy=True)
    proxy_only = write_test_ca_bundle(tmp_path / "proxy-only.pem", PROXY_TEST_CA)
    with pytest.raises(build.BuildError, match=r"has no 'Amazon RDS \.\.\.' certificate"):
        build.tls_settings("prod", str(proxy_only), offline=False, via_proxy=True)


def test_bundle_gives_verify_full_and_offline_does_not_read_it(tmp_path: Path, bundle: Path) -> None:
    tls = build.tls_settings("prod", str(bundle), offline=False, via_proxy=True)
    assert (tls.sslmode, tls.sslrootcert, tls.bundle) == ("verify-full", build.CA_BUNDLE_RUNTIME_PATH, bundle)
    # A relative path is read from the project root, as the stack files write it.
    relative = build.tls_settings("prod", "certs/b.pem", offline=True, via_proxy=True, root=tmp_path)
    assert (relative.sslmode, relative.bundle) == ("verify-full", None)
    assert relative.notice and "offline" in relative.notice


def test_dev_without_a_bundle_falls_back_to_require_and_says_so() -> None:
    tls = build.tls_settings("dev", None, offline=False)
    assert (tls.sslmode, tls.sslrootcert, tls.bundle) == ("require", None, None)
    assert tls.notice and "sslmode=require" in tls.notice


# -- the SEFAZ participant's package and its CA bundle ---------------------------------------------------


def test_the_sefaz_zip_holds_its_package_the_fiscal_core_and_its_bundle_only(tmp_path: Path, bundle: Path) -> None:
    # Given both bundles handed to the build, as `pulumi up` does
    sefaz_bundle = write_test_ca_bundle(tmp_path / "sefaz.pem", SEFAZ_TEST_CA)
    built = {
        spec.name: build.build_function(spec, bundle, tmp_path / "out", sefaz_ca_bundle=sefaz_bundle)
        for spec in topology.FUNCTIONS
    }
    sefaz = zip_names(built["sefaz-autorizador"])
    # Then the SEFAZ function's zip has its package, the fiscal core and shared/, and no other service's
    assert "functions/sefaz/handler.py" in sefaz and "functions/fiscal/__init__.py" in sefaz
    assert "functions/shared/consumer.py" in sefaz
    assert not any(n.startswith(("functions/faturamento/", "functions/estoque/", "sql/")) for n in sefaz)
    # And each bundle goes only where it is used: SEFAZ's to it, the RDS one to what connects to the database
    for spec in topology.FUNCTIONS:
        names = zip_names(built[spec.name])
        assert (build.SEFAZ_CA_BUNDLE_ARCHIVE_PATH in names) is (spec.name == "sefaz-autorizador"), spec.name
        assert (build.CA_BUNDLE_ARCHIVE_PATH in names) is build.connects_to_database(spec), spec.name
    with zipfile.ZipFile(built["sefaz-autorizador"]) as archive:
        assert archive.read(build.SEFAZ_CA_BUNDLE_ARCHIVE_PATH) == sefaz_bundle.read_bytes()


def test_produção_without_a_sefaz_bundle_is_refused_even_offline() -> None:
    for offline in (False, True):
        with pytest.raises(build.BuildError, match=r"ambiente is 1 \(produção\): nfe:sefaz\.caBundlePath is required"):
            build.sefaz_tls_settings(1, None, offline=offline)


def test_homologação_without_a_sefaz_bundle_deploys_with_a_warning() -> None:
    tls = build.sefaz_tls_settings(2, None, offline=False)
    assert (tls.ca_bundle, tls.bundle, tls.warning) == (None, None, True)
    assert tls.notice and "will refuse to connect" in tls.notice


def test_a_sefaz_bundle_must_exist_and_hold_certificates_and_offline_does_not_read_it(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match=r"nfe:sefaz\.caBundlePath .*: no such file"):
        build.sefaz_tls_settings(1, str(tmp_path / "missing.pem"), offline=False)
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("hello")
    with pytest.raises(build.BuildError, match=r"nfe:sefaz\.caBundlePath .*not a PEM certificate bundle"):
        build.sefaz_tls_settings(2, str(not_pem), offline=False)
    good = write_test_ca_bundle(tmp_path / "sefaz.pem", SEFAZ_TEST_CA)
    tls = build.sefaz_tls_settings(1, str(good), offline=False)
    assert (tls.ca_bundle, tls.bundle, tls.warning) == (build.SEFAZ_CA_BUNDLE_RUNTIME_PATH, good, False)
    # A relative path is read from the project root; an offline plan neither reads nor packages it
    offline = build.sefaz_tls_settings(1, "certs/absent.pem", offline=True, root=tmp_path)
    assert (offline.ca_bundle, offline.bundle) == (build.SEFAZ_CA_BUNDLE_RUNTIME_PATH, None)
    assert offline.notice and "offline" in offline.notice
