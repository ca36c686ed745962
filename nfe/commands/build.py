"""`nfe build [--stack NAME]`: package every function and the dependency layer under build/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", help="build the Lambda zips and the arm64 dependency layer")
    parser.add_argument(
        "--stack",
        default=None,
        help="take nfe:database.caBundlePath from Pulumi.<stack>.yaml and package the bundle",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe import build
    from nfe.config import ConfigError, load_stack_file

    ca_bundle = None
    if args.stack:
        try:
            config = load_stack_file(build.PROJECT_ROOT / f"Pulumi.{args.stack}.yaml")
            tls = build.tls_settings(
                config.environment, config.database.ca_bundle_path, offline=False, via_proxy=config.database.proxy
            )
            ca_bundle = tls.bundle
        except (ConfigError, build.BuildError, OSError) as exc:
            print(f"nfe build: {exc}", file=sys.stderr)
            return 2
    try:
        artifacts = build.build_all(ca_bundle)
    except build.BuildError as exc:
        print(f"nfe build: {exc}", file=sys.stderr)
        return 1
    layer_size = build.unzipped_size(artifacts.layer)
    rows = [
        (_relative(path), path.stat().st_size, f"with layer, unzipped: {build.unzipped_size(path) + layer_size:,}")
        for _name, path in sorted(artifacts.functions.items())
    ]
    rows.append((_relative(artifacts.layer), artifacts.layer.stat().st_size, f"unzipped: {layer_size:,}"))
    width = max(len(name) for name, _, _ in rows)
    for name, size, note in rows:
        print(f"{name:<{width}}  {size:>10,} bytes  ({note})")
    return 0


def _relative(path: Path) -> str:
    from nfe.build import PROJECT_ROOT

    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
