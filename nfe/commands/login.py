"""`nfe login --state-file PATH --user EMAIL`: sign in to local mode's user pool and print the ID token.

The token goes alone to stdout, so a shell can keep it: `TOKEN=$(nfe login --state-file s.json
--user faturista@example.com)`, then `curl -H "Authorization: $TOKEN" ...`. It signs in the way the
console does (InitiateAuth, USER_PASSWORD_AUTH) at the emulator the state file names.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("login", help="print an ID token of a local mode user (for curl)")
    parser.add_argument("--state-file", type=Path, required=True, metavar="PATH", help="written by nfe local")
    parser.add_argument("--user", required=True, metavar="EMAIL", help="e.g. faturista@example.com")
    parser.add_argument(
        "--password",
        default=None,
        help="default: $NFE_PASSWORD, else the demo users' password (NfeDemo#2026)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import boto3

    from nfe.local import cognito
    from nfe.local.emulator import LOCAL_CREDENTIALS

    try:
        state = json.loads(args.state_file.read_text())
        endpoint, region, client_id = state["awsEndpoint"], state["region"], state["userPoolClientId"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"nfe login: {args.state_file}: not a state file of nfe local ({exc})", file=sys.stderr)
        return 2
    password = args.password or os.environ.get("NFE_PASSWORD") or cognito.DEMO_PASSWORD
    client = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region, **LOCAL_CREDENTIALS)
    try:
        tokens = cognito.sign_in(client, client_id, args.user, password)
    except cognito.SignInError as exc:
        print(f"nfe login: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the emulator is gone, or never was there
        print(f"nfe login: cannot reach {endpoint}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(tokens["IdToken"])
    return 0
