"""The fiscal step's CPU: building and validating an NF-e's XML, signing it, and rendering its DANFE.

Measured in this process with `time.process_time` (CPU, not wall time) over notas of one and of
twenty items, after one warm-up call that pays the schema's and the fonts' first load (reported
apart: a container's first nota pays it once). The same code Faturamento's consumer runs when the
stock is reserved (functions/fiscal/xml.py), the SEFAZ function runs before each call to SEFAZ
(`Assinador.sign`, with the certificate opened once as a warm container keeps it) and the DANFE
route runs on its first request (functions/fiscal/danfe.py). The certificate is an A1 of the emulated
SEFAZ's test PKI (RSA 2048, as A1 certificates are), made for the run in a temporary directory; opening
it (the PKCS#12's key derivation, once per container and certificate) is reported apart.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from bench.harness import say
from nfe.local.fiscal_demo import DEMO_EMITENTE, DESTINATARIO_RJ, PRODUTO_FISCAL


def _nota(numero: int, items: int) -> Any:
    from functions.fiscal.chave import gerar_cnf
    from functions.fiscal.model import Destinatario, Emitente, Item, NotaFiscal, ProdutoFiscal

    return NotaFiscal(
        emitente=Emitente.model_validate(DEMO_EMITENTE),
        destinatario=Destinatario.model_validate(DESTINATARIO_RJ),
        numero=numero,
        serie=1,
        dh_emi=datetime.now(UTC).astimezone(timezone(timedelta(hours=-3))),
        cnf=gerar_cnf(numero),
        items=[
            Item(
                numero=i,
                produto=ProdutoFiscal(codigo=f"SKU-{i}", descricao=f"Produto {i}", **PRODUTO_FISCAL),
                quantidade=Decimal(i),
                valor_unitario=Decimal("10.50"),
            )
            for i in range(1, items + 1)
        ],
    )


def _cpu_ms(action: Any, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        action()
    return round((time.process_time() - started) * 1000 / count, 2)


def _build_and_validate(nfe_xml: Any, notas: Any) -> Any:
    def step() -> None:
        if nfe_xml.validate(nfe_xml.to_xml(next(notas))):
            raise AssertionError("the benchmark's NF-e does not validate")

    return step


def _signing(xmls_by_items: dict[int, list[str]], details: dict[str, Any]) -> dict[str, float]:
    """CPU ms per `Assinador.sign` over each list of XMLs, with the emulator's test A1."""
    import tempfile
    from pathlib import Path

    from functions.fiscal.xml import Assinador
    from nfe.local.sefaz.pki import ensure_pki

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-a1-") as directory:
        emitente = ensure_pki(Path(directory), cnpj=DEMO_EMITENTE["cnpj"]).emitente
        pkcs12 = emitente.p12.read_bytes()
        started = time.process_time()
        assinador = Assinador(pkcs12, emitente.password)
        details["certificateOpenCpuMs"] = round((time.process_time() - started) * 1000, 1)
        first = next(iter(xmls_by_items.values()))[0]
        started = time.process_time()
        assinador.sign(first)  # signxml's and erpbrasil's first use
        details["firstSignCpuMs"] = round((time.process_time() - started) * 1000, 1)
        for items, xmls in xmls_by_items.items():
            pending = iter(xmls)
            figures[f"signCpuMs{items}Item{'s' if items > 1 else ''}"] = _cpu_ms(
                lambda pending=pending: assinador.sign(next(pending)), len(xmls)
            )
    return figures


def run(notas: int) -> tuple[dict[str, Any], dict[str, Any]]:
    from functions.fiscal import xml as nfe_xml
    from functions.fiscal.danfe import render_danfe

    figures: dict[str, Any] = {}
    details: dict[str, Any] = {"notas": notas}
    first = time.process_time()
    warm = nfe_xml.to_xml(_nota(1, 1))
    assert nfe_xml.validate(warm) == []
    render_danfe(warm)
    details["firstCallCpuMs"] = round((time.process_time() - first) * 1000, 1)
    unsigned: dict[int, list[str]] = {}
    for items in (1, 20):
        built = [_nota(n, items) for n in range(1, notas + 1)]
        xmls = [nfe_xml.to_xml(nota) for nota in built]
        unsigned[items] = xmls
        figures[f"xmlBuildValidateCpuMs{items}Item{'s' if items > 1 else ''}"] = _cpu_ms(
            _build_and_validate(nfe_xml, iter(built)), notas
        )
        renders = iter(xmls)
        figures[f"danfeCpuMs{items}Item{'s' if items > 1 else ''}"] = _cpu_ms(
            lambda renders=renders: render_danfe(next(renders)), notas
        )
    figures.update(_signing(unsigned, details))
    say(
        f"fiscal step: {figures} (first call {details['firstCallCpuMs']} ms; opening the A1 "
        f"{details['certificateOpenCpuMs']} ms, first signature {details['firstSignCpuMs']} ms)"
    )
    return {"fiscalCpuMsPerNota": figures}, {"fiscal": details}
