"""`nfe local`: run the whole saga on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import types
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("local", help="run the whole saga locally (PostgreSQL + AWS emulator)")
    parser.add_argument("--port", type=int, default=3000, help="HTTP port of the local API (default 3000)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL owner URL (default $DATABASE_URL, else a throwaway server removed on exit)",
    )
    parser.add_argument(
        "--outbox-interval",
        type=float,
        default=60.0,
        help="seconds between scheduled publisher runs (default 60, as deployed)",
    )
    parser.add_argument(
        "--no-eager-publish",
        dest="eager_publish",
        action="store_false",
        help="publish only on the schedule, as if eager publishing failed every time",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=90,
        help="SQS visibility timeout in seconds (default 90, as deployed; lower it to see DLQ redrive sooner)",
    )
    parser.add_argument(
        "--outage-tolerance",
        type=int,
        default=15 * 60,
        metavar="SECONDS",
        help="how long a dependency (the database) may be down before the consumers' messages are "
        "dead-lettered: failed receives back off over it (default 900, as deployed; lower it with "
        "--visibility-timeout to scale time down)",
    )
    parser.add_argument(
        "--users",
        type=Path,
        default=None,
        metavar="FILE",
        help='users of the local user pool instead of the demo users: a JSON list of {"email", "groups": '
        '["faturamento"|"estoque"|"auditoria", ...], "password"?} (password default NfeDemo#2026)',
    )
    parser.add_argument(
        "--cors-origin",
        default=None,
        metavar="ORIGIN",
        help="the one other origin (http://host:port) a browser may call the API from, as the stack's "
        "nfe:api.corsAllowOrigin; this server's own origin by default",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the endpoints, queues, bus and database URL here as JSON once ready (read by "
        "nfe dlq/replay/outbox/saga --state-file PATH); removed on exit",
    )
    parser.add_argument(
        "--logs-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each function's log (its containers' output: JSON logs and EMF metrics) to DIR/<function>.log "
        "and keep them; a temporary directory, removed on exit, by default",
    )
    parser.add_argument(
        "--trace-all",
        action="store_true",
        help="send every invocation's X-Ray trace to the local daemon; by default invocations are traced as "
        "Lambda samples them (the first each second and 5 percent of the rest)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe.local.system import LocalOptions, LocalSystem

    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def progress(message: str) -> None:
        print(f"nfe local: {message}", flush=True)

    from nfe.local import cognito

    try:
        users = cognito.load_users(args.users) if args.users is not None else cognito.DEMO_USERS
    except cognito.UsersFileError as exc:
        print(f"nfe local: --users: {exc}", file=sys.stderr, flush=True)
        return 2
    system = LocalSystem(
        LocalOptions(
            users=users,
            port=args.port,
            database_url=args.database_url,
            outbox_interval_seconds=args.outbox_interval,
            eager_publish=args.eager_publish,
            visibility_timeout_seconds=args.visibility_timeout,
            outage_tolerance_seconds=args.outage_tolerance,
            cors_origin=args.cors_origin,
            logs_dir=args.logs_dir,
            trace_all=args.trace_all,
            log=progress,
        )
    )
    try:
        system.start()
    except Exception as exc:
        print(f"nfe local: failed to start: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    if args.state_file is not None:
        system.write_state_file(args.state_file)
        progress(f"state file: {args.state_file}")
    print(f"nfe local ready: {system.url}", flush=True)
    try:
        stop.wait()
    finally:
        progress("stopping")
        system.stop()
        if args.state_file is not None:
            # A file left behind would point the tools at ports nobody listens on any more.
            args.state_file.unlink(missing_ok=True)
        progress("stopped")
    return 0
