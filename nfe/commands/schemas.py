"""`nfe schemas [--check]`: write the event contracts' JSON Schemas to events/schemas/.

The pydantic models in functions/shared/events.py are the single source; the committed files are
generated from them, and a test (or `--check`, exit status 1) fails when the two drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "events" / "schemas"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schemas", help="write the event JSON Schemas (events/schemas/) from the models")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="folder (default: events/schemas/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files are stale")
    parser.set_defaults(func=run)


def render() -> dict[str, str]:
    """File name -> file text, exactly as committed."""
    from functions.shared.events import json_schemas

    return {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in json_schemas().items()}


def stale_files(folder: Path) -> list[str]:
    """Files missing, different, or left over in `folder` compared with the models."""
    wanted = render()
    present = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.json")} if folder.is_dir() else {}
    drift = [name for name, text in wanted.items() if present.get(name) != text]
    drift += [name for name in present if name not in wanted]
    return sorted(drift)


def run(args: argparse.Namespace) -> int:
    folder: Path = args.out
    if args.check:
        drift = stale_files(folder)
        if drift:
            print(f"nfe schemas: stale in {folder}: {', '.join(drift)}; run `nfe schemas`", file=sys.stderr)
            return 1
        print(f"{folder}: up to date")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for leftover in folder.glob("*.json"):
        if leftover.name not in wanted:
            leftover.unlink()
    for name, text in wanted.items():
        (folder / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} schema(s) to {folder}")
    return 0
