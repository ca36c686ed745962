"""Deploy order: no application code goes live before the migration invocation of the same deploy.

Read from `nfe plan --json`, whose `dependsOn` lists what each resource waits for (explicit
`depends_on` and property dependencies), exactly what the engine orders steps by. Each resource
that runs code against the schema must name the migration itself: a transitive path through
another resource would stop holding the day that resource is changed, so every one is checked
directly, and a copy of the program with one `depends_on` removed is caught.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nfe import topology
from nfe.cli import main
from nfe.mockrun import ResourceRecord

ROOT = Path(__file__).resolve().parents[1]
INVOCATION = "aws:lambda/invocation:Invocation"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
STAGE = "aws:apigateway/stage:Stage"


def must_wait(resources: list[dict]) -> list[dict]:
    """What runs application code: every function but the migrator, every mapping, the
    publisher's schedule target (a target whose ARN is a function), the API deployment and stage."""
    functions = [r for r in resources if r["type"] == FUNCTION]
    chosen = [r for r in functions if not r["inputs"]["name"].startswith("db-migrator-")]
    # A target takes its function's ARN as input, so it depends on the function (also in a preview,
    # where the ARN itself is unknown).
    function_urns = {r["urn"] for r in chosen}
    chosen += [r for r in resources if r["type"] in (MAPPING, DEPLOYMENT, STAGE)]
    chosen += [r for r in resources if r["type"] == TARGET and function_urns & set(r["dependsOn"])]
    return chosen


def not_after_migration(document: dict) -> list[str]:
    resources = document["resources"]
    (migration,) = [r["urn"] for r in resources if r["type"] == INVOCATION]
    return [r["urn"] for r in must_wait(resources) if migration not in r["dependsOn"]]


def plan_json(stack: str, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["plan", "--stack", stack, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", [(), ("--preview",)], ids=["deploy", "preview"])
def test_code_waits_for_the_migration_of_the_same_deploy(
    stack: str, mode: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack's plan, as a deploy and as a first preview (outputs unknown)
    document = plan_json(stack, capsys, *mode)
    waiting = must_wait(document["resources"])
    # Then every application function (the SEFAZ participant's too: its answers feed consumers of the
    # new schema), a mapping per queue, the schedule target, deployment and stage are there, and every
    # one of them names the migration invocation among its dependencies
    kinds = sorted(r["type"] for r in waiting)
    assert kinds.count(FUNCTION) == len(topology.FUNCTIONS) - 1 == 6
    assert kinds.count(MAPPING) == len(topology.QUEUES)
    assert kinds.count(TARGET) == 1 and kinds.count(DEPLOYMENT) == 1 and kinds.count(STAGE) == 1
    assert not_after_migration(document) == []


def test_the_migration_itself_waits_only_for_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    # The migrator must not wait for any application function, or the order would be circular.
    document = plan_json("dev", capsys)
    by_urn = {r["urn"]: r for r in document["resources"]}
    (migration,) = [r for r in document["resources"] if r["type"] == INVOCATION]
    seen: set[str] = set()
    pending = list(migration["dependsOn"])
    while pending:
        urn = pending.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        pending.extend(by_urn[urn]["dependsOn"])
    functions = {by_urn[u]["inputs"]["name"] for u in seen if by_urn[u]["type"] == FUNCTION}
    assert functions == {"db-migrator-dev"}


def test_a_resource_without_the_edge_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the real plan with the migration removed from one mapping's dependencies
    document = plan_json("prod", capsys)
    mapping = next(r for r in document["resources"] if r["type"] == MAPPING)
    mapping["dependsOn"] = [u for u in mapping["dependsOn"] if "::database-migrate" not in u]
    # Then exactly that mapping is reported
    assert not_after_migration(document) == [mapping["urn"]]


def _copy_program(destination: Path) -> None:
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "pyproject.toml"):
        shutil.copy(ROOT / name, destination / name)
    for folder in ("components", "functions", "sql", "nfe", "certs"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))


def test_removing_one_depends_on_from_the_program_is_caught(tmp_path: Path) -> None:
    # Given a copy of the program whose event source mappings no longer wait for the migration
    _copy_program(tmp_path)
    source = tmp_path / "components" / "consumers.py"
    text = source.read_text()
    marker = "opts=pulumi.ResourceOptions(parent=parent, depends_on=list(migrated)),"
    assert marker in text
    source.write_text(text.replace(marker, "opts=pulumi.ResourceOptions(parent=parent),"))
    # When the copy is planned in a fresh interpreter (so its own components/ are imported)
    script = (
        "import sys, json; from pathlib import Path; from nfe.plan import plan, to_json; "
        "print(to_json(plan('dev', Path('.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    # Then every mapping (each service's and the SEFAZ participant's) is reported, and nothing else
    late = not_after_migration(document)
    assert len(late) == len(topology.QUEUES) and all("EventSourceMapping" in urn for urn in late)


def test_records_carry_dependencies_as_the_engine_receives_them() -> None:
    record = ResourceRecord(urn="u", type="t", name="n", parent=None, inputs={}, custom=True, depends_on=["a"])
    assert record.as_json()["dependsOn"] == ["a"]
