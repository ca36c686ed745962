"""The CI workflows (.github/), checked without GitHub, AWS or the Pulumi CLI.

- Every workflow and local action validates against GitHub's schemas (SchemaStore's, vendored in
  check-jsonschema).
- Their run steps are read from the files and run in order, as the runner would (bash -eo pipefail,
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP), skipping only those that call the Pulumi CLI,
  GitHub's API or AWS, or install from the network for the Pulumi CLI. `make X` runs as `make -n X`:
  a renamed target fails here without running `make test` inside `make test`; `nfe` commands run
  for real on fixture previews (tests/fixtures/ci), so a renamed flag fails here too.
- The properties a team relies on: actions pinned to a commit, least-privilege permissions, one
  update per stack at a time, prod behind its environment, versions from the project's files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
CHECK_JSONSCHEMA = ROOT / ".venv" / "bin" / "check-jsonschema"
FIXTURES = ROOT / "tests" / "fixtures" / "ci"
STACKS = ("dev", "prod")

# Commands that need GitHub, AWS or the Pulumi CLI (or the network, to install for the CLI).
ONLINE = re.compile(r"(^|[;&|(]|\$\(|\bthen|\bdo|\belse)\s*(pulumi|gh|aws)\s|pip install", re.MULTILINE)
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)\s*$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow(name: str) -> dict[str, Any]:
    return load(GITHUB / "workflows" / name)


# --- schema and static properties ------------------------------------------------------------------


def test_workflows_and_actions_validate_against_githubs_schemas(tmp_path: Path) -> None:
    for schema, files in (("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", ACTIONS)):
        result = subprocess.run(
            [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # And the check does catch a mistake: a misspelt permission
    broken = tmp_path / "broken.yml"
    broken.write_text((GITHUB / "workflows" / "deploy.yml").read_text().replace("id-token: write", "id-token: writ"))
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "writ" in result.stdout


def test_the_expected_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "deploy.yml", "drift.yml", "test.yml"}
    assert {p.parent.name for p in ACTIONS} == {"setup", "pulumi"}


def test_every_action_is_pinned_to_a_commit_with_its_tag_beside_it() -> None:
    pins: dict[str, set[str]] = {}
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text().splitlines():
            if "uses:" not in line or line.strip().startswith("#"):
                continue
            target = line.split("uses:", 1)[1].strip()
            if target.startswith("./"):
                assert (ROOT / target).exists(), f"{path.name}: {target} does not exist"
                continue
            match = PINNED.match(line)
            assert match, f"{path.name}: not pinned to a full commit SHA with its tag as a comment: {line.strip()}"
            pins.setdefault(match[1], set()).add(f"{match[2]} {match[3]}")
    # One version of each action everywhere, so a bump is one search and replace
    assert all(len(versions) == 1 for versions in pins.values()), pins
    assert {"actions/checkout", "aws-actions/configure-aws-credentials", "pulumi/actions"} <= set(pins)


def _jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            yield path.name, name, job


def _uses_local(job: dict[str, Any], action: str) -> bool:
    return any(step.get("uses") == f"./.github/actions/{action}" for step in job.get("steps", []))


def test_permissions_are_least_privilege_per_job() -> None:
    for path in WORKFLOWS:
        # Nothing beyond reading the code unless a job asks for it
        assert load(path)["permissions"] == {"contents": "read"}, path.name
    writers: dict[str, set[str]] = {}
    for file, name, job in _jobs():
        permissions = job.get("permissions", {})
        assert permissions != "write-all" and isinstance(permissions, dict), (file, name)
        for scope, level in permissions.items():
            if level == "write":
                writers.setdefault(scope, set()).add(f"{file}:{name}")
        # Only jobs that assume an AWS role ask for GitHub's OIDC token, and all of them do
        assert (permissions.get("id-token") == "write") == _uses_local(job, "pulumi"), (file, name)
    assert writers == {
        "id-token": {
            "pull-request.yml:preview",
            "deploy.yml:dev",
            "deploy.yml:prod",
            "drift.yml:detect",
        },
        "pull-requests": {"pull-request.yml:cost-comment"},
        "issues": {"drift.yml:report"},
    }


def test_no_expression_is_pasted_into_a_script() -> None:
    # Values reach scripts through env: a PR title or label in `run:` would be script injection.
    for path in [*WORKFLOWS, *ACTIONS]:
        document = load(path)
        jobs = document.get("jobs", {}) or {"action": {"steps": document.get("runs", {}).get("steps", [])}}
        for job in jobs.values():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_deploys_run_one_at_a_time_per_stack_and_prod_waits_for_its_environment() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert jobs["dev"]["needs"] == "test" and jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "prod" and "environment" not in jobs["dev"]
    for stack in STACKS:
        assert jobs[stack]["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        script = jobs[stack]["steps"][-1]["run"]
        assert "pulumi up" in script and '--policy-pack-config "policies/config/$STACK.json"' in script
        assert jobs[stack]["env"]["STACK"] == stack
        assert f"nfe-github-{stack}-deploy" in json.dumps(jobs[stack]["steps"])
    # The previews and drift checks never share the deploys' groups: a queued run replaces a
    # pending one in its group, and a deploy waiting for approval must not be replaced by a check.
    for file, name, job in _jobs():
        group = str(job.get("concurrency", {}).get("group", ""))
        if file != "deploy.yml":
            assert not group.startswith("pulumi-up-"), (file, name)


def test_previews_run_under_the_policy_pack_and_the_comment_is_updated_in_place() -> None:
    jobs = workflow("pull-request.yml")["jobs"]
    scripts = "\n".join(step.get("run", "") for step in jobs["preview"]["steps"])
    assert '--policy-pack policies --policy-pack-config "policies/config/$STACK.json"' in scripts
    assert "--show-sames --json" in scripts
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").exists()
    post = next(s for s in jobs["cost-comment"]["steps"] if s.get("name", "").startswith("Post the comment"))
    from nfe.cost.comment import MARKER

    # The marker the script looks for is the one nfe cost writes
    assert MARKER.format(stack="$STACK") in post["run"] and "--method PATCH" in post["run"]


def test_drift_is_a_refresh_preview_expecting_no_changes() -> None:
    drift = workflow("drift.yml")
    assert drift["on"]["schedule"] and "workflow_dispatch" in drift["on"]
    script = next(s["run"] for s in drift["jobs"]["detect"]["steps"] if "refresh" in s.get("name", ""))
    assert "--preview-only --expect-no-changes" in script and '"$status" != 7' in script


def test_python_and_node_versions_come_from_the_projects_files() -> None:
    python = (ROOT / ".python-version").read_text().strip()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python}"
    assert pyproject["tool"]["mypy"]["python_version"] == python
    node = (ROOT / ".nvmrc").read_text().strip()
    engines = json.loads((ROOT / "frontend" / "package.json").read_text())["engines"]["node"]
    minimum = tuple(int(n) for n in engines.removeprefix(">=").split("."))
    assert (int(node), 0) >= minimum[:2] and node.isdigit()
    # Every setup reads them from those files, never a literal
    text = "\n".join(path.read_text() for path in [*WORKFLOWS, *ACTIONS])
    assert "python-version:" not in text and "node-version:" not in text
    assert text.count("node-version-file: .nvmrc") >= 2 and "python-version-file: .python-version" in text


# --- running the offline steps ---------------------------------------------------------------------


@dataclass
class Run:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def _expression(expression: str, context: dict[str, Any]) -> str | None:
    """The few expressions the offline steps' env uses; None for any other (left unevaluated)."""
    if expression.startswith("matrix."):
        return str(context["matrix"].get(expression.removeprefix("matrix."), ""))
    if expression == "join(github.event.pull_request.labels.*.name, ',')":
        return ",".join(context["labels"])
    if expression == "runner.temp":
        return str(context["runner_temp"])
    if expression.startswith("inputs."):
        return str(context["inputs"].get(expression.removeprefix("inputs."), ""))
    return None


def _environment(values: dict[str, Any], context: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    env: dict[str, str] = {}
    unevaluated: set[str] = set()
    for key, raw in (values or {}).items():
        text = str(raw)
        values_of = {e: _expression(e, context) for e in EXPRESSION.findall(text)}
        if any(v is None for v in values_of.values()):
            unevaluated.add(key)
            continue
        for expression, value in values_of.items():
            text = text.replace("${{ " + expression + " }}", str(value))
        env[key] = text
    return env, unevaluated


def _steps(job: dict[str, Any], context: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """A job's steps with local composite actions expanded (each with its own inputs)."""
    for step in job.get("steps", []):
        uses = step.get("uses", "")
        if uses.startswith("./.github/actions/"):
            action = load(ROOT / uses / "action.yml")
            inputs = {k: str(v.get("default", "")) for k, v in action.get("inputs", {}).items()}
            given, _ = _environment(step.get("with", {}), context)
            inner = {**context, "inputs": {**inputs, **given}}
            for inner_step in action["runs"]["steps"]:
                yield inner_step, inner
        else:
            yield step, context


def _check_setup_inputs(step: dict[str, Any]) -> None:
    # What an action reads from the checkout must exist in it.
    for key in ("python-version-file", "node-version-file", "cache-dependency-path"):
        value = step.get("with", {}).get(key)
        if value:
            assert (ROOT / value).exists(), f"{step['uses']}: {key} {value} does not exist"


def _run_job(name: str, job: dict[str, Any], context: dict[str, Any], run: Run) -> None:
    job_env, job_unevaluated = _environment(job.get("env", {}), context)
    for step, step_context in _steps(job, context):
        label = f"{name}: {step.get('name') or step.get('uses') or step.get('run', '')[:40]}"
        if "uses" in step:
            _check_setup_inputs(step)
            continue
        script = step["run"]
        if ONLINE.search(script):
            run.skipped.append(label)
            continue
        step_env, step_unevaluated = _environment(step.get("env", {}), step_context)
        for variable in (job_unevaluated - set(step_env)) | step_unevaluated:
            # An offline step must not read a value only GitHub can give it.
            assert not re.search(rf"\${{?{variable}\b", script), f"{label} reads ${variable}, unknown offline"
        temp = Path(context["runner_temp"])
        output = temp / f"output-{len(run.ran)}"
        output.touch()
        env = {
            **os.environ,
            "CI": "true",
            "RUNNER_TEMP": str(temp),
            "GITHUB_WORKSPACE": str(ROOT),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_ENV": str(temp / "env"),
            "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
            "GITHUB_REPOSITORY": "acme/nfe",
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "1",
            **job_env,
            **step_env,
        }
        # `make X` as a dry run: the target must exist, its recipe is not run (make test would recurse).
        script = re.sub(r"(^|\n)(\s*)make ", r"\1\2make -n ", script)
        shell = step.get("shell", "bash")
        assert shell == "bash", label
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{label} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        run.ran.append(label)
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        if step.get("id"):
            run.outputs[f"{name}.{step['id']}"] = outputs


def _matrices(job: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = job.get("strategy", {}).get("matrix")
    if not matrix:
        return [{}]
    if "include" in matrix:
        return [dict(entry) for entry in matrix["include"]]
    return [{"stack": stack} for stack in matrix["stack"]]


def _run_workflow(name: str, temp: Path, run: Run, labels: list[str], prepare: Any = None) -> None:
    for job_name, job in load(GITHUB / "workflows" / name)["jobs"].items():
        if "uses" in job:  # a reusable workflow: its jobs, in order
            _run_workflow(Path(job["uses"]).name, temp, run, labels)
            continue
        for matrix in _matrices(job):
            stack = matrix.get("stack", "")
            # Jobs of one stack share a temp folder, as their artifacts carry files between them.
            runner_temp = temp / name / (stack or "all")
            runner_temp.mkdir(parents=True, exist_ok=True)
            if prepare:
                prepare(job_name, stack, runner_temp)
            context = {"matrix": matrix, "labels": labels, "runner_temp": runner_temp, "inputs": {}}
            _run_job(f"{name}:{job_name}{'[' + stack + ']' if stack else ''}", job, context, run)


def _previews(job: str, stack: str, temp: Path) -> None:
    """What the skipped Pulumi steps would have left: the fixture previews, as this stack's."""
    if job != "preview":
        return
    for side, target in (("head", f"preview-{stack}.json"), ("base", f"base-preview-{stack}.json")):
        # The fixtures preview dev; prod gets the same resources under its own stack name.
        text = (FIXTURES / side / "preview-dev.json").read_text().replace("urn:pulumi:dev::", f"urn:pulumi:{stack}::")
        (temp / target).write_text(text)
    (temp / "base").mkdir(exist_ok=True)
    (temp / "base" / f"Pulumi.{stack}.yaml").write_text((ROOT / f"Pulumi.{stack}.yaml").read_text())


def test_the_pull_request_workflows_offline_steps_run_in_order(tmp_path: Path) -> None:
    # Given the pull request carries the cost guardrail's override label (the guardrail's exit 1 is
    # the golden tests' business: here every step must succeed)
    run = Run()
    _run_workflow("pull-request.yml", tmp_path, run, ["cost-increase-approved"], prepare=_previews)
    # Then the offline steps ran, in the workflow's order, and only Pulumi/GitHub/AWS steps were skipped
    assert [label for label in run.ran if "nfe policy" in label] == [
        "pull-request.yml:preview[dev]: Policy pack, offline (nfe policy)",
        "pull-request.yml:preview[prod]: Policy pack, offline (nfe policy)",
    ]
    for stack in STACKS:
        assert f"pull-request.yml:preview[{stack}]: Cost review (nfe cost --format github)" in run.ran
        assert f"pull-request.yml:cost-comment[{stack}]: Cost guardrail" in run.ran
        assert (
            f"pull-request.yml:cost-comment[{stack}]: Post the comment, or edit this stack's earlier one" in run.skipped
        )
        comment = (tmp_path / "pull-request.yml" / stack / "cost" / "comment.md").read_text()
        assert comment.startswith(f"<!-- nfe-cost-review stack={stack} -->")
        assert (tmp_path / "pull-request.yml" / stack / "cost" / "status").read_text().strip() == "0"
    assert "test.yml:make-test: make test" in run.ran and "test.yml:make-test: make setup" in run.ran
    assert run.outputs["test.yml:versions.read"] == {"python": (ROOT / ".python-version").read_text().strip()}
    assert all(
        any(word in label for word in ("pulumi", "Pulumi", "policy pack's own virtualenv", "Log in", "Post"))
        for label in run.skipped
    ), run.skipped


def test_make_test_includes_the_workflow_check() -> None:
    result = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "check-jsonschema --builtin-schema vendor.github-workflows" in result.stdout
    assert "pytest" in result.stdout


def test_the_deploy_and_drift_workflows_offline_steps_run(tmp_path: Path) -> None:
    run = Run()
    _run_workflow("deploy.yml", tmp_path, run, [])
    assert "deploy.yml:prod: Install the project (make setup) and build the console (make console)" in run.ran
    assert "deploy.yml:prod: pulumi up under the policy pack" in run.skipped

    def drift_results(job: str, stack: str, temp: Path) -> None:
        # What the detect jobs' artifacts carry: dev drifted (exit 7), prod did not
        if job == "report":
            folder = temp / "drift"
            folder.mkdir(exist_ok=True)
            (folder / "dev.status").write_text("7\n")
            (folder / "dev.txt").write_text(
                "~ aws:sqs/queue:Queue estoque-reserva-queue update [diff: ~visibilityTimeout]\n"
            )
            (folder / "prod.status").write_text("0\n")
            (folder / "prod.txt").write_text("")

    _run_workflow("drift.yml", tmp_path, run, [], prepare=drift_results)
    assert "drift.yml:report: Write the report" in run.ran
    assert "drift.yml:report: Open, update or close the drift issue" in run.skipped
    report = (tmp_path / "drift.yml" / "all" / "drift" / "report.md").read_text()
    assert (
        "<summary>dev drifted</summary>" in report
        and "estoque-reserva-queue" in report
        and "prod drifted" not in report
    )
    summary = (tmp_path / "drift.yml" / "all" / "drift" / "summary").read_text()
    assert 'drifted="dev"' in summary and "checked=2" in summary


@pytest.mark.parametrize("stack", STACKS)
def test_the_roles_the_workflows_assume_are_the_ones_the_account_project_creates(stack: str) -> None:
    from tests.test_account_project import _github_ci

    prefix = _github_ci().ROLE_PREFIX
    text = "\n".join(path.read_text() for path in WORKFLOWS)
    assert f"role/{prefix}-${{{{ matrix.stack }}}}-read" in text
    assert f"role/{prefix}-{stack}-deploy" in text
