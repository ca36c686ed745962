"""Lambda packaging: one zip per function and one dependency layer for arm64 / CPython 3.13.

Zips are reproducible: entries are sorted, every timestamp is 1980-01-01 and every mode fixed, so
the same sources give byte-identical files and Pulumi sees an unchanged function as unchanged.

- A function zip holds `functions/__init__.py`, `functions/shared/` and the function's own package
  (`functions/faturamento/`, ...) with the packages it imports (`functions/fiscal/`), plus `sql/`
  for the migrator, the RDS CA bundle at `certs/rds-ca-bundle.pem` in the functions that connect to
  the database when the stack configures one, and the SEFAZ CA bundle at `certs/sefaz-ca-bundle.pem`
  in the SEFAZ participant's alone. A change to one service's code does not redeploy the other service.
- The layer holds the wheels of psycopg[binary], pydantic, pydantic-settings,
  aws-lambda-powertools[tracer] and the NF-e's libraries (nfelib, xsdata, lxml, signxml,
  erpbrasil.assinatura, BrazilFiscalReport) for manylinux aarch64 / cp313 (`pip download --only-binary=:all:`),
  at the versions pinned in pyproject.toml; their dependencies are constrained to the versions
  installed in this venv, so Lambda runs what the tests ran. Packages the Lambda runtime already
  ships (boto3, botocore, ...) are left out. Wheels are cached under build/cache/.

Artifacts go to build/ (or $NFE_BUILD_DIR). The Pulumi program calls `build_all` on every real run
(function zips are cheap to rebuild; the layer is built only when missing) and only computes the
paths under mocks with NFE_OFFLINE_PLAN=1.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nfe import topology

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = PROJECT_ROOT / "build"
# Downloaded wheels stay here whatever the output folder, so a build elsewhere does not refetch.
WHEEL_CACHE_DIR = BUILD_DIR / "cache"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
SQL_DIR = PROJECT_ROOT / "sql"

# The layer's top-level requirements; their versions come from pyproject.toml, not from here.
# The NF-e's libraries (the bindings and official schemas, lxml, the signing stack, the DANFE's)
# are imported only by the code that uses them, on first use, so the other functions pay for
# them in layer size alone, never at init (tests/test_containers.py).
LAYER_REQUIREMENTS = (
    "psycopg",
    "pydantic",
    "pydantic-settings",
    "aws-lambda-powertools",
    "nfelib",
    "xsdata",
    "lxml",
    "signxml",
    "erpbrasil.assinatura",
    "BrazilFiscalReport",
)
# Packages under functions/ a service's code imports besides its own and shared/: the fiscal core
# (identifiers for Estoque's produtos; the model, chave, XML and DANFE for Faturamento).
SERVICE_PACKAGES: dict[str, tuple[str, ...]] = {
    "faturamento": ("fiscal",),
    "estoque": ("fiscal",),
    "sefaz": ("fiscal",),
}
LAMBDA_PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any of these manylinux tags loads.
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
# Shipped by the Lambda Python runtime; aws-xray-sdk would otherwise pull ~100 MB of botocore in.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"})

CA_BUNDLE_ARCHIVE_PATH = "certs/rds-ca-bundle.pem"
CA_BUNDLE_RUNTIME_PATH = f"/var/task/{CA_BUNDLE_ARCHIVE_PATH}"
# The CAs the SEFAZ participant verifies SEFAZ's servers with (nfe:sefaz.caBundlePath).
SEFAZ_CA_BUNDLE_ARCHIVE_PATH = "certs/sefaz-ca-bundle.pem"
SEFAZ_CA_BUNDLE_RUNTIME_PATH = f"/var/task/{SEFAZ_CA_BUNDLE_ARCHIVE_PATH}"
# Lambda's limit on a function's unzipped code plus all its layers.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
OFFLINE_ENV = "NFE_OFFLINE_PLAN"
# Where `nfe build` and the program put the artifacts; default build/.
BUILD_DIR_ENV = "NFE_BUILD_DIR"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_EXEC_MODE = 0o100755 << 16


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifacts:
    functions: dict[str, Path]  # topology function name -> zip
    layer: Path


def is_offline() -> bool:
    """`NFE_OFFLINE_PLAN=1`: the program runs under mocks (nfe plan, policy, cost): build nothing."""
    return os.environ.get(OFFLINE_ENV, "") == "1"


def output_dir(build_dir: Path | None = None) -> Path:
    if build_dir is not None:
        return build_dir
    configured = os.environ.get(BUILD_DIR_ENV)
    return Path(configured) if configured else BUILD_DIR


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The layer's requirements with their extras and pins, exactly as pyproject.toml states them."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    by_name = {_normalize(re.split(r"[\[=<>~!; ]", dep, maxsplit=1)[0]): dep for dep in dependencies}
    missing = [name for name in LAYER_REQUIREMENTS if _normalize(name) not in by_name]
    if missing:
        raise BuildError(f"pyproject.toml does not pin {missing}")
    requirements = [by_name[_normalize(name)] for name in LAYER_REQUIREMENTS]
    unpinned = [r for r in requirements if "==" not in r]
    if unpinned:
        raise BuildError(f"layer requirements must be pinned with ==: {unpinned}")
    return requirements


def _requirement_parts(requirement: str) -> tuple[str, set[str], str]:
    """Name, extras and marker of a requirement string such as `psycopg[binary]==3.3.9; extra == "x"`."""
    spec, _, marker = requirement.partition(";")
    match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", spec)
    if not match:
        raise BuildError(f"cannot read requirement {requirement!r}")
    extras = {_normalize(e) for e in (match.group(2) or "").split(",") if e.strip()}
    return _normalize(match.group(1)), extras, marker


def installed_constraints(requirements: list[str] | None = None) -> list[str]:
    """`name==version`, as installed in this venv, for the layer's whole dependency tree.

    Markers other than extras are not evaluated (this venv may run another Python than Lambda), so
    the tree is a superset; constraints on packages pip does not need are ignored by pip.
    """
    pending = [_requirement_parts(r)[:2] for r in (requirements or pinned_requirements())]
    seen: dict[str, str] = {}
    while pending:
        name, extras = pending.pop()
        if name in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        seen[name] = dist.version
        for requirement in dist.requires or []:
            child, child_extras, marker = _requirement_parts(requirement)
            wanted = re.findall(r"extra\s*==\s*[\"']([^\"']+)[\"']", marker)
            if wanted and not {_normalize(w) for w in wanted} & extras:
                continue
            pending.append((child, child_extras))
    return [f"{name}=={seen[name]}" for name in sorted(seen)]


def layer_key(requirements: list[str], constraints: list[str]) -> str:
    text = json.dumps(
        {
            "requirements": requirements,
            "constraints": constraints,
            "python": LAMBDA_PYTHON_VERSION,
            "platforms": LAMBDA_PLATFORMS,
            "excluded": sorted(RUNTIME_PROVIDED),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def function_zip_path(name: str, build_dir: Path | None = None) -> Path:
    return output_dir(build_dir) / "functions" / f"{name}.zip"


def layer_zip_path(build_dir: Path | None = None) -> Path:
    requirements = pinned_requirements()
    key = layer_key(requirements, installed_constraints(requirements))
    return output_dir(build_dir) / "layer" / f"deps-{key}.zip"


def artifact_paths(build_dir: Path | None = None) -> Artifacts:
    """Where the artifacts are (or will be); nothing is built."""
    return Artifacts(
        functions={f.name: function_zip_path(f.name, build_dir) for f in topology.FUNCTIONS},
        layer=layer_zip_path(build_dir),
    )


# -- deterministic zips ------------------------------------------------------------------------------


def write_zip(entries: Iterable[tuple[str, bytes]], destination: Path, executable: Iterable[str] = ()) -> Path:
    """Write a zip whose bytes depend only on the entries' names and contents."""
    executables = set(executable)
    ordered = sorted(entries, key=lambda e: e[0])
    names = [name for name, _ in ordered]
    if len(set(names)) != len(names):
        raise BuildError(f"duplicate entries in {destination.name}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in ordered:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _EXEC_MODE if name in executables else _FILE_MODE
            info.create_system = 3  # unix, so the modes above are honoured
            archive.writestr(info, data)
    # Write atomically: another process (a test, `pulumi up`) may be reading the previous zip.
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(buffer.getvalue())
    os.replace(tmp.name, destination)
    return destination


def _tree(root: Path, archive_prefix: str) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        yield f"{archive_prefix}/{relative.as_posix()}", path.read_bytes()


def function_package(spec: topology.Function) -> str:
    """The package under functions/ that holds the handler: `functions.<package>.handlers...`."""
    parts = spec.handler.split(".")
    if len(parts) < 3 or parts[0] != "functions":
        raise BuildError(f"{spec.name}: handler {spec.handler!r} is not functions.<package>.<module>.<attr>")
    return parts[1]


def connects_to_database(spec: topology.Function) -> bool:
    """The functions that log in to PostgreSQL: a role of their own, or the migrator's master user."""
    return spec.database_role is not None or spec.kind == "migrator"


def talks_to_sefaz(spec: topology.Function) -> bool:
    return spec.service == "sefaz"


def function_entries(
    spec: topology.Function,
    ca_bundle: Path | None = None,
    source_root: Path = PROJECT_ROOT,
    sefaz_ca_bundle: Path | None = None,
) -> list[tuple[str, bytes]]:
    """The zip's entries. Each CA bundle goes only where it is used: the RDS one to the functions that
    connect to the database, the SEFAZ one to the SEFAZ participant, which has no database."""
    functions_dir = source_root / "functions"
    package = function_package(spec)
    entries = [("functions/__init__.py", (functions_dir / "__init__.py").read_bytes())]
    entries += _tree(functions_dir / "shared", "functions/shared")
    if package != "shared":
        package_dir = functions_dir / package
        if not package_dir.is_dir():
            raise BuildError(f"{spec.name}: {package_dir.relative_to(source_root)} does not exist")
        entries += _tree(package_dir, f"functions/{package}")
        for extra in SERVICE_PACKAGES.get(package, ()):
            entries += _tree(functions_dir / extra, f"functions/{extra}")
    if spec.kind == "migrator":
        entries += _tree(source_root / "sql", "sql")
    if ca_bundle is not None and connects_to_database(spec):
        entries.append((CA_BUNDLE_ARCHIVE_PATH, ca_bundle.read_bytes()))
    if sefaz_ca_bundle is not None and talks_to_sefaz(spec):
        entries.append((SEFAZ_CA_BUNDLE_ARCHIVE_PATH, sefaz_ca_bundle.read_bytes()))
    return entries


def build_function(
    spec: topology.Function,
    ca_bundle: Path | None = None,
    build_dir: Path | None = None,
    source_root: Path = PROJECT_ROOT,
    sefaz_ca_bundle: Path | None = None,
) -> Path:
    entries = function_entries(spec, ca_bundle, source_root, sefaz_ca_bundle)
    return write_zip(entries, function_zip_path(spec.name, build_dir))


# -- dependency layer ----------------------------------------------------------------------------------


def _pip_download(requirements: list[str], constraints: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(constraints) + "\n")
        constraints_file = handle.name
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        *[arg for platform in LAMBDA_PLATFORMS for arg in ("--platform", platform)],
        "--constraint",
        constraints_file,
        *requirements,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        os.unlink(constraints_file)
    if result.returncode != 0:
        raise BuildError(f"pip download failed ({result.returncode}):\n{result.stderr.strip()}")


def _wheel_name(wheel: Path) -> str:
    return _normalize(wheel.name.split("-")[0])


def layer_entries(wheels: Iterable[Path]) -> tuple[list[tuple[str, bytes]], set[str]]:
    """Unpack wheels under `python/` (the layer path Lambda puts on sys.path), as pip would install them."""
    entries: dict[str, bytes] = {}
    executables: set[str] = set()
    for wheel in sorted(wheels):
        if _wheel_name(wheel) in RUNTIME_PROVIDED:
            continue
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                data_dir, sep, rest = name.partition(".data/")
                if sep and "/" not in data_dir:
                    scheme, _, inner = rest.partition("/")
                    if scheme not in ("purelib", "platlib"):
                        continue  # scripts and headers are not importable code
                    name = inner
                target = f"python/{name}"
                entries[target] = archive.read(info)
                if (info.external_attr >> 16) & 0o111 or ".so" in Path(name).suffixes:
                    executables.add(target)
    return sorted(entries.items()), executables


def build_layer(build_dir: Path | None = None, cache_dir: Path = WHEEL_CACHE_DIR) -> Path:
    """Download (once, cached) and pack the dependency layer; returns the zip, reused when present."""
    requirements = pinned_requirements()
    constraints = installed_constraints(requirements)
    key = layer_key(requirements, constraints)
    destination = layer_zip_path(build_dir)
    if destination.exists():
        return destination
    wheel_dir = cache_dir / f"wheels-{key}"
    complete = wheel_dir / ".complete"
    if not complete.exists():
        _pip_download(requirements, constraints, wheel_dir)
        complete.write_text("\n".join(requirements) + "\n")
    entries, executables = layer_entries(wheel_dir.glob("*.whl"))
    return write_zip(entries, destination, executables)


# -- both ----------------------------------------------------------------------------------------------


def build_all(
    ca_bundle: Path | None = None, build_dir: Path | None = None, sefaz_ca_bundle: Path | None = None
) -> Artifacts:
    """Rebuild every function zip (cheap, byte-identical when unchanged) and the layer when missing."""
    functions = {
        spec.name: build_function(spec, ca_bundle, build_dir, sefaz_ca_bundle=sefaz_ca_bundle)
        for spec in topology.FUNCTIONS
    }
    return Artifacts(functions=functions, layer=build_layer(build_dir))


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


# -- TLS to the database -------------------------------------------------------------------------------

RDS_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
FETCH_BUNDLE_HINT = (
    f"download the RDS global CA bundle ({RDS_BUNDLE_URL}) and, for stacks with an RDS Proxy, append "
    f"Amazon Root CA 1 ({AMAZON_ROOT_CA_URL}) to that file (see README, 'Deploying for real')"
)
# Who signs what: RDS instances present certificates from the RDS CAs; RDS Proxy presents an ACM
# certificate, which chains to Amazon Trust Services' roots, not to the RDS CAs.
RDS_CA_PREFIX = "Amazon RDS"
PROXY_CA_PREFIX = "Amazon Root CA"


@dataclass(frozen=True)
class TlsSettings:
    sslmode: str
    sslrootcert: str | None  # the bundle's path inside the function package
    bundle: Path | None  # the file to package; None when nothing is packaged
    notice: str | None = None  # what the program should log about its choice


def bundle_authorities(path: Path) -> list[str]:
    """Common names of the CA certificates in a PEM bundle; BuildError if it holds none."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        raise BuildError(f"{path}: not a PEM certificate bundle ({exc.reason or exc})") from None
    names = []
    for cert in context.get_ca_certs():
        # The subject is a tuple of relative names, each a tuple of (attribute, value) pairs.
        pairs: Any = [pair for rdn in cert["subject"] for pair in rdn]
        names += [str(value) for key, value in pairs if key == "commonName"]
    if not names:
        raise BuildError(f"{path}: no CA certificate in the bundle")
    return names


def tls_settings(
    environment: str, ca_bundle_path: str | None, offline: bool, via_proxy: bool = False, root: Path = PROJECT_ROOT
) -> TlsSettings:
    """Decide how functions verify the database: verify-full with the packaged bundle, or refuse.

    Prod never deploys without the bundle, and a bundle that cannot verify the server the functions
    connect to (the instance: an RDS CA; the proxy: Amazon Root CA) is refused at deploy time rather
    than failing every connection at run time. Dev without a configured bundle falls back to
    `require` (encrypted, server not verified) and says so. An offline plan (mocks) does not read
    the file, so CI and the policy and cost tools run without the real bundle.
    """
    if ca_bundle_path is None:
        if environment == "prod":
            raise BuildError(f"prod requires nfe:database.caBundlePath: {FETCH_BUNDLE_HINT}")
        return TlsSettings(
            "require",
            None,
            None,
            notice=f"{environment}: no nfe:database.caBundlePath, so functions use sslmode=require "
            "(TLS without verifying the server); set it to use verify-full",
        )
    path = Path(ca_bundle_path)
    if not path.is_absolute():
        path = root / path
    if offline:
        return TlsSettings(
            "verify-full",
            CA_BUNDLE_RUNTIME_PATH,
            None,
            notice=f"offline plan ({OFFLINE_ENV}=1): CA bundle {ca_bundle_path} not read or packaged",
        )
    if not path.is_file():
        raise BuildError(f"nfe:database.caBundlePath {ca_bundle_path}: no such file; {FETCH_BUNDLE_HINT}")
    authorities = bundle_authorities(path)
    needed = [RDS_CA_PREFIX, PROXY_CA_PREFIX] if via_proxy else [RDS_CA_PREFIX]
    missing = [prefix for prefix in needed if not any(name.startswith(prefix) for name in authorities)]
    if missing:
        raise BuildError(
            f"nfe:database.caBundlePath {ca_bundle_path} has no {' or '.join(repr(m + ' ...') for m in missing)} "
            f"certificate, so functions could not verify the database; {FETCH_BUNDLE_HINT}"
        )
    return TlsSettings("verify-full", CA_BUNDLE_RUNTIME_PATH, path)


# -- TLS to SEFAZ ----------------------------------------------------------------------------------------

SEFAZ_BUNDLE_HINT = (
    "put the CA certificates SEFAZ's servers chain to (ICP-Brasil's roots and intermediates, published by "
    "ITI) in one PEM file and set nfe:sefaz.caBundlePath to it (certs/README.md)"
)
PRODUCAO = 1  # tpAmb 1: notas with fiscal value


@dataclass(frozen=True)
class SefazTlsSettings:
    ca_bundle: str | None  # the bundle's path inside the package (SEFAZ_CA_BUNDLE); None: not packaged
    bundle: Path | None  # the file to package; None when nothing is packaged
    notice: str | None = None
    warning: bool = False  # the notice is a warning (the function will not reach SEFAZ), not information


def sefaz_tls_settings(
    ambiente: int, ca_bundle_path: str | None, offline: bool, root: Path = PROJECT_ROOT
) -> SefazTlsSettings:
    """Decide which CA bundle the SEFAZ participant trusts SEFAZ with, or refuse to deploy.

    An emitente in produção (tpAmb 1) never deploys without one: the function sends the emitente's
    signed notas and presents its A1 there, and without a bundle it would refuse every connection
    (functions/sefaz/settings.py requires one), so every nota would wait. In homologação the stack
    deploys without one and says that the function will refuse to connect. As for the RDS bundle,
    an offline plan does not read the file.
    """
    if ca_bundle_path is None:
        if ambiente == PRODUCAO:
            raise BuildError(
                "nfe:emitente.ambiente is 1 (produção): nfe:sefaz.caBundlePath is required, or the "
                f"SEFAZ function cannot verify SEFAZ's servers; {SEFAZ_BUNDLE_HINT}"
            )
        return SefazTlsSettings(
            None,
            None,
            notice="no nfe:sefaz.caBundlePath: SEFAZ's servers cannot be verified, so the SEFAZ function "
            "will refuse to connect and notas will wait (and alarm) until a bundle is deployed",
            warning=True,
        )
    path = Path(ca_bundle_path)
    if not path.is_absolute():
        path = root / path
    if offline:
        return SefazTlsSettings(
            SEFAZ_CA_BUNDLE_RUNTIME_PATH,
            None,
            notice=f"offline plan ({OFFLINE_ENV}=1): SEFAZ CA bundle {ca_bundle_path} not read or packaged",
        )
    if not path.is_file():
        raise BuildError(f"nfe:sefaz.caBundlePath {ca_bundle_path}: no such file; {SEFAZ_BUNDLE_HINT}")
    try:
        bundle_authorities(path)
    except BuildError as exc:
        raise BuildError(f"nfe:sefaz.caBundlePath {exc}; {SEFAZ_BUNDLE_HINT}") from None
    return SefazTlsSettings(SEFAZ_CA_BUNDLE_RUNTIME_PATH, path)
