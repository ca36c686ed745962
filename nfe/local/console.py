"""The built web console, served by local mode at `/` beside `/api/*`, as the distribution's two
behaviours serve it (components/static_site.py): files with their types and cache headers, a
route without a file extension resolved to its prerendered page, else to index.html, and
`/config.json` written from the running system (its user pool client, its Cognito endpoint).
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfe.build import PROJECT_ROOT

DEFAULT_DIST = PROJECT_ROOT / "frontend" / "dist" / "nfe-console" / "browser"
# Angular's output hashing; the same rule components/static_site.py uploads by.
HASHED_ASSET = re.compile(r"-[A-Z0-9]{8}\.(?:js|mjs|css)$")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT = (
    "<!doctype html><html lang='pt-BR'><meta charset='utf-8'><title>Console não construído</title>"
    "<h1>The web console is not built</h1><p>Run <code>make build</code> (Node 20 and npm), then reload. "
    "The API is served at <code>/api/v1/...</code> all the same.</p></html>"
)


def security_headers(cognito_endpoint: str) -> dict[str, str]:
    """The distribution's response headers policy, less HSTS (local mode is plain HTTP on loopback);
    connect-src names the emulator, where the deployed policy names Cognito's endpoint."""
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            f"connect-src 'self' {cognito_endpoint.rstrip('/')}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def content_type(name: str) -> str:
    if name.endswith((".js", ".mjs")):
        return "text/javascript"
    guessed, _ = mimetypes.guess_type(name)
    if guessed and (guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml")):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


@dataclass
class ConsoleSite:
    root: Path
    # The console's RuntimeConfig (frontend/src/app/core/config.ts).
    runtime_config: dict[str, Any] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    def resolve(self, path: str) -> Path | None:
        """The file a GET of `path` answers with, as the distribution's router function picks it."""
        relative = path.lstrip("/")
        last = relative.rsplit("/", 1)[-1]
        if "." not in last:
            page = self.root / relative.rstrip("/") / "index.html" if relative else self.root / "index.html"
            relative = page.relative_to(self.root).as_posix() if page.is_file() else "index.html"
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root.resolve()) or not candidate.is_file():
            return None
        return candidate

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        endpoint = str(self.runtime_config.get("cognitoEndpoint", ""))
        headers = security_headers(endpoint)
        if path == "/config.json":
            body = json.dumps(self.runtime_config).encode()
            return 200, {**headers, "Content-Type": "application/json", "Cache-Control": NO_CACHE}, body
        if not self.built:
            return (
                404,
                {**headers, "Content-Type": "text/html; charset=utf-8", "Cache-Control": NO_CACHE},
                NOT_BUILT.encode(),
            )
        found = self.resolve(path)
        if found is None:
            # What S3 answers through OAC for a missing key.
            return 403, {**headers, "Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"
        cache = IMMUTABLE if HASHED_ASSET.search(found.name) else NO_CACHE
        return 200, {**headers, "Content-Type": content_type(found.name), "Cache-Control": cache}, found.read_bytes()
