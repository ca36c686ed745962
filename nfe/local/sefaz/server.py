"""The emulated SEFAZ over HTTPS with mutual TLS, SOAP 1.2, and an admin endpoint for its switches.

Paths: `POST /ws/<Service>` (NFeAutorizacao4, NFeConsultaProtocolo4, NFeStatusServico4,
NFeRecepcaoEvento4, NFeInutilizacao4; `GET /ws/<Service>?wsdl` serves nfelib's WSDL), and
`GET /_emulator/state`, `GET|POST /_emulator/switches`, `POST /_emulator/reset`.

Every connection, the admin endpoint's too, must present a client certificate issued by the test CA
(or by the extra CA a caller trusts): one TLS policy is simpler to reason about than a loopback
exception, and any client that can talk SOAP to it already holds such a certificate. In-process
callers set switches through SefazEmulator's methods instead.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nfelib
from cryptography import x509
from lxml import etree

from nfe.local.sefaz.pki import DEFAULT_CNPJ, Pki, ensure_pki
from nfe.local.sefaz.rules import UF_CODES, Config
from nfe.local.sefaz.service import SERVICES, SefazService, describe
from nfe.local.sefaz.state import Store, SwitchError, Switches

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://www.portalfiscal.inf.br/nfe/wsdl/"
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
MAX_BODY = 1_000_000
HANG_LIMIT = 600.0
_WSDL_DIR = Path(nfelib.__file__).resolve().parent / "nfe" / "wsdl" / "v4_0"
_WSDL_FILES = {
    "NFeAutorizacao4": "nfeautorizacao4.wsdl",
    "NFeConsultaProtocolo4": "nfeconsulta4.wsdl",
    "NFeStatusServico4": "nfestatusservico4.wsdl",
    "NFeRecepcaoEvento4": "recepcaoevento4.wsdl",
    "NFeInutilizacao4": "nfeinutilizacao4.wsdl",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


def parse_envelope(body: bytes, service: str) -> etree._Element | None:
    """The message inside Envelope/Body/nfeDadosMsg (in the service's WSDL namespace), or None."""
    try:
        envelope = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    dados = envelope.find(f"{{{SOAP12}}}Body/{{{WSDL_NS}{service}}}nfeDadosMsg")
    if dados is None:
        return None
    children = [child for child in dados if isinstance(child.tag, str)]
    return children[0] if len(children) == 1 else None


def soap_answer(service: str, result: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
    body = etree.SubElement(envelope, f"{{{SOAP12}}}Body")
    holder = etree.SubElement(body, f"{{{WSDL_NS}{service}}}nfeResultMsg", nsmap={None: f"{WSDL_NS}{service}"})
    holder.append(result)
    answer: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "SefazEmulador/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, indent=1, ensure_ascii=False).encode(), "application/json")

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(413, {"message": f"body over {MAX_BODY} bytes"})
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        emulator = self.server.emulator
        if parts.path == "/_emulator/state":
            self._json(200, emulator.state())
        elif parts.path == "/_emulator/switches":
            self._json(200, emulator.switches.as_json())
        elif parts.path.startswith("/ws/") and parts.path[4:] in _WSDL_FILES and parts.query.lower() == "wsdl":
            self._send(200, (_WSDL_DIR / _WSDL_FILES[parts.path[4:]]).read_bytes(), "text/xml; charset=utf-8")
        else:
            self._json(404, {"message": f"no such path {parts.path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        emulator = self.server.emulator
        body = self._body()
        if body is None:
            return
        if path == "/_emulator/switches":
            try:
                patch = json.loads(body or b"{}")
                if not isinstance(patch, dict):
                    raise SwitchError("the body must be a JSON object")
                self._json(200, emulator.set_switches(**patch))
            except (ValueError, SwitchError) as error:
                self._json(400, {"message": str(error)})
            return
        if path == "/_emulator/reset":
            emulator.reset()
            self._json(200, emulator.state())
            return
        service = path[4:] if path.startswith("/ws/") else ""
        if service not in SERVICES:
            self._json(404, {"message": f"no such service {path}; known: {sorted(SERVICES)}"})
            return
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("application/soap+xml"):
            self._json(415, {"message": "SOAP 1.2: Content-Type must be application/soap+xml"})
            return
        down = emulator.switches.down
        if down == "close":
            self.close_connection = True
            return
        if down == "hang":
            emulator.hang_until_released()
            self.close_connection = True
            return
        if emulator.switches.delay_ms:
            time.sleep(emulator.switches.delay_ms / 1000)
        try:
            answer = emulator.service.handle(service, parse_envelope(body, service))
        except Exception as error:  # a bug of the emulator, not an answer of SEFAZ: say so plainly
            print(f"sefaz emulator: error on {service}: {error!r}", file=sys.stderr, flush=True)
            self._json(500, {"message": f"emulator error: {type(error).__name__}: {error}"})
            return
        self._send(200, soap_answer(service, answer), SOAP_CONTENT_TYPE)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: SefazEmulator) -> None:
        self.context = context
        self.emulator = emulator
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's thread, so a slow or certificate-less client
        # never holds up the accept loop.
        request.settimeout(30)
        # Headers and body leave in separate writes: without NODELAY each answer waits for a delayed ACK.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()


def tls_context(pki: Pki, extra_ca: str | Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(pki.ca_cert))
    if extra_ca is not None:
        context.load_verify_locations(cafile=str(extra_ca))
    return context


class SefazEmulator:
    """An emulated SEFAZ for one UF and ambiente: `SefazEmulator(directory).start()` returns its URL.

    `directory` holds the test PKI (generated on first use) and, with persist=True, `state.json`, so
    an emulator restarted on the same directory remembers what it authorized.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        uf: str = "SP",
        ambiente: int | str = 2,
        host: str = "127.0.0.1",
        port: int = 0,
        persist: bool = True,
        extra_ca: str | Path | None = None,
        cnpj: str = DEFAULT_CNPJ,
        verbose: bool = False,
    ) -> None:
        if uf not in UF_CODES:
            raise ValueError(f"unknown UF {uf!r}")
        if str(ambiente) not in ("1", "2"):
            raise ValueError("ambiente must be 1 (produção) or 2 (homologação)")
        self.directory = Path(directory)
        self.pki = ensure_pki(self.directory, cnpj=cnpj)
        trusted = x509.load_pem_x509_certificates(self.pki.ca_cert.read_bytes())
        if extra_ca is not None:
            trusted += x509.load_pem_x509_certificates(Path(extra_ca).read_bytes())
        self.config = Config(uf=uf, tp_amb=str(ambiente), trusted=tuple(trusted))
        self.state_file = self.directory / "state.json" if persist else None
        self.store = Store(self.state_file)
        self.switches = Switches()
        self.service = SefazService(self.config, self.store, self.switches)
        self.host, self.port = host, port
        self.extra_ca = extra_ca
        self.verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            return self.url
        self._stopping.clear()
        self._server = _Server((self.host, self.port), tls_context(self.pki, self.extra_ca), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="sefaz-emulator", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self.store.lock:
            self.store.flush()

    def __enter__(self) -> SefazEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "") else self.host  # noqa: S104
        return f"https://{host}:{self.port}"

    def endpoint(self, service: str) -> str:
        if service not in SERVICES:
            raise KeyError(service)
        return f"{self.url}/ws/{service}"

    def info(self) -> dict[str, Any]:
        """What a client needs: the URLs, the CA to trust, the client certificate and its password."""
        emitente = self.pki.emitente
        return {
            "url": self.url,
            "uf": self.config.uf,
            "cUF": self.config.cuf,
            "tpAmb": self.config.tp_amb,
            "endpoints": {name: self.endpoint(name) for name in SERVICES},
            "caFile": str(self.pki.ca_cert),
            "clientPkcs12": str(emitente.p12),
            "clientPassword": emitente.password,
            "clientCert": str(emitente.cert_pem),
            "clientKey": str(emitente.key_pem),
            "cnpj": emitente.cnpj,
            "stateFile": None if self.state_file is None else str(self.state_file),
        }

    # ---- switches and state ---------------------------------------------------------------------------

    def set_switches(self, **patch: Any) -> dict[str, Any]:
        """Apply switches given as the admin endpoint's JSON keys (delayMs, down, irregularEmitentes,
        irregularDestinatarios, forcedRejection, clock); returns them all."""
        with self.store.lock:
            self.switches.apply(patch)
            return self.switches.as_json()

    def delay(self, milliseconds: int) -> None:
        self.set_switches(delayMs=milliseconds)

    def down(self, mode: str | None) -> None:
        """ "108", "109", "hang" (read the request, never answer) or "close" (drop it); None: back up."""
        self.set_switches(down=mode)

    def deny_emitente(self, *cnpjs: str) -> None:
        self.set_switches(irregularEmitentes=list(cnpjs))

    def deny_destinatario(self, *documentos: str) -> None:
        self.set_switches(irregularDestinatarios=list(documentos))

    def force_rejection(self, cstat: int = 999, xmotivo: str | None = None, count: int | None = None) -> None:
        forced: dict[str, Any] = {"cStat": cstat, "count": count}
        if xmotivo is not None:
            forced["xMotivo"] = xmotivo
        self.set_switches(forcedRejection=forced)

    def set_clock(self, fixed: datetime.datetime | None = None, offset: datetime.timedelta | None = None) -> None:
        seconds = 0.0 if offset is None else offset.total_seconds()
        self.set_switches(clock={"fixed": None if fixed is None else fixed.isoformat(), "offsetSeconds": seconds})

    def now(self) -> datetime.datetime:
        return self.switches.now()

    def reset_switches(self) -> None:
        with self.store.lock:
            fresh = Switches()
            for name in vars(fresh):
                setattr(self.switches, name, getattr(fresh, name))

    def reset(self) -> None:
        """Forget every NF-e, event and inutilização, and put every switch back."""
        with self.store.lock:
            self.store.clear()
            self.reset_switches()

    def state(self) -> dict[str, Any]:
        return describe(self.store, self.switches, self.config)

    def hang_until_released(self) -> None:
        deadline = time.monotonic() + HANG_LIMIT
        while self.switches.down == "hang" and not self._stopping.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
