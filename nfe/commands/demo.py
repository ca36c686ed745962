"""`nfe demo`: start local mode on a free port and run three sagas end to end."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run a successful saga, a compensation and a cancelation locally")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default: a throwaway server")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="after the sagas, keep serving the API and the web console (make demo) until Ctrl-C; "
        "only when run from a terminal",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe.local.demo import DemoError, run_demo
    from nfe.local.system import LocalOptions, LocalSystem
    from nfe.pgserver import free_port

    # The demo prints its own timeline; handler warnings (an expected ReservaFalhou) would interleave.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    def progress(message: str) -> None:
        print(f"nfe local: {message}", flush=True)

    # The schedule stays at its deployed 60 s: the sagas below finish on the eager path alone.
    options = LocalOptions(port=free_port(), database_url=args.database_url, log=progress)
    with LocalSystem(options) as system:
        print(f"nfe local ready: {system.url}\n", flush=True)
        try:
            ok = run_demo(
                system.url,
                system.database_url,
                system.sign_in,
                reject_next=lambda c_stat, motivo: system.sefaz.force_rejection(c_stat, motivo, count=1),
            )
        except DemoError as exc:
            print(f"\nnfe demo: {exc}", file=sys.stderr)
            return 1
        print("\nnfe demo: every saga reached its expected final state" if ok else "\nnfe demo: FAILED")
        # Only for a person at a terminal: a script running `make demo && make test` must not wait forever.
        if ok and args.serve and sys.stdin.isatty():
            serve(system)
    return 0 if ok else 1


def serve(system: Any) -> None:
    """Until Ctrl-C: the console's URL and who may sign in to it."""
    from nfe.local.cognito import describe_users

    users = system.user_pool.users if system.user_pool else ()
    print(f"\nweb console: {system.url}/  (the API beside it at {system.url}/api/v1/...)", flush=True)
    for line in describe_users(users):
        print(f"  sign in as {line}", flush=True)
    print("Ctrl-C stops it.", flush=True)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too: the system's own cleanup (throwaway database) runs

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
