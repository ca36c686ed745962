"""The SEFAZ participant of the saga: sign the numbered NF-e, have SEFAZ authorize it, announce the outcome.

It consumes `NotaFiscalEmitida` (the unsigned XML travels in the event: this function has no database)
and answers with `NotaFiscalAutorizada`, `NotaFiscalRejeitada` or `NotaFiscalDenegada`, which it puts on
the bus itself. Delivery is at least once and the effect once:
- SEFAZ itself is the idempotency record: every redelivery (receive count above 1) consults the chave
  before sending (functions/sefaz/authorize.py), so a nota is never authorized twice and a lost answer is
  recovered from SEFAZ, not guessed;
- the answer's event id is derived from the event it answers and the outcome, so a redelivery that
  publishes again publishes the same event, which Faturamento's and Estoque's inboxes skip;
- the nfeProc is archived before the event goes out: whoever reads the event finds the document.
SEFAZ being down raises `SefazIndisponivel` (a DependencyUnavailable): the consumer backs the message
off without spending its receives toward the DLQ, and every attempt reports how long the nota has
waited (`EsperaAutorizacao`), the metric the pending-authorization alarm watches.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.fiscal import archive
from functions.fiscal.archive import FiscalArchive
from functions.sefaz.certificate import CertificadoA1, SecretsClient, carregar_certificado
from functions.sefaz.settings import SefazSettings
from functions.shared.consumer import current_receive_count
from functions.shared.events import (
    SOURCES,
    EventDetail,
    EventName,
    NotaFiscalAutorizada,
    NotaFiscalCancelamentoHomologado,
    NotaFiscalCancelamentoRejeitado,
    NotaFiscalCancelamentoSolicitado,
    NotaFiscalDenegada,
    NotaFiscalEmitida,
    NotaFiscalRejeitada,
    NumeracaoInutilizada,
    build_detail,
)
from functions.shared.inbox import EventHandler, MalformedEvent
from functions.shared.observability import logger, metrics, tracer
from functions.shared.redelivery import DependencyUnavailable

if TYPE_CHECKING:
    from functions.fiscal.assinatura import Assinador
    from functions.sefaz.authorize import Transmissor
    from functions.sefaz.outcome import Outcome

__all__ = ["AutorizadorSefaz", "ClientFactory", "answer_event_id"]

# Event ids of the answers: uuid5 of the answered event's id and the answer's name in this namespace.
_ANSWERS = uuid.UUID("6f1d1c1e-52a4-4f57-9c61-3c1f0b6a1e55")


def answer_event_id(answered: uuid.UUID, name: EventName) -> uuid.UUID:
    """The id of the event answering `answered`: the same on every redelivery, so inboxes skip repeats."""
    return uuid.uuid5(_ANSWERS, f"{answered}/{name.value}")


class PublishFailed(DependencyUnavailable):
    """EventBridge did not take the answer; the message comes back and the consulta recovers the outcome."""


# (uf, ambiente, certificate) -> a client; tests give one that wraps the real client with faults.
ClientFactory = Any


class AutorizadorSefaz:
    def __init__(
        self,
        settings: SefazSettings,
        *,
        events_client: Any = None,
        fiscal_archive: FiscalArchive | None = None,
        secrets_client: SecretsClient | None = None,
        client_factory: ClientFactory | None = None,
        clock: Any = None,
    ) -> None:
        self.settings = settings
        self._events = events_client
        self.archive = fiscal_archive or FiscalArchive(settings.fiscal_archive_bucket)
        self._secrets = secrets_client
        self._client_factory = client_factory or self._sefaz_client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        # Per certificate (the loader returns the same object for an hour): opening a PKCS#12 costs
        # tens of milliseconds of key derivation, paid once per container and certificate.
        self._assinadores: dict[int, tuple[CertificadoA1, Assinador]] = {}
        self._clients: dict[tuple[int, str, int], tuple[CertificadoA1, Transmissor]] = {}

    def handlers(self) -> dict[EventName, EventHandler]:
        return {
            EventName.NOTA_FISCAL_EMITIDA: self.autorizar,
            EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO: self.cancelar,
        }

    # ---- the certificate, the signer, the client ---------------------------------------------------

    def _sefaz_client(self, uf: str, ambiente: int, certificado: CertificadoA1) -> Transmissor:
        from functions.sefaz.client import SefazClient

        return SefazClient.para(
            uf=uf,
            ambiente=ambiente,
            pkcs12=certificado.pkcs12,
            password=certificado.password,
            ca_file=self.settings.sefaz_ca_bundle,
            base_url=self.settings.sefaz_base_url,
            connect_timeout=self.settings.sefaz_connect_timeout_seconds,
            read_timeout=self.settings.sefaz_read_timeout_seconds,
            aberto=certificado.aberto,
        )

    def _certificado(self) -> CertificadoA1:
        certificado = carregar_certificado(self.settings.sefaz_certificate_secret, client=self._secrets)
        # The expiry alarm's metric: SEFAZ refuses an expired A1, and renewing one takes days.
        metrics.add_metric(
            name="CertificadoDiasRestantes", unit=MetricUnit.Count, value=round(certificado.dias_restantes(), 1)
        )
        return certificado

    def _assinador(self, certificado: CertificadoA1) -> Assinador:
        from functions.fiscal.assinatura import Assinador

        with self._lock:
            kept = self._assinadores.get(id(certificado))
            if kept is not None and kept[0] is certificado:
                return kept[1]
        assinador = Assinador(certificado.pkcs12, certificado.password, certificado.aberto)
        with self._lock:
            self._assinadores = {id(certificado): (certificado, assinador)}
        return assinador

    def _client(self, uf: str, ambiente: int, certificado: CertificadoA1) -> Transmissor:
        key = (id(certificado), uf, ambiente)
        with self._lock:
            kept = self._clients.get(key)
            if kept is not None and kept[0] is certificado:
                return kept[1]
        client = self._client_factory(uf, ambiente, certificado)
        with self._lock:
            self._clients = {k: v for k, v in self._clients.items() if v[0] is certificado}
            self._clients[key] = (certificado, client)
        return client

    # ---- the step ------------------------------------------------------------------------------------

    @tracer.capture_method
    def autorizar(self, detail: EventDetail, emitida: NotaFiscalEmitida) -> None:
        from functions.sefaz.authorize import autorizar_nfe
        from functions.sefaz.client import uf_da_chave
        from functions.sefaz.outcome import Classe, SefazIndisponivel

        nota_id = emitida.nota_fiscal_id
        extra = {"nota_id": str(nota_id), "chave": emitida.chave, "serie": emitida.serie, "numero": emitida.numero}
        espera = max(0.0, (self._clock() - emitida.emitida_em).total_seconds())
        metrics.add_metric(name="EsperaAutorizacao", unit=MetricUnit.Seconds, value=round(espera, 3))
        try:
            uf = uf_da_chave(emitida.chave)
        except ValueError as exc:
            raise MalformedEvent(str(exc)) from exc
        certificado = self._certificado()
        started = time.process_time()
        signed = self._assinador(certificado).sign(emitida.xml)
        sign_cpu_ms = (time.process_time() - started) * 1000
        retry = current_receive_count() > 1
        try:
            outcome = autorizar_nfe(
                self._client(uf, emitida.ambiente, certificado), signed, emitida.chave, tentativa_anterior=retry
            )
        except SefazIndisponivel as exc:
            metrics.add_metric(name="SefazIndisponivel", unit=MetricUnit.Count, value=1)
            logger.warning(
                "SEFAZ is unavailable; the nota waits",
                extra={**extra, "waited_seconds": round(espera, 1), "reason": exc.motivo, "c_stat": exc.c_stat},
            )
            raise
        extra.update({"c_stat": outcome.c_stat, "classe": outcome.classe.value, "via_consulta": outcome.via_consulta})
        if outcome.classe is Classe.AUTORIZADA:
            key = self._archive(emitida, outcome)
            self._publish(detail, EventName.NOTA_FISCAL_AUTORIZADA, self._autorizada(emitida, outcome, key))
            metrics.add_metric(name="NotasAutorizadas", unit=MetricUnit.Count, value=1)
            logger.info("NF-e autorizada", extra={**extra, "protocolo": outcome.n_prot, "sign_cpu_ms": sign_cpu_ms})
        elif outcome.classe is Classe.DENEGADA:
            key = self._archive(emitida, outcome)
            self._publish(detail, EventName.NOTA_FISCAL_DENEGADA, self._denegada(emitida, outcome, key))
            metrics.add_metric(name="NotasDenegadas", unit=MetricUnit.Count, value=1)
            logger.warning("NF-e denegada: the número is consumed, the stock is released", extra=extra)
        else:
            # REJEITADA, or DUPLICADA that the consulta could not resolve (539: SEFAZ holds another NF-e
            # under this número): SEFAZ did not authorize this one; the stock is released and an operator
            # sees the cStat.
            self._publish(
                detail,
                EventName.NOTA_FISCAL_REJEITADA,
                NotaFiscalRejeitada(
                    nota_fiscal_id=nota_id, chave=emitida.chave, c_stat=outcome.c_stat, motivo=outcome.x_motivo[:255]
                ),
            )
            metrics.add_metric(name="NotasRejeitadas", unit=MetricUnit.Count, value=1)
            logger.warning("NF-e rejeitada: the stock is released", extra={**extra, "motivo": outcome.x_motivo})

    @tracer.capture_method
    def cancelar(self, detail: EventDetail, pedido: NotaFiscalCancelamentoSolicitado) -> None:
        """Register the cancelamento (evento 110111) of an authorized NF-e, once, and announce SEFAZ's
        answer: homologated (the procEventoNFe archived first) or refused (the NF-e stays authorized)."""
        from functions.sefaz.cancel import cancelar_nfe
        from functions.sefaz.client import uf_da_chave
        from functions.sefaz.outcome import Classe, SefazIndisponivel

        extra = {"nota_id": str(pedido.nota_fiscal_id), "chave": pedido.chave}
        try:
            uf = uf_da_chave(pedido.chave)
        except ValueError as exc:
            raise MalformedEvent(str(exc)) from exc
        certificado = self._certificado()
        try:
            outcome = cancelar_nfe(
                self._client(uf, pedido.ambiente, certificado),  # type: ignore[arg-type]
                self._assinador(certificado),
                pedido.chave,
                pedido.protocolo,
                pedido.justificativa,
                tentativa_anterior=current_receive_count() > 1,
                now=self._clock(),
            )
        except SefazIndisponivel as exc:
            metrics.add_metric(name="SefazIndisponivel", unit=MetricUnit.Count, value=1)
            logger.warning("SEFAZ is unavailable; the cancelamento waits", extra={**extra, "reason": exc.motivo})
            raise
        except ValueError as exc:
            # A justificativa or protocol SEFAZ would refuse on its face: no retry can fix the request.
            raise MalformedEvent(f"the cancelamento of {pedido.chave} cannot be built: {exc}") from exc
        if outcome.classe is Classe.HOMOLOGADA:
            if outcome.proc_evento_xml is None or outcome.n_prot is None or outcome.dh_reg_evento is None:
                raise MalformedEvent(f"SEFAZ homologated the cancelamento of {pedido.chave} without its protocol")
            key = archive.proc_evento_key(pedido.ambiente, pedido.serie, pedido.numero, pedido.chave)
            self.archive.put(key, outcome.proc_evento_xml.encode(), "application/xml")
            self._publish(
                detail,
                EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO,
                NotaFiscalCancelamentoHomologado(
                    nota_fiscal_id=pedido.nota_fiscal_id,
                    chave=pedido.chave,
                    protocolo=outcome.n_prot,
                    registrado_em=datetime.fromisoformat(outcome.dh_reg_evento),
                    c_stat=outcome.c_stat,
                    motivo=outcome.x_motivo[:255],
                    documento=key,
                    via_consulta=outcome.via_consulta,
                ),
            )
            metrics.add_metric(name="CancelamentosHomologados", unit=MetricUnit.Count, value=1)
            logger.info("cancelamento homologado", extra={**extra, "protocolo": outcome.n_prot})
            return
        # REJEITADA (501 after 24 h, 580, 222, ...) or a 573 the consulta could not explain: SEFAZ did not
        # register this request; the NF-e stays authorized and an operator sees why.
        self._publish(
            detail,
            EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO,
            NotaFiscalCancelamentoRejeitado(
                nota_fiscal_id=pedido.nota_fiscal_id,
                chave=pedido.chave,
                c_stat=outcome.c_stat,
                motivo=outcome.x_motivo[:255],
            ),
        )
        metrics.add_metric(name="CancelamentosRejeitados", unit=MetricUnit.Count, value=1)
        logger.warning("cancelamento refused by SEFAZ", extra={**extra, "c_stat": outcome.c_stat})

    def inutilizar(
        self, serie: int, de: int, ate: int, justificativa: str, *, ano: int | None = None
    ) -> dict[str, Any]:
        """Inutilizar números `de`..`ate` of `serie` in the emitente's name (an operator's request, through
        `nfe fiscal inutilizar`: a direct invocation, not the queue). On success the procInutNFe is
        archived and `NumeracaoInutilizada` announced; returns SEFAZ's answer either way. The caller has
        checked that no número of the range was used (SEFAZ would answer 241)."""
        from functions.sefaz.inutilize import inutilizar
        from functions.sefaz.outcome import Classe

        emitente = self.settings.emitente
        ambiente = int(emitente.ambiente)
        uf = emitente.endereco.uf
        certificado = self._certificado()
        when = self._clock()
        outcome = inutilizar(
            self._client(uf, ambiente, certificado),  # type: ignore[arg-type]
            self._assinador(certificado),
            cnpj=emitente.cnpj,
            uf=uf,
            ambiente=ambiente,
            serie=serie,
            de=de,
            ate=ate,
            ano=ano or when.year,
            justificativa=justificativa,
        )
        answer: dict[str, Any] = {
            "classe": outcome.classe.value,
            "cStat": outcome.c_stat,
            "motivo": outcome.x_motivo,
            "protocolo": outcome.n_prot,
            "documento": None,
        }
        if outcome.classe is not Classe.HOMOLOGADA:
            logger.warning("inutilização refused by SEFAZ", extra={"serie": serie, "de": de, "ate": ate, **answer})
            return answer
        if outcome.proc_inut_xml is None or outcome.n_prot is None or outcome.dh_recbto is None:
            raise RuntimeError(f"SEFAZ homologated the inutilização of {serie}/{de}-{ate} without its protocol")
        key = archive.inutilizacao_key(ambiente, serie, de, ate)
        self.archive.put(key, outcome.proc_inut_xml.encode(), "application/xml")
        answer["documento"] = key
        inutilizacao_id = uuid.uuid5(_ANSWERS, f"inutilizacao/{ambiente}/{serie}/{de}/{ate}")
        payload = NumeracaoInutilizada(
            inutilizacao_id=inutilizacao_id,
            serie=serie,
            numero_inicial=de,
            numero_final=ate,
            ambiente=ambiente,  # type: ignore[arg-type]
            justificativa=justificativa,
            protocolo=outcome.n_prot,
            homologada_em=datetime.fromisoformat(outcome.dh_recbto),
            c_stat=outcome.c_stat,
            documento=key,
        )
        self._put(inutilizacao_id, EventName.NUMERACAO_INUTILIZADA, payload)
        metrics.add_metric(name="NumerosInutilizados", unit=MetricUnit.Count, value=ate - de + 1)
        logger.info("inutilização homologada", extra={"serie": serie, "de": de, "ate": ate, **answer})
        return answer

    @staticmethod
    def _when(dh_recbto: str | None) -> datetime:
        if not dh_recbto:
            raise MalformedEvent("SEFAZ's protocol has no dhRecbto")
        return datetime.fromisoformat(dh_recbto)

    def _autorizada(self, emitida: NotaFiscalEmitida, outcome: Outcome, key: str) -> NotaFiscalAutorizada:
        return NotaFiscalAutorizada(
            nota_fiscal_id=emitida.nota_fiscal_id,
            chave=emitida.chave,
            protocolo=outcome.n_prot or "",
            autorizada_em=self._when(outcome.dh_recbto),
            digest_value=outcome.dig_val or "",
            c_stat=outcome.c_stat,  # type: ignore[arg-type]  # 100 or 150: the AUTORIZADA class
            motivo=outcome.x_motivo[:255],
            documento=key,
            via_consulta=outcome.via_consulta,
        )

    def _denegada(self, emitida: NotaFiscalEmitida, outcome: Outcome, key: str) -> NotaFiscalDenegada:
        return NotaFiscalDenegada(
            nota_fiscal_id=emitida.nota_fiscal_id,
            chave=emitida.chave,
            protocolo=outcome.n_prot or "",
            denegada_em=self._when(outcome.dh_recbto),
            c_stat=outcome.c_stat,  # type: ignore[arg-type]  # 110/301/302/303: the DENEGADA class
            motivo=outcome.x_motivo[:255],
            documento=key,
        )

    def _archive(self, emitida: NotaFiscalEmitida, outcome: Outcome) -> str:
        """The nfeProc into the archive, before any event says it exists; its key."""
        if outcome.nfe_proc_xml is None:
            raise MalformedEvent(f"SEFAZ answered {outcome.c_stat} for {emitida.chave} without a protNFe")
        key = archive.proc_key(emitida.ambiente, emitida.serie, emitida.numero, emitida.chave)
        self.archive.put(key, outcome.nfe_proc_xml.encode(), "application/xml")
        return key

    def _events_client(self) -> Any:
        if self._events is None:
            import boto3  # on first publish: init stays light

            self._events = boto3.client("events")
        return self._events

    def _publish(self, answered: EventDetail, name: EventName, payload: Any) -> None:
        self._put(answer_event_id(answered.event_id, name), name, payload)

    def _put(self, event_id: uuid.UUID, name: EventName, payload: Any) -> None:
        detail = build_detail(event_id, name, self._clock(), payload)
        response = self._events_client().put_events(
            Entries=[
                {
                    "Source": SOURCES[name].value,
                    "DetailType": name.value,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.settings.event_bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = (response.get("Entries") or [{}])[0]
            raise PublishFailed(f"PutEvents refused {name.value}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
        logger.info("answer published", extra={"event_type": name.value, "answer_event_id": str(event_id)})
