"""Run a Pulumi Python program under Pulumi's mocks and record every resource it registers.

This is the offline stand-in for the engine: `nfe plan`, `nfe policy` and `nfe cost` all read a
stack through it. No Pulumi CLI, provider plugin or cloud account is involved; the program runs
exactly as `pulumi up` would run it, with the stack's config from `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from nfe.config import stack_file_values

ACCOUNT_ID = "123456789012"
# What `pulumi preview --json` prints for a value computed at deploy time (an id, an ARN, ...):
# the engine's computedValuePlaceholder, the same string as the SDK's rpc.UNKNOWN.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class ProgramError(RuntimeError):
    """The Pulumi program itself failed (bad config, an exception while declaring resources)."""


@dataclass
class ResourceRecord:
    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    provider: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # Registered after the program's top level finished, i.e. from inside an `.apply()` callback.
    created_in_apply: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    # URNs this resource waits for: explicit `depends_on` (components expanded to their children)
    # and every resource whose outputs it takes as inputs, as the engine orders them.
    depends_on: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "dependsOn": self.depends_on,
        }


@dataclass
class PlanResult:
    stack: str
    project: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    preview: bool = False

    def of_type(self, type_token: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == type_token]

    def by_name(self, name: str) -> ResourceRecord:
        for record in self.resources:
            if record.name == name:
                return record
        raise KeyError(name)


def _arn(type_token: str, name: str, region: str) -> str:
    # "aws:sqs/queue:Queue" -> service "sqs", kind "queue"
    module = type_token.split(":")[1].split("/")[0]
    kind = type_token.split(":")[-1].lower()
    service = {"lambda": "lambda", "cloudwatch": "logs", "rds": "rds", "iam": "iam"}.get(module, module)
    if service == "sqs":
        return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"
    if service == "lambda":
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    if service == "rds" and kind == "instance":
        return f"arn:aws:rds:{region}:{ACCOUNT_ID}:db:{name}"
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{kind}/{name}"


def _account_bootstrap_record(region: str) -> str:
    """What account/ writes to its SSM parameter once deployed in an account (see components/account.py)."""
    return json.dumps(
        {
            "version": 1,
            "apiGatewayCloudWatchRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/nfe-apigateway-cloudwatch-{region}",
            "eventsLogPolicyName": "nfe-eventbridge-to-logs",
            "eventsLogGroupPattern": "/aws/events/nfe-events-*",
        }
    )


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back as state, adding the computed attributes programs commonly read.

    SSM parameters the mocked account holds: by default the account project's record, as in an
    account where account/ has been deployed; a test empties it to see a program in a new account.
    """

    ssm_parameters: dict[str, str] | None = None

    def __init__(self, region: str, preview: bool = False) -> None:
        self.region = region
        self.preview = preview
        if self.ssm_parameters is None:
            self.ssm_parameters = {"/nfe/account/bootstrap": _account_bootstrap_record(region)}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, state = self._created(args)
        if self.preview:
            # A first preview: the provider knows only the inputs. The id and every computed
            # attribute (ARNs, URLs, endpoints) are unknown, present as unknown rather than absent,
            # as a provider's preview reports them; everything derived from them is unknown too.
            computed = {key: Unknown() for key in state if key not in args.inputs}
            return "", {**args.inputs, **computed}
        return resource_id, state

    def _created(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        name = args.inputs.get("name") or args.name
        state = dict(args.inputs)
        digest = hashlib.sha1(f"{args.typ}/{args.name}".encode(), usedforsecurity=False).hexdigest()[:8]
        resource_id = f"{args.name}-{digest}"
        state.setdefault("arn", _arn(args.typ, str(name), self.region))
        state.setdefault("name", name)
        kind = args.typ
        if kind == "aws:sqs/queue:Queue":
            state.setdefault("url", f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{name}")
        elif kind == "aws:rds/instance:Instance":
            state.setdefault("address", f"{name}.abc123.{self.region}.rds.amazonaws.com")
            state.setdefault("endpoint", f"{name}.abc123.{self.region}.rds.amazonaws.com:5432")
            state.setdefault("resourceId", f"db-{digest.upper()}")
            state.setdefault("port", 5432)
            state.setdefault(
                "masterUserSecrets",
                [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:rds!db-{digest}",
                        "kmsKeyId": args.inputs.get("masterUserSecretKmsKeyId")
                        or f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{digest}",
                        "secretStatus": "active",
                    }
                ],
            )
        elif kind == "aws:rds/proxy:Proxy":
            state.setdefault("endpoint", f"{name}.proxy-abc123.{self.region}.rds.amazonaws.com")
        elif kind == "aws:apigateway/restApi:RestApi":
            state.setdefault("rootResourceId", f"root{digest}")
            state.setdefault("executionArn", f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{digest}")
        elif kind == "aws:apigateway/stage:Stage":
            state.setdefault(
                "invokeUrl",
                f"https://{digest}.execute-api.{self.region}.amazonaws.com/{args.inputs.get('stageName')}",
            )
            state.setdefault("executionArn", f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{digest}/stage")
        elif kind == "aws:lambda/function:Function":
            state.setdefault(
                "invokeArn",
                f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations",
            )
            state.setdefault("qualifiedArn", f"{state['arn']}:$LATEST")
        elif kind == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{digest}"
            state.setdefault("keyId", digest)
        elif kind == "aws:ec2/vpc:Vpc":
            state.setdefault("defaultSecurityGroupId", f"sg-default{digest}")
        elif kind == "aws:ec2/managedPrefixList:ManagedPrefixList":
            resource_id = f"pl-{digest}"
        elif kind.startswith("aws:ec2/securityGroup:"):
            resource_id = f"sg-{digest}"
        elif kind.startswith("aws:ec2/subnet:"):
            resource_id = f"subnet-{digest}"
        elif kind.startswith("aws:ec2/vpc:"):
            resource_id = f"vpc-{digest}"
        elif kind == "aws:cloudwatch/eventBus:EventBus":
            state["arn"] = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:event-bus/{name}"
        elif kind == "aws:cloudwatch/eventRule:EventRule":
            bus = args.inputs.get("eventBusName")
            state["arn"] = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/" + (f"{bus}/{name}" if bus else name)
        elif kind == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}"
        elif kind == "aws:cloudfront/distribution:Distribution":
            state.setdefault("domainName", f"d{digest}.cloudfront.net")
            state["arn"] = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/E{digest.upper()}"
        elif kind == "aws:s3/bucket:Bucket":
            bucket = args.inputs.get("bucket") or f"{args.inputs.get('bucketPrefix', '')}{digest}"
            state["bucket"] = bucket
            state["arn"] = f"arn:aws:s3:::{bucket}"
            state.setdefault("bucketRegionalDomainName", f"{bucket}.s3.{self.region}.amazonaws.com")
        elif kind == "aws:secretsmanager/secret:Secret":
            # A secret's name is its namePrefix plus a unique suffix, and its ARN adds six characters of
            # Secrets Manager's own after a hyphen.
            prefix = args.inputs.get("namePrefix")
            name = args.inputs.get("name") or (f"{prefix}{digest}" if prefix else args.name)
            state["name"] = name
            state["arn"] = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{name}-{digest[:6]}"
        elif kind == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:{self.region}:{ACCOUNT_ID}:{name}"
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        invoke = args.token
        if invoke == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
                "userId": "MOCK",
                "id": ACCOUNT_ID,
            }, []
        if invoke == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if invoke == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if invoke == "aws:ssm/getParameter:getParameter":
            name = str(args.args.get("name"))
            value = (self.ssm_parameters or {}).get(name)
            if value is None:
                # The provider's answer for a missing parameter, as a failed invoke.
                return {}, [("name", f"ParameterNotFound: parameter {name} not found")]
            return {
                "name": name,
                "value": value,
                "insecureValue": value,
                "type": "String",
                "version": 1,
                "arn": f"arn:aws:ssm:{self.region}:{ACCOUNT_ID}:parameter{name}",
                "id": name,
            }, []
        if invoke == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"{self.region}a", f"{self.region}b"],
                "zoneIds": ["use1-az1", "use1-az2"],
            }, []
        return {}, []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that also keeps each registration's parent, provider and options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []
        self.program_finished = False
        # (type, name) of resources whose constructor ran after the program's top level returned.
        self.late_constructions: set[tuple[str, str]] = set()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        from pulumi.runtime import rpc

        inputs = rpc.deserialize_properties(request.object)
        options = {
            "protect": request.protect,
            "ignoreChanges": list(request.ignoreChanges),
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "retainOnDelete": request.retainOnDelete,
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "dependencies": list(request.dependencies),
            "replaceOnChanges": list(request.replaceOnChanges),
            # Input property -> URNs whose outputs it takes (the engine's property dependencies).
            "propertyDependencies": {key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()},
        }
        state = self.resources[response.urn].state if response.urn in self.resources else {}
        self.records.append(
            ResourceRecord(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                inputs=_plain(inputs),
                custom=bool(request.custom),
                provider=request.provider or None,
                options=options,
                created_in_apply=(request.type, request.name) in self.late_constructions,
                state=_plain(state),
                depends_on=sorted(set(request.dependencies)),
            )
        )
        return response


def _plain(value: Any) -> Any:
    """Strip Pulumi's secret wrappers so records are plain JSON-able data; unknowns become UNKNOWN."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        # Shown as `pulumi preview --json` shows an archive: by its path.
        return {"path": getattr(value, "path", None)}
    # The engine's wire format has only doubles; show 90.0 as 90, as `pulumi preview --json` does.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def project_name(program_dir: Path) -> str:
    document = yaml.safe_load((program_dir / "Pulumi.yaml").read_text()) or {}
    return str(document.get("name", "project"))


@contextlib.contextmanager
def _program_context(program_dir: Path) -> Iterator[None]:
    old_cwd = os.getcwd()
    old_path = list(sys.path)
    os.chdir(program_dir)
    sys.path.insert(0, str(program_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def run_program(
    program_dir: Path, stack: str, config: dict[str, str] | None = None, *, preview: bool = False
) -> PlanResult:
    """Run `program_dir/__main__.py` for `stack` under mocks and return what it registered.

    `config` overrides (or, for tests, replaces) values from `Pulumi.<stack>.yaml`. With `preview`,
    the program runs as a first `pulumi preview` sees it: a dry run in which no resource exists yet,
    so ids and computed outputs are unknown (recorded as UNKNOWN, as `pulumi preview --json` shows them).
    """
    program_dir = program_dir.resolve()
    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    if config is None and not stack_file.exists():
        raise ProgramError(f"no stack file {stack_file}")
    values = stack_file_values(stack_file) if stack_file.exists() else {}
    values.update(config or {})
    region = values.get("aws:region", "us-east-1")

    project = project_name(program_dir)
    mocks = RecordingMocks(region, preview=preview)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.reset_options()
    pulumi.runtime.set_all_config(values)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    outputs: dict[str, Any] = {}
    original_export = pulumi.export

    def record_export(name: str, value: Any) -> None:
        outputs[name] = value
        original_export(name, value)

    pulumi.export = record_export  # type: ignore[assignment]
    original_init = pulumi.Resource.__init__

    def tracking_init(resource: Any, t: str, name: str, *args: Any, **kwargs: Any) -> None:
        if monitor.program_finished:
            monitor.late_constructions.add((t, name))
        original_init(resource, t, name, *args, **kwargs)

    pulumi.Resource.__init__ = tracking_init  # type: ignore[method-assign,assignment]
    try:
        with _program_context(program_dir):
            try:
                runpy.run_path(str(program_dir / "__main__.py"), run_name="__main__")
            except SystemExit as exc:
                raise ProgramError(f"program exited: {exc}") from exc
            except Exception as exc:
                raise ProgramError(f"{type(exc).__name__}: {exc}") from exc
            monitor.program_finished = True
            try:
                _sync_await(wait_for_rpcs())
            except Exception as exc:
                raise ProgramError(f"{type(exc).__name__}: {exc}") from exc
            resolved = {name: _resolve(value) for name, value in outputs.items()}
    finally:
        pulumi.export = original_export  # type: ignore[assignment]
        pulumi.Resource.__init__ = original_init  # type: ignore[method-assign]
    return PlanResult(stack=stack, project=project, resources=monitor.records, outputs=resolved, preview=preview)


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    result: list[Any] = []
    output.apply(result.append)
    _sync_await(wait_for_rpcs())
    if not result:
        # An apply on an unknown output never runs during a preview.
        return UNKNOWN if pulumi_settings.is_dry_run() else None
    return _plain(result[0])
