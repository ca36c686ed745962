"""Run the CrossGuard policy pack offline, the way `pulumi preview --policy-pack` would run it.

The Pulumi program runs under Pulumi's mocks (`nfe.plan`, offline: nothing is packaged), then every
resource goes to every resource policy and the whole stack to every stack policy. What the CLI and
pulumi-policy's analyzer do is reproduced rather than approximated:

- The program runs in its own interpreter, as the CLI runs it in its own language host: a fresh
  `python` with the program's folder first on `sys.path`, so `--program DIR` runs DIR's
  `components/`, `functions/` and `nfe/` and not the copies this process has imported. Only the
  mock engine (`nfe.mockrun`, `nfe.plan`) is this checkout's. The resources come back as JSON,
  as they reach the analyzer over gRPC, and the pack (which imports nothing of the program) judges
  them here. With `preview`, the program runs as a first `pulumi preview` sees it (ids and
  computed outputs unknown).

- Policy config (pulumi/pulumi `resourceanalyzer`): each policy starts from its own enforcement level
  (or the pack's) and its config schema's defaults; the per-stack file then applies, `"all"` first;
  the result is validated against each schema, and a bad file stops the check.
- Properties (pulumi-policy `_PolicyAnalyzerServicer`): they cross a protobuf Struct, so numbers
  arrive as floats, and reach the validators through pulumi-policy's own deserializer and
  unknown-checking proxy inside its own `ResourceValidationArgs`, `StackValidationArgs` and
  `PolicyResource`. Resource policies see a resource's inputs, stack policies every resource's
  outputs, parent and dependencies (`dependencies`, and `property_dependencies` when the runner
  recorded them). A policy that reads a value unknown at preview is reported as an advisory
  "can't run".
- The stack's config reaches the pack through the Pulumi runtime config, as the CLI's
  `PULUMI_CONFIG` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib
import importlib.metadata
import inspect
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties, serialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from nfe.config import stack_file_values
from nfe.mockrun import PlanResult, ProgramError, ResourceRecord

PROJECT_DIR = Path(__file__).resolve().parents[1]
PACK_DIR = PROJECT_DIR / "policies"
CONFIG_DIR_NAME = "config"  # policies/config/<stack>.json
ALL_POLICIES = "all"  # the config file's key for every policy at once
CANT_RUN = "can't run during preview"  # how a policy stopped by an unknown value is reported


class PolicyConfigError(ValueError):
    """The policy config file is malformed or does not satisfy a policy's config schema."""


class PolicyRunError(RuntimeError):
    """A policy raised while validating (a bug in the pack, not a violation)."""


@dataclass(frozen=True)
class LoadedPack:
    name: str
    enforcement_level: EnforcementLevel
    policies: list[Policy]


@dataclass(frozen=True)
class PolicySetting:
    """A policy's effective enforcement level and config properties for one stack."""

    level: EnforcementLevel
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "mandatory" or "advisory"
    resource: str
    type: str
    message: str
    urn: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "level": self.level,
            "resource": self.resource,
            "type": self.type,
            "message": self.message,
        }


@dataclass
class PolicyReport:
    stack: str
    resources: int
    policies: int
    violations: list[Violation]
    warnings: list[str] = field(default_factory=list)
    preview: bool = False

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == EnforcementLevel.MANDATORY.value]

    @property
    def cannot_run(self) -> list[Violation]:
        """Policies that could not decide because a value they read is unknown (preview only)."""
        return [v for v in self.violations if v.message.startswith(CANT_RUN)]

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "preview": self.preview, "violations": [v.as_json() for v in self.violations]}


def load_pack(pack_dir: Path = PACK_DIR) -> LoadedPack:
    """Import the pack's policies the way the CLI does: with the pack folder first on sys.path."""
    folder = str(pack_dir.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    registry = importlib.import_module("nfe_policies.registry")
    return LoadedPack(registry.PACK_NAME, registry.PACK_ENFORCEMENT_LEVEL, list(registry.POLICIES))


# --- policy config: pulumi/pulumi pkg/resource/analyzer/config.go ---------------------------------

RawSetting = tuple[EnforcementLevel | None, dict[str, Any]]


def _level(value: Any, key: str) -> EnforcementLevel:
    if not isinstance(value, str):
        raise PolicyConfigError(f"{key}: {value!r} is not a valid enforcement level; must be a string")
    try:
        return EnforcementLevel(value)
    except ValueError:
        raise PolicyConfigError(f"{key}: {value!r} is not a valid enforcement level") from None


def parse_config(text: str) -> dict[str, RawSetting]:
    """A `--policy-pack-config` file: `{"policy": "mandatory"}` or `{"policy": {"enforcementLevel": ..., <props>}}`."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError("must be a JSON object keyed by policy name")
    result: dict[str, RawSetting] = {}
    for key, value in document.items():
        level: EnforcementLevel | None
        if isinstance(value, str):
            level, properties = _level(value, key), {}
        elif isinstance(value, dict):
            properties = dict(value)
            level = _level(properties.pop("enforcementLevel"), key) if "enforcementLevel" in properties else None
        else:
            raise PolicyConfigError(f"{key}: {value!r} is not a valid value; must be a string or object")
        if level is not None or properties:
            result[key] = (level, properties)
    return result


def _schema_defaults(schema: PolicyConfigSchema | None) -> dict[str, Any]:
    if schema is None:
        return {}
    return {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _value_errors(path: str, spec: Mapping[str, Any], value: Any) -> list[str]:
    """The JSON Schema keywords the pack's schemas use: type, minimum, items."""
    expected = spec.get("type")
    if isinstance(expected, str) and expected in _JSON_TYPES and not _JSON_TYPES[expected](value):
        return [f"{path}: expected {expected}, got {json.dumps(value)}"]
    if "minimum" in spec and _JSON_TYPES["number"](value) and value < spec["minimum"]:
        return [f"{path}: must be at least {spec['minimum']}, got {value}"]
    if isinstance(value, list) and isinstance(spec.get("items"), Mapping):
        return [e for i, item in enumerate(value) for e in _value_errors(f"{path}[{i}]", spec["items"], item)]
    return []


def _schema_errors(name: str, schema: PolicyConfigSchema, properties: Mapping[str, Any]) -> list[str]:
    errors = [f"{name}: {key} is required" for key in schema.required or [] if key not in properties]
    for key, spec in schema.properties.items():
        if key in properties:
            errors += _value_errors(f"{name}.{key}", spec, properties[key])
    return errors


def reconcile(pack: LoadedPack, file_config: Mapping[str, RawSetting]) -> dict[str, PolicySetting]:
    """Every policy's effective level and properties, as the CLI hands them to the analyzer."""
    result = {
        p.name: PolicySetting(p.enforcement_level or pack.enforcement_level, _schema_defaults(p.config_schema))
        for p in pack.policies
    }
    every_level = file_config.get(ALL_POLICIES, (None, {}))[0]
    if every_level is not None:
        result = {name: PolicySetting(every_level, s.properties) for name, s in result.items()}
    for name, (level, properties) in file_config.items():
        if name == ALL_POLICIES or name not in result:
            continue
        current = result[name]
        result[name] = PolicySetting(level or current.level, {**current.properties, **properties})
    errors = [
        error
        for policy in pack.policies
        if policy.config_schema is not None
        for error in _schema_errors(policy.name, policy.config_schema, result[policy.name].properties)
    ]
    if errors:
        raise PolicyConfigError("; ".join(errors))
    return result


def load_config(pack: LoadedPack, path: Path | None) -> tuple[dict[str, PolicySetting], list[str]]:
    """Settings from a config file (none: the pack's own defaults), and warnings about the file."""
    file_config: dict[str, RawSetting] = {}
    if path is not None and path.exists():
        try:
            file_config = parse_config(path.read_text())
        except PolicyConfigError as exc:
            raise PolicyConfigError(f"{path}: {exc}") from None
    known = {p.name for p in pack.policies} | {ALL_POLICIES}
    # The CLI ignores a key that names no policy; a typo would silently configure nothing.
    warnings = [f"{path}: {name!r} is not a policy of {pack.name}" for name in file_config if name not in known]
    try:
        return reconcile(pack, file_config), warnings
    except PolicyConfigError as exc:
        raise PolicyConfigError(f"{path}: {exc}" if path else str(exc)) from None


# --- resources as the analyzer receives them -------------------------------------------------------


def over_the_wire(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties after the engine -> analyzer hop: serialized with pulumi-policy's own rules (assets
    and archives keep their signatures) into a protobuf Struct and back, so every number is a float."""
    struct = struct_pb2.Struct()
    struct.update(dict(serialize_properties(properties)))
    return json_format.MessageToDict(struct)


def proxied(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties as a validator sees them: over the wire, deserialized, behind the unknown-checking proxy."""
    return unknown_checking_proxy(deserialize_properties(over_the_wire(properties)))


def options_of(record: ResourceRecord) -> PolicyResourceOptions:
    opts = record.options
    return PolicyResourceOptions(
        protect=bool(opts.get("protect")),
        ignore_changes=list(opts.get("ignoreChanges", [])),
        # The SDK sends no "defined" flag through the mocks; an unset option reads as None.
        delete_before_replace=True if opts.get("deleteBeforeReplace") else None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs", [])),
        parent=record.parent,
    )


ProviderOf = Callable[[ResourceRecord], PolicyProviderResource | None]


def resource_args(
    record: ResourceRecord, config: Mapping[str, Any] | None = None, provider: PolicyProviderResource | None = None
) -> ResourceValidationArgs:
    """What `Analyze` hands a resource policy: the resource's inputs, options, provider and policy config
    (which crosses the wire too)."""
    return ResourceValidationArgs(
        record.type,
        proxied(record.inputs),
        record.urn,
        record.name,
        options_of(record),
        provider,
        over_the_wire(config or {}),
        {},
    )


def policy_resources(records: list[ResourceRecord], provider_of: ProviderOf = lambda _: None) -> list[PolicyResource]:
    """What `AnalyzeStack` hands a stack policy: every resource with its outputs, parent and dependencies linked."""
    resources = {
        r.urn: PolicyResource(
            r.type, proxied(r.state or r.inputs), r.urn, r.name, options_of(r), provider_of(r), None, [], {}
        )
        for r in records
    }
    for record in records:
        resource = resources[record.urn]
        if record.parent in resources:
            resource.parent = resources[record.parent]
        # As the analyzer does, a dependency outside the stack's resources is dropped.
        resource.dependencies = [resources[d] for d in record.depends_on if d in resources]
        resource.property_dependencies = {
            key: [resources[d] for d in urns if d in resources] for key, urns in property_dependencies(record).items()
        }
    return list(resources.values())


def property_dependencies(record: ResourceRecord) -> dict[str, list[str]]:
    """Per input property, the URNs its value came from, when the mock runner recorded them.

    The engine always sends them; policies fall back on `dependencies` when they are absent."""
    recorded = getattr(record, "property_dependencies", None) or record.options.get("propertyDependencies") or {}
    return {str(key): [str(u) for u in urns] for key, urns in dict(recorded).items()}


def stack_args(
    records: list[ResourceRecord], config: Mapping[str, Any] | None = None, provider_of: ProviderOf = lambda _: None
) -> StackValidationArgs:
    """What `AnalyzeStack` hands a stack policy."""
    return StackValidationArgs(policy_resources(records, provider_of), over_the_wire(config or {}), {})


@functools.cache
def _default_provider_name(package: str) -> str:
    """`default_7_51_1` for pulumi-aws 7.51.1, as the engine names a package's default provider."""
    try:
        return "default_" + importlib.metadata.version(f"pulumi-{package}").replace(".", "_").replace("-", "_")
    except importlib.metadata.PackageNotFoundError:
        return "default"


@dataclass
class _Stack:
    """One program run, and how the engine would name its default providers."""

    plan: PlanResult
    config_values: dict[str, str]

    @property
    def root_name(self) -> str:
        return f"{self.plan.project}-{self.plan.stack}"

    def record(self, urn: str | None) -> ResourceRecord | None:
        return next((r for r in self.plan.resources if r.urn == urn), None) if urn else None

    def provider(self, record: ResourceRecord) -> PolicyProviderResource | None:
        if not record.custom or record.type.startswith("pulumi:"):
            return None
        if record.provider:
            # A provider reference is "<provider urn>::<provider id>".
            explicit = self.record(record.provider.rsplit("::", 1)[0])
            if explicit is None:
                return None
            return PolicyProviderResource(explicit.type, proxied(explicit.inputs), explicit.urn, explicit.name)
        # The engine's default provider for the package, configured from the stack's `<package>:` keys.
        package = record.type.split(":", 1)[0]
        name = _default_provider_name(package)
        props = {k.split(":", 1)[1]: v for k, v in self.config_values.items() if k.startswith(f"{package}:")}
        urn = f"urn:pulumi:{self.plan.stack}::{self.plan.project}::pulumi:providers:{package}::{name}"
        return PolicyProviderResource(f"pulumi:providers:{package}", proxied(props), urn, name)


def _settle(result: Any) -> None:
    """Run an async validator to completion on its own loop, as the analyzer does."""
    if inspect.isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def _effective(setting: PolicySetting) -> EnforcementLevel:
    # A violation that remediation did not fix is reported as mandatory.
    return EnforcementLevel.MANDATORY if setting.level == EnforcementLevel.REMEDIATE else setting.level


@dataclass
class _Analysis:
    stack: _Stack
    violations: list[Violation] = field(default_factory=list)

    def _where(self, record: ResourceRecord | None) -> tuple[str, str, str]:
        if record is None:
            return self.stack.root_name, "pulumi:pulumi:Stack", ""
        return record.name, record.type, record.urn

    def validate(
        self,
        policy: ResourceValidationPolicy | StackValidationPolicy,
        level: EnforcementLevel,
        args: ResourceValidationArgs | StackValidationArgs,
        record: ResourceRecord | None,
    ) -> None:
        """Call one validator; `record` is the resource analysed (None: the whole stack)."""

        def report_violation(message: str, urn: str | None = None) -> None:
            # A resource policy's violation is the resource's; a stack policy's names a resource or none.
            target = record if record is not None else self.stack.record(urn)
            name, kind, at = self._where(target)
            self.violations.append(Violation(policy.name, level.value, name, kind, message or policy.description, at))

        name, kind, at = self._where(record)
        try:
            _settle(policy.validate(args, report_violation))  # type: ignore[arg-type]
        except UnknownValueError as exc:
            message = f"{CANT_RUN}: {exc.message}"
            self.violations.append(Violation(policy.name, EnforcementLevel.ADVISORY.value, name, kind, message, at))
        except _NotApplicableError:
            pass
        except Exception as exc:
            raise PolicyRunError(
                f"policy {policy.name} raised on {name} ({kind}): {type(exc).__name__}: {exc}"
            ) from exc


def analyze(
    plan: PlanResult, config_values: dict[str, str], pack: LoadedPack, settings: Mapping[str, PolicySetting]
) -> list[Violation]:
    """Every resource through every resource policy, then the stack through every stack policy.

    `config_values` is the stack's config (for the default providers; `engine_config` is what gives
    it to policies)."""
    stack = _Stack(plan, config_values)
    analysis = _Analysis(stack)
    active = [(p, _effective(settings[p.name]), settings[p.name].properties) for p in pack.policies]
    active = [(p, level, config) for p, level, config in active if level != EnforcementLevel.DISABLED]
    for record in stack.plan.resources:
        provider = stack.provider(record)
        for policy, level, config in active:
            if isinstance(policy, ResourceValidationPolicy) and policy.has_validation():
                analysis.validate(policy, level, resource_args(record, config, provider), record)
    for policy, level, config in active:
        if isinstance(policy, StackValidationPolicy):
            analysis.validate(policy, level, stack_args(stack.plan.resources, config, stack.provider), None)
    return analysis.violations


@contextlib.contextmanager
def engine_config(values: dict[str, str]) -> Iterator[None]:
    """The stack's config in the Pulumi runtime, where the CLI's `PULUMI_CONFIG` puts it for a pack."""
    saved = dict(runtime_config.CONFIG.get())
    pulumi.runtime.set_all_config(values)
    try:
        yield
    finally:
        pulumi.runtime.set_all_config(saved)


# --- the program, in an interpreter of its own -------------------------------------------------------

# Run by `python -c` with: this checkout, the program folder, the stack, "1" for a preview (else
# ""), the output file. `sys.path` starts with the program folder, so `components`, `functions` and `nfe` (the
# program imports its config model, topology and build from it) resolve to the program's own
# files; the mock engine is loaded from this checkout by path. Records go to the output file (the
# program may print), an error as {"error": ...}.
_CHILD = """
import dataclasses, importlib.util, json, sys
from pathlib import Path
tool, program, stack, preview, out = sys.argv[1:]
sys.path[:] = [program] + [p for p in sys.path if p not in ("", program)] + [tool]
import nfe

def engine(name):
    spec = importlib.util.spec_from_file_location("nfe." + name, f"{tool}/nfe/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    setattr(nfe, name, module)
    return module

def plain(value):
    path = getattr(value, "path", None)
    return {"path": path} if isinstance(path, str) else repr(value)

mockrun = engine("mockrun")
plan = engine("plan")
try:
    result = plan.plan(stack, Path(program), preview=bool(preview))
    document = {
        "stack": result.stack,
        "project": result.project,
        "preview": result.preview,
        "resources": [dataclasses.asdict(r) for r in result.resources],
    }
except mockrun.ProgramError as exc:
    document = {"error": str(exc)}
with open(out, "w") as handle:
    json.dump(document, handle, default=plain)
"""


def run_isolated(program_dir: Path, stack: str, *, preview: bool = False) -> PlanResult:
    """Run `program_dir` for `stack` under mocks in a fresh interpreter and return what it registered.

    Raises `ProgramError` when the program fails (its message), or when the interpreter dies
    without an answer (the end of its stderr). The program's own output goes to stderr."""
    program_dir = program_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="nfe-policy-") as tmp:
        out = Path(tmp) / "plan.json"
        argv = [
            sys.executable,
            "-c",
            _CHILD,
            str(PROJECT_DIR),
            str(program_dir),
            stack,
            "1" if preview else "",
            str(out),
        ]
        child = subprocess.run(argv, cwd=program_dir, capture_output=True, text=True, check=False)
        sys.stderr.write(child.stderr)
        if not out.exists():
            tail = child.stderr.strip().splitlines()[-1:] or [f"exit status {child.returncode}"]
            raise ProgramError(f"the program's interpreter stopped without a result: {tail[0]}")
        document = json.loads(out.read_text())
    if "error" in document:
        raise ProgramError(document["error"])
    known = {f.name for f in dataclasses.fields(ResourceRecord)}
    records = [ResourceRecord(**{k: v for k, v in r.items() if k in known}) for r in document["resources"]]
    # Stack outputs are left behind: no policy reads them (the analyzer does not receive them either).
    return PlanResult(document["stack"], document["project"], records, {}, preview=document["preview"])


def check_program(
    program_dir: Path,
    stack_name: str,
    *,
    pack_dir: Path = PACK_DIR,
    config_file: Path | None = None,
    preview: bool = False,
) -> PolicyReport:
    """Run `program_dir` for `stack_name` under mocks, in its own interpreter, and check it against the pack.

    The policy config is `<pack>/config/<stack>.json` unless `config_file` is given (none there:
    the pack's defaults, as the CLI without `--policy-pack-config`). `preview` runs the program as a
    first `pulumi preview`. Raises `ProgramError` when the program fails, `PolicyConfigError` for a
    bad config file, `PolicyRunError` for a crashing policy.
    """
    pack = load_pack(pack_dir)
    path = config_file or pack_dir / CONFIG_DIR_NAME / f"{stack_name}.json"
    settings, warnings = load_config(pack, path)
    plan = run_isolated(program_dir, stack_name, preview=preview)
    config_values = stack_file_values(program_dir.resolve() / f"Pulumi.{stack_name}.yaml")
    with engine_config(config_values):
        violations = analyze(plan, config_values, pack, settings)
    # Mandatory first, then by policy and resource, so the blocking ones head the report.
    violations.sort(key=lambda v: (v.level != EnforcementLevel.MANDATORY.value, v.policy, v.resource))
    return PolicyReport(stack_name, len(plan.resources), len(pack.policies), violations, warnings, preview)
