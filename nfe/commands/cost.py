"""`nfe cost --stack dev|prod`: the stack's monthly cost from its offline plan (as a deploy or as a
first `pulumi preview` sees it, `--preview`) or a real preview document (`--preview-json`).

`--format github` renders the pull-request comment (nfe/cost/comment.py): this estimate against the
base branch's (`--base-preview-json`, or `--diff` with an earlier `--format json` estimate).

Exit codes: 0 estimate printed; 1 (`--format github` only) the cost guardrail blocks the change and
the pull request's `--labels` lack the override label: the comment is printed all the same; 2 the
program, the stack config, the preview document, the price table or the --diff file could not be
used (the message says which and why).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FORMATS = ("table", "markdown", "json", "github")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="monthly cost review of a stack, beside the seed's ECS baseline",
        description=(
            "Price every resource of a stack from its offline plan (or a `pulumi preview --json"
            " --show-sames` document), the stack's nfe:usage block and the versioned price tables."
        ),
    )
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml (dev, prod)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--preview-json",
        type=Path,
        metavar="FILE",
        help="price the resources of this `pulumi preview --json --show-sames` output instead of the offline plan",
    )
    source.add_argument(
        "--preview",
        action="store_true",
        help="run the offline plan as a first `pulumi preview` would (ids and computed outputs unknown)"
        " and list what cannot be priced from it",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument(
        "--diff",
        type=Path,
        metavar="OTHER.json",
        help="compare with an earlier `--format json` estimate, line by line (OTHER is the 'before')",
    )
    parser.add_argument(
        "--base-preview-json",
        type=Path,
        metavar="FILE",
        help="--format github: the base branch's `pulumi preview --json --show-sames` (the 'before')",
    )
    parser.add_argument(
        "--base-stack-file",
        type=Path,
        metavar="FILE",
        help="--format github: the base branch's Pulumi.<stack>.yaml, whose nfe:usage prices the 'before'"
        " (default: this checkout's)",
    )
    parser.add_argument(
        "--labels",
        default="",
        metavar="A,B",
        help="--format github: the pull request's labels, comma-separated; nfe:costGuardrail.overrideLabel"
        " among them unblocks a blocked change",
    )
    parser.add_argument(
        "--free-tier", action="store_true", help="subtract the account's free-tier allowances (off by default)"
    )
    parser.add_argument(
        "--project-dir", type=Path, default=None, help="folder with Pulumi.yaml (default: nearest above cwd)"
    )
    parser.set_defaults(func=run)


def find_project(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").exists():
            return folder
    return Path(__file__).resolve().parents[2]


class CostCommandError(Exception):
    pass


def _fail(message: str) -> int:
    print(f"nfe cost: {message}", file=sys.stderr)
    return 2


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise CostCommandError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read_text(path, what))
    except json.JSONDecodeError as exc:
        raise CostCommandError(f"{what} {path} is not JSON: {exc}") from None


def _preview_resources(path: Path, stack: str, region: str) -> list[Any]:
    from nfe.cost.preview import PreviewError, parse_preview, read_preview, stack_of

    text = _read_text(path, "preview document")
    try:
        resources, config = parse_preview(read_preview(text))
    except PreviewError as exc:
        raise CostCommandError(f"{path}: {exc}") from None
    preview_region = config.get("aws:region")
    if preview_region and preview_region != region:
        raise CostCommandError(f"{path} was previewed in {preview_region}, but Pulumi.{stack}.yaml says {region}")
    preview_stack = stack_of(resources)
    # A Pulumi Cloud stack is named org/stack in the CLI, but its URNs carry the stack alone.
    if preview_stack and preview_stack != stack.rsplit("/", 1)[-1]:
        raise CostCommandError(f"{path} is a preview of stack {preview_stack!r}, not {stack!r}")
    return list(resources)


def _resources(args: argparse.Namespace, project: Path, region: str) -> list[Any]:
    if args.preview_json is not None:
        return _preview_resources(args.preview_json, args.stack, region)

    from nfe.mockrun import ProgramError
    from nfe.plan import plan

    if not (project / "__main__.py").exists():
        raise CostCommandError(f"no Pulumi program in {project} (__main__.py); pass --preview-json FILE instead")
    try:
        return list(plan(args.stack, project, preview=args.preview).resources)
    except ProgramError as exc:
        raise CostCommandError(f"the Pulumi program failed for stack {args.stack}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from nfe.config import ConfigError, load_stack_file
    from nfe.cost import PriceTableError, estimate
    from nfe.cost.diff import DIFF_RENDERERS, DiffError, diff_estimates
    from nfe.cost.render import RENDERERS

    project = (args.project_dir or find_project(Path.cwd())).resolve()
    stack_file = project / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        return _fail(f"no stack file {stack_file}")
    try:
        config = load_stack_file(stack_file)
    except ConfigError as exc:
        return _fail(f"{stack_file.name} is not valid:\n" + "\n".join(f"  {p}" for p in exc.problems))
    if args.format == "github":
        return _github(args, project, config)
    try:
        resources = _resources(args, project, config.region)
        result = estimate(resources, config, free_tier=args.free_tier)
        if args.preview:
            result.notes.insert(
                0, "offline plan in preview mode: ids and computed outputs unknown, as at a first preview"
            )
        if args.diff is not None:
            before = _read_json(args.diff, "--diff file")
            try:
                comparison = diff_estimates(before, result.to_json())
            except DiffError as exc:
                raise CostCommandError(f"{args.diff}: {exc}") from None
            sys.stdout.write(DIFF_RENDERERS[args.format](comparison))
            return 0
    except CostCommandError as exc:
        return _fail(str(exc))
    except PriceTableError as exc:
        return _fail(f"price table: {exc}")
    sys.stdout.write(RENDERERS[args.format](result))
    return 0


def _github(args: argparse.Namespace, project: Path, config: Any) -> int:
    """The pull-request comment: this estimate against the base branch's, and the guardrail's verdict."""
    from nfe.config import ConfigError, load_stack_file
    from nfe.cost import PriceTableError, estimate
    from nfe.cost.comment import evaluate_guardrail, render_github
    from nfe.cost.diff import DiffError, diff_estimates

    if (args.base_preview_json is None) == (args.diff is None):
        return _fail("--format github compares with the base branch: pass --base-preview-json FILE or --diff FILE")
    try:
        after = estimate(_resources(args, project, config.region), config, free_tier=args.free_tier)
        if args.base_preview_json is not None:
            base_config = config
            if args.base_stack_file is not None:
                try:
                    base_config = load_stack_file(args.base_stack_file)
                except ConfigError as exc:
                    raise CostCommandError(
                        f"{args.base_stack_file} is not valid:\n" + "\n".join(f"  {p}" for p in exc.problems)
                    ) from None
            base_resources = _preview_resources(args.base_preview_json, args.stack, base_config.region)
            before = estimate(base_resources, base_config, free_tier=args.free_tier).to_json()
        else:
            before = _read_json(args.diff, "--diff file")
        after_json = after.to_json()
        try:
            comparison = diff_estimates(before, after_json)
        except DiffError as exc:
            raise CostCommandError(f"{args.base_preview_json or args.diff}: {exc}") from None
    except CostCommandError as exc:
        return _fail(str(exc))
    except PriceTableError as exc:
        return _fail(f"price table: {exc}")
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    verdict = evaluate_guardrail(comparison, config.cost_guardrail, config.monthly_budget_usd, labels)
    notes = ["Free tier applied." if args.free_tier else "Free tier not applied."]
    if args.preview:
        notes.append("After: the offline plan in preview mode.")
    sys.stdout.write(
        render_github(
            comparison,
            before,
            after_json,
            verdict,
            config.cost_guardrail,
            notes=notes,
            price_table=after.price_table_version,
        )
    )
    return verdict.exit_code
