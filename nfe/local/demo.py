"""`nfe demo`: three sagas through local mode, with a timeline of what happened when.

It talks to the local API over HTTP like any client, signed in as the demo users (the estoquista
creates the produtos, the faturista emits and cancels the notas, the auditor reads the final
state), shows the 401 of an unsigned request and the 403 of a user outside the route's group, then
reads the timestamps each step left in PostgreSQL (outbox rows, reservas, nota transitions) to show
where the time went.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from nfe.local.fiscal_demo import DESTINATARIO_SP, PRODUTO_FISCAL

# Where a saga ends: SEFAZ's answer, a reservation that failed, a cancelation. CONFIRMADA is a step: the
# NF-e is with SEFAZ.
TERMINAL = {"AUTORIZADA", "REJEITADA", "DENEGADA", "ERRO_ESTOQUE", "CANCELADA"}
# Where `nfe demo` writes the authorized nota's XML (the nfeProc) and DANFE.
DOCUMENTS_DIR = Path("build/demo")


class DemoError(RuntimeError):
    pass


@dataclass
class HttpClient:
    base_url: str
    # An ID token, sent as API Gateway's Cognito authorizer reads it: `Authorization: <token>`.
    token: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = self.token
        return headers

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (loopback URL built by us)
            self.base_url + path, data=data, method=method, headers=self.headers()
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def download(self, path: str, accept: str) -> bytes:
        """A document route's body as it came (the NF-e's XML, the DANFE's PDF). `accept` first: API
        Gateway (and local mode's gateway) sends a binary answer as bytes only when the request's first
        Accept is one of the API's binary media types, and its base64 text otherwise."""
        headers = {**self.headers(), "Accept": accept}
        request = urllib.request.Request(self.base_url + path, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body: bytes = response.read()
            return body

    def expect(self, status: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        got, payload = self.call(method, path, body)
        if got != status:
            raise DemoError(f"{method} {path}: expected {status}, got {got}: {payload}")
        return payload

    def wait_for_status(self, nota_id: str, wanted: set[str], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            nota = self.expect(200, "GET", f"/api/v1/notas/{nota_id}")
            if nota["status"] in wanted or time.monotonic() > deadline:
                return dict(nota)
            time.sleep(0.005)


def timeline(database_url: str, nota_id: str, started: datetime) -> list[tuple[float, str]]:
    """Every step the saga left a timestamp for, in milliseconds since the request was sent."""
    steps: list[tuple[datetime, str]] = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        nota = conn.execute("SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (nota_id,)).fetchone()
        if nota is None:
            return []
        steps.append((nota["criada_em"], "nota PENDING committed with its NotaFiscalCriada outbox row"))
        emitidas = []
        for schema in ("faturamento", "estoque"):
            for row in conn.execute(
                f"SELECT id, tipo, criado_em, publicado_em FROM {schema}.eventos_outbox WHERE agregado_id = %s",
                (nota_id,),
            ):
                if schema == "estoque":
                    steps.append((row["criado_em"], f"estoque consumer committed {row['tipo']}"))
                elif row["tipo"] == "NotaFiscalEmitida":
                    steps.append((row["criado_em"], "faturamento consumer numbered it: CONFIRMADA, NotaFiscalEmitida"))
                if row["publicado_em"]:
                    steps.append((row["publicado_em"], f"{row['tipo']} published to the bus"))
                if row["tipo"] == "NotaFiscalEmitida":
                    emitidas.append(row["id"])
        for row in conn.execute(
            "SELECT processada_em, tipo FROM faturamento.mensagens_processadas m "
            "WHERE EXISTS (SELECT 1 FROM estoque.eventos_outbox o WHERE o.id = m.evento_id AND o.agregado_id = %s)",
            (nota_id,),
        ):
            steps.append((row["processada_em"], f"faturamento consumer applied {row['tipo']}"))
        # SEFAZ's answers are put on the bus by the SEFAZ function, whose event ids derive from the
        # NotaFiscalEmitida they answer (functions/sefaz/participant.py).
        from functions.sefaz.participant import answer_event_id
        from functions.shared.events import EventName

        answers = [
            str(answer_event_id(emitida, name))
            for emitida in emitidas
            for name in (
                EventName.NOTA_FISCAL_AUTORIZADA,
                EventName.NOTA_FISCAL_REJEITADA,
                EventName.NOTA_FISCAL_DENEGADA,
            )
        ]
        for schema in ("faturamento", "estoque"):
            for row in conn.execute(
                f"SELECT processada_em, tipo FROM {schema}.mensagens_processadas WHERE evento_id::text = ANY(%s)",
                (answers,),
            ):
                steps.append((row["processada_em"], f"{schema} consumer applied SEFAZ's {row['tipo']}"))
        if nota["status"] != "PENDING":
            # atualizada_em is when the consumer's transition committed (erro_timestamp is when the
            # reservation failed, earlier, in the estoque service).
            steps.append((nota["atualizada_em"], f"nota {nota['status']}"))
    return sorted(((ts - started).total_seconds() * 1000, label) for ts, label in steps)


FATURISTA = "faturista@example.com"
ESTOQUISTA = "estoquista@example.com"
AUDITOR = "auditor@example.com"


def run_demo(
    base_url: str,
    database_url: str,
    sign_in: Callable[[str], str],
    out: Callable[[str], None] = print,
    documents_dir: Path = DOCUMENTS_DIR,
    reject_next: Callable[[int, str], None] | None = None,
) -> bool:
    """`sign_in(email)` returns the demo user's ID token (nfe.local.cognito.sign_in); the authorized
    nota's XML and DANFE are written under `documents_dir`. `reject_next(cStat, motivo)` makes the
    emulated SEFAZ reject the next NF-e (its forcedRejection switch): saga 3 shows the compensation."""
    tokens = {email: sign_in(email) for email in (ESTOQUISTA, FATURISTA, AUDITOR)}
    out(f"signed in: {', '.join(tokens)}")
    estoque = HttpClient(base_url, tokens[ESTOQUISTA])
    api = HttpClient(base_url, tokens[FATURISTA])
    auditor = HttpClient(base_url, tokens[AUDITOR])
    suffix = str(int(time.time() * 1000))[-6:]
    parafuso = estoque.expect(
        201,
        "POST",
        "/api/v1/produtos",
        {"sku": f"PAR-{suffix}", "nome": "Parafuso 6mm", "quantidade": 10, **PRODUTO_FISCAL},
    )
    porca = estoque.expect(
        201, "POST", "/api/v1/produtos", {"sku": f"POR-{suffix}", "nome": "Porca M6", "quantidade": 1, **PRODUTO_FISCAL}
    )
    out(f"produtos: {parafuso['sku']} (10 un.), {porca['sku']} (1 un.), criadoPor {parafuso['criadoPor']['email']}")
    destinatario = DESTINATARIO_SP
    results: list[tuple[str, str, str]] = []

    out("\n== who may do what")
    nota_body = {
        "destinatario": destinatario,
        "items": [{"produtoId": parafuso["id"], "quantidade": 1, "valorUnitario": "10.50"}],
    }
    status, _ = HttpClient(base_url).call("POST", "/api/v1/notas", nota_body)
    out(f"  no token:   POST /api/v1/notas -> {status} (API Gateway's authorizer; no function ran)")
    results.append(("no token is refused", str(status), "401"))
    status, refused = estoque.call("POST", "/api/v1/notas", nota_body)
    out(f"  {ESTOQUISTA}: POST /api/v1/notas -> {status} {refused.get('message') if refused else ''}")
    results.append(("estoque may not emit a nota", str(status), "403"))
    status, refused = auditor.call("POST", f"/api/v1/produtos/{parafuso['id']}/entradas", {"quantidade": 1})
    out(f"  {AUDITOR}: POST /entradas -> {status} {refused.get('message') if refused else ''}")
    results.append(("auditoria may not register an entrada", str(status), "403"))

    def saga(title: str, item: dict[str, Any], wanted: str) -> dict[str, Any]:
        out(f"\n== {title}")
        started = datetime.now().astimezone()
        t0 = time.monotonic()
        nota = api.expect(201, "POST", "/api/v1/notas", {"destinatario": destinatario, "items": [item]})
        out(
            f"  {(time.monotonic() - t0) * 1000:7.1f} ms  POST /api/v1/notas -> 201 {nota['status']} "
            f"(criadaPor {nota['criadaPor']['email']})"
        )
        final = api.wait_for_status(nota["id"], TERMINAL)
        out(f"  {(time.monotonic() - t0) * 1000:7.1f} ms  client saw {final['status']}")
        if final["numero"] is not None:
            chave = final["chave"]
            out(
                f"             NF-e número {final['numero']}, série {final['serie']}, {final['ambiente']}; chave "
                + " ".join(chave[i : i + 4] for i in range(0, 44, 4))
            )
            if final["protocolo"] and final["status"] == "AUTORIZADA":
                out(f"             SEFAZ authorized it: protocolo {final['protocolo']} at {final['autorizadaEm']}")
            if final["sefaz"]:
                out(f"             SEFAZ refused it: cStat {final['sefaz']['cStat']} {final['sefaz']['motivo']}")
        else:
            out(f"             no número: {final['status']} takes none")
        for ms, label in timeline(database_url, nota["id"], started):
            out(f"  {ms:7.1f} ms  {label}")
        results.append((title, final["status"], wanted))
        return final

    confirmed = saga(
        "saga 1: stock available -> CONFIRMADA -> SEFAZ authorizes -> AUTORIZADA",
        {"produtoId": parafuso["id"], "quantidade": 2, "valorUnitario": "10.50"},
        "AUTORIZADA",
    )
    saga(
        "saga 2: not enough stock -> ERRO_ESTOQUE (compensation)",
        {"produtoId": porca["id"], "quantidade": 5, "valorUnitario": "3.20"},
        "ERRO_ESTOQUE",
    )
    if reject_next is not None:
        reject_next(610, "Rejeição: Total da NF difere do somatório dos Valores compõe o valor Total da NF.")
        rejected = saga(
            "saga 3: stock reserved, SEFAZ rejects it -> REJEITADA, the stock released (compensation)",
            {"produtoId": parafuso["id"], "quantidade": 3, "valorUnitario": "10.50"},
            "REJEITADA",
        )
        # The release is Estoque's answer to SEFAZ's: the nota says when it arrived.
        released = api.wait_for_status(rejected["id"], {"REJEITADA"})
        deadline = time.monotonic() + 10
        while released["estoqueLiberadoEm"] is None and time.monotonic() < deadline:
            time.sleep(0.02)
            released = api.expect(200, "GET", f"/api/v1/notas/{rejected['id']}")
        out(
            f"             its stock came back at {released['estoqueLiberadoEm']}; número {released['numero']} "
            "awaits inutilização"
        )
        results.append(
            ("saga 3: the rejected nota's stock released", str(released["estoqueLiberadoEm"] is not None), "True")
        )

    documents_dir.mkdir(parents=True, exist_ok=True)
    chave = confirmed["chave"]
    xml = api.download(f"/api/v1/notas/{confirmed['id']}/xml", "application/xml")
    xml_path = documents_dir / f"NFe{chave}.xml"
    xml_path.write_bytes(xml)
    danfe_path = documents_dir / f"NFe{chave}-danfe.pdf"
    danfe_path.write_bytes(api.download(f"/api/v1/notas/{confirmed['id']}/danfe", "application/pdf"))
    out(f"  wrote {xml_path} ({len(xml):,} bytes) and {danfe_path} ({danfe_path.stat().st_size:,} bytes)")
    # Checked against the official schema the way anyone would: the nfeProc (the signed NF-e and SEFAZ's
    # protNFe) against procNFe_v4.00.xsd as nfelib ships it.
    import nfelib
    from lxml import etree

    xsd = Path(nfelib.__file__).parent / "nfe" / "schemas" / "v4_0" / "procNFe_v4.00.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    valid = schema.validate(etree.fromstring(xml))
    problems = [f"line {e.line}: {e.message}" for e in schema.error_log]
    out(f"  procNFe_v4.00.xsd: {'valid' if valid else '; '.join(problems[:3])}")
    results.append(("the nfeProc against the official schema", "valid" if valid else "invalid", "valid"))

    out("\n== saga 4: cancel the authorized nota: SEFAZ registers evento 110111 -> CANCELADA, stock released")
    started = datetime.now().astimezone()
    t0 = time.monotonic()
    pedido = api.expect(
        202,
        "POST",
        f"/api/v1/notas/{confirmed['id']}/cancelamento",
        {"justificativa": "Pedido cancelado pelo cliente antes da entrega"},
    )
    out(
        f"  {(time.monotonic() - t0) * 1000:7.1f} ms  POST /cancelamento -> 202 "
        f"(cancelamentoSolicitadoPor {pedido['cancelamentoSolicitadoPor']['email']})"
    )
    cancelled = api.wait_for_status(confirmed["id"], {"CANCELADA"})
    out(f"  {(time.monotonic() - t0) * 1000:7.1f} ms  client saw {cancelled['status']}")
    if cancelled["cancelamentoProtocolo"]:
        out(f"             SEFAZ registered the cancelamento: protocolo {cancelled['cancelamentoProtocolo']}")
    # The goods come back after SEFAZ's registration: Estoque answers the NotaFiscalCancelada that follows.
    deadline = time.monotonic() + 10
    while cancelled["estoqueLiberadoEm"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
        cancelled = api.expect(200, "GET", f"/api/v1/notas/{confirmed['id']}")
    for ms, label in timeline(database_url, confirmed["id"], started):
        if ms >= 0:
            out(f"  {ms:7.1f} ms  {label}")
    results.append(("saga 4: cancelation", cancelled["status"], "CANCELADA"))

    out("\n== the numbering's accounting (`nfe fiscal numeracao`): every número of the série and its fate")
    from nfe.ops.numeracao import lines as numeracao

    for line in numeracao(database_url):
        out(f"  {line}")

    out(f"\n== final state (read by {AUDITOR})")
    stock = {
        p["sku"]: auditor.expect(200, "GET", f"/api/v1/produtos/{p['id']}")["quantidade"] for p in (parafuso, porca)
    }
    for title, final_status, wanted in results:
        out(f"  {'ok ' if final_status == wanted else 'BAD'} {title}: {final_status} (expected {wanted})")
    expected_stock = {parafuso["sku"]: 10, porca["sku"]: 1}
    for sku, quantidade in stock.items():
        mark = "ok " if quantidade == expected_stock[sku] else "BAD"
        out(f"  {mark} produto {sku}: quantidade {quantidade} (expected {expected_stock[sku]})")
    return all(status == wanted for _, status, wanted in results) and stock == expected_stock
