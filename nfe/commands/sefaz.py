"""`nfe sefaz`: run the emulated SEFAZ alone (for a team's own integration tests) until Ctrl-C or SIGTERM.

It prints what a client needs: the URL of each web service, the CA to trust, the client PKCS#12 and
its password (a test certificate generated on first run into --dir, outside the repository by
default, so no private key is ever committed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import types
from pathlib import Path


def _default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "nfe" / "sefaz"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sefaz", help="run the emulated SEFAZ (mutual TLS, SOAP 1.2) on its own")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port (default: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="test PKI and state.json (default $XDG_CACHE_HOME/nfe/sefaz, else ~/.cache/nfe/sefaz)",
    )
    parser.add_argument("--uf", default="SP", help="the emulated UF (default SP, cUF 35)")
    parser.add_argument("--ambiente", type=int, choices=(1, 2), default=2, help="tpAmb (default 2, homologação)")
    parser.add_argument("--no-persist", action="store_true", help="keep state in memory only (no state.json)")
    parser.add_argument("--extra-ca", type=Path, default=None, help="also accept client certificates of this CA")
    parser.add_argument("--json", action="store_true", help="print the connection details as one JSON line")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nfe.local.sefaz import SefazEmulator

    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    emulator = SefazEmulator(
        args.dir or _default_dir(),
        uf=args.uf,
        ambiente=args.ambiente,
        host=args.host,
        port=args.port,
        persist=not args.no_persist,
        extra_ca=args.extra_ca,
        verbose=args.verbose,
    )
    emulator.start()
    info = emulator.info()
    if args.json:
        print(json.dumps(info), flush=True)
    else:
        print(f"nfe sefaz: SEFAZ-{info['uf']} (cUF {info['cUF']}), tpAmb {info['tpAmb']}", flush=True)
        for name, url in info["endpoints"].items():
            print(f"  {name}: {url}", flush=True)
        print(f"  CA file: {info['caFile']}", flush=True)
        print(f"  client PKCS#12: {info['clientPkcs12']} (password {info['clientPassword']})", flush=True)
        print(f"  client PEM: {info['clientCert']} + {info['clientKey']} (CNPJ {info['cnpj']})", flush=True)
        print(
            f"  switches: POST {info['url']}/_emulator/switches; state: GET {info['url']}/_emulator/state", flush=True
        )
        print(f"nfe sefaz ready: {info['url']}", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0
