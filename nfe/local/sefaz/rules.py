"""SEFAZ's rules as one table: (service, rule, cStat, xMotivo, check), in the MOC's processing order.

For each request the emulator walks the rows of its service in order and the first row whose check
hits decides the answer (sped-nfe keeps SEFAZ's answers as data the same way, `docs/cStat.md`).
Rows of scope "lote" judge the whole message; rows of scope "documento" judge each NF-e of a lote,
each event of an envEvento, or the one consulta/status/inutilização. The last row of each service
always hits: it is the success answer. Rule ids are the MOC's (Anexo I, "as transcribed" in
reference/nfe.md) where the reference names one, else a short name; docs/sefaz-emulator.md is
generated from this table and a test keeps the two equal.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from lxml import etree

from nfe.local.sefaz import digits, schemas, signature
from nfe.local.sefaz.documents import NFE, EventoFacts, InutFacts, NFeFacts, moment
from nfe.local.sefaz.pki import cnpj_from_certificate
from nfe.local.sefaz.state import ForcedRejection, Store, StoredNFe, Switches

Service = Literal["*", "autorizacao", "consulta", "status", "evento", "inutilizacao"]
Scope = Literal["lote", "documento"]
Kind = Literal["rejeicao", "denegacao", "sucesso"]

HOMOLOGACAO = "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"
TOLERANCE = datetime.timedelta(minutes=5)
CANCEL_WINDOW = datetime.timedelta(hours=24)
LATE = datetime.timedelta(days=7)
MAX_INUTILIZACAO = 10_000
_CNF_BLACKLIST = {str(d) * 8 for d in range(10)} | {
    "12345678",
    "23456789",
    "34567890",
    "45678901",
    "56789012",
    "67890123",
    "78901234",
    "89012345",
    "90123456",
    "01234567",
}

UF_CODES = {
    "RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17", "MA": "21",
    "PI": "22", "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27", "SE": "28", "BA": "29",
    "MG": "31", "ES": "32", "RJ": "33", "SP": "35", "PR": "41", "SC": "42", "RS": "43", "MS": "50",
    "MT": "51", "GO": "52", "DF": "53",
}  # fmt: skip


@dataclass(frozen=True)
class Config:
    uf: str = "SP"
    tp_amb: str = "2"
    ver_aplic: str = "SP-NFE-EMULADOR-1.0"
    # The CAs that stand for ICP-Brasil: a signing certificate must be issued by one of them.
    trusted: tuple[x509.Certificate, ...] = ()

    @property
    def cuf(self) -> str:
        return UF_CODES[self.uf]


@dataclass
class Hit:
    """A row's check fired. cstat/xmotivo override the row's (forced rejection, stored situation);
    detail is appended to xMotivo (e.g. "[chNFe:...]"); found carries what the answer needs."""

    cstat: int | None = None
    xmotivo: str | None = None
    detail: str = ""
    found: Any = None


@dataclass
class Ctx:
    config: Config
    store: Store
    switches: Switches
    now: datetime.datetime
    message: etree._Element | None  # the dados (enviNFe, consSitNFe, ...); None when it is not XML
    root_name: str = ""
    nfe: NFeFacts | None = None
    evento: EventoFacts | None = None
    inut: InutFacts | None = None
    forced: ForcedRejection | None = None

    @property
    def n(self) -> NFeFacts:
        assert self.nfe is not None
        return self.nfe

    @property
    def e(self) -> EventoFacts:
        assert self.evento is not None
        return self.evento

    @property
    def i(self) -> InutFacts:
        assert self.inut is not None
        return self.inut

    def text(self, path: str) -> str:
        assert self.message is not None
        found = self.message.find(path.replace("n:", f"{{{NFE}}}"))
        return "" if found is None or found.text is None else found.text.strip()


Check = Callable[[Ctx], "Hit | bool | None"]


@dataclass(frozen=True)
class Rule:
    service: Service
    rule: str
    cstat: int
    xmotivo: str
    check: Check
    scope: Scope = "documento"
    kind: Kind = "rejeicao"


# ---- general (every service, before anything is read) --------------------------------------------


def _down(mode: str) -> Check:
    return lambda ctx: ctx.switches.down == mode


def _malformed(ctx: Ctx) -> bool:
    return ctx.message is None


def _schema(name: str) -> Check:
    def check(ctx: Ctx) -> Hit | None:
        assert ctx.message is not None
        if ctx.root_name != name:
            return Hit(detail=f" [esperado {name}, recebido {ctx.root_name or '?'}]")
        problems = schemas.errors(name, ctx.message)
        return Hit(detail=f" [{problems[0][:200]}]") if problems else None

    return check


# ---- autorização: lote -----------------------------------------------------------------------------


def _nfes(ctx: Ctx) -> list[etree._Element]:
    assert ctx.message is not None
    return list(ctx.message.iterfind(f"{{{NFE}}}NFe"))


def _async_one(ctx: Ctx) -> bool:
    return ctx.text("n:indSinc") == "0" and len(_nfes(ctx)) == 1


def _sync_many(ctx: Ctx) -> bool:
    return ctx.text("n:indSinc") == "1" and len(_nfes(ctx)) > 1


def _async_many(ctx: Ctx) -> bool:
    return ctx.text("n:indSinc") == "0"


# ---- signatures (NF-e, evento, inutilização) ----------------------------------------------------


def _signed(ctx: Ctx) -> tuple[etree._Element, str]:
    if ctx.nfe is not None:
        return ctx.nfe.element, ctx.nfe.id
    if ctx.evento is not None:
        return ctx.evento.element, ctx.evento.id
    return ctx.i.element, ctx.i.id


def _signature_profile(ctx: Ctx) -> Hit | None:
    element, ident = _signed(ctx)
    problem = signature.profile_errors(element, ident)
    return None if problem is None else Hit(detail=f" [{problem}]")


def _signature_value(ctx: Ctx) -> bool:
    element, _ = _signed(ctx)
    return not signature.verify(element)


def _certificate_chain(ctx: Ctx) -> Hit | None:
    element, _ = _signed(ctx)
    cert = signature.certificate(element)
    if cert is None:
        return Hit(detail=" [sem certificado]")
    for ca in ctx.config.trusted:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return None
    return Hit(detail=f" [emissor:{cert.issuer.rfc4514_string()[:120]}]")


def _certificate_cnpj(ctx: Ctx) -> Hit | None:
    element, _ = _signed(ctx)
    cert: x509.Certificate | None = signature.certificate(element)
    cnpj = cnpj_from_certificate(cert) if cert is not None else None
    if ctx.nfe is not None:
        owner = ctx.nfe.emitente
    elif ctx.evento is not None:
        owner = ctx.evento.autor
    else:
        owner = ctx.i.cnpj
    if cnpj is None or cnpj[:8] != owner[:8]:
        return Hit(detail=f" [certificado:{cnpj or 'sem CNPJ'}]")
    return None


# ---- autorização: the NF-e --------------------------------------------------------------------------


def _chave_fields(ctx: Ctx) -> bool:
    n = ctx.n
    emitted = n.dh_emi
    aamm = emitted[2:4] + emitted[5:7]
    serie = n.serie.zfill(3)
    nnf = n.nnf.zfill(9)
    return n.chave != f"{n.cuf}{aamm}{n.emitente}{n.mod}{serie}{nnf}{n.tp_emis}{n.cnf}{n.cdv}"


def _chave_dv(ctx: Ctx) -> bool:
    return not digits.chave_valid(ctx.n.chave)


def _cnf(ctx: Ctx) -> bool:
    n = ctx.n
    return n.cnf in _CNF_BLACKLIST or int(n.cnf) == int(n.nnf)


def _cuf(ctx: Ctx) -> bool:
    return ctx.n.cuf != ctx.config.cuf


def _tp_amb(ctx: Ctx) -> bool:
    if ctx.nfe is not None:
        value = ctx.nfe.tp_amb
    elif ctx.evento is not None:
        value = ctx.evento.tp_amb
    elif ctx.inut is not None:
        value = ctx.inut.tp_amb
    else:
        value = ctx.text("n:tpAmb")
    return value != ctx.config.tp_amb


def _emitted_in_future(ctx: Ctx) -> bool:
    emitted = ctx.n.emitted
    return emitted is None or emitted > ctx.now + TOLERANCE


def _homologacao_name(ctx: Ctx) -> bool:
    n = ctx.n
    return n.tp_amb == "2" and n.tp_emis != "3" and n.has_dest and n.dest_xnome != HOMOLOGACAO


def _emit_cnpj(ctx: Ctx) -> bool:
    return bool(ctx.n.emit_cnpj) and not digits.cnpj_valid(ctx.n.emit_cnpj)


def _dest_cnpj(ctx: Ctx) -> bool:
    return bool(ctx.n.dest_cnpj) and not digits.cnpj_valid(ctx.n.dest_cnpj)


def _dest_cpf(ctx: Ctx) -> bool:
    return bool(ctx.n.dest_cpf) and not digits.cpf_valid(ctx.n.dest_cpf)


def _total_vprod(ctx: Ctx) -> Hit | None:
    n = ctx.n
    items = sum(n.item_vprod, Decimal(0))
    return None if items == n.total["vProd"] else Hit(detail=f" [itens:{items} vProd:{n.total['vProd']}]")


def _total_vnf(ctx: Ctx) -> Hit | None:
    t = ctx.n.total
    expected = (
        t["vProd"]
        - t["vDesc"]
        - t["vICMSDeson"]
        + t["vST"]
        + t["vFCPST"]
        + t["vFrete"]
        + t["vSeg"]
        + t["vOutro"]
        + t["vII"]
        + t["vIPI"]
        + t["vIPIDevol"]
    )
    return None if expected == t["vNF"] else Hit(detail=f" [calculado:{expected} vNF:{t['vNF']}]")


def _same_number(ctx: Ctx) -> StoredNFe | None:
    n = ctx.n
    return ctx.store.by_natural_key(n.emitente, n.mod, int(n.serie), int(n.nnf), n.tp_amb)


def _inutilizado(ctx: Ctx) -> bool:
    n = ctx.n
    return ctx.store.inutilizado(n.emitente, n.mod, int(n.serie), int(n.nnf)) is not None


def _other_chave(ctx: Ctx) -> Hit | None:
    stored = _same_number(ctx)
    if stored is None or stored.chave == ctx.n.chave:
        return None
    return Hit(detail=f" [chNFe:{stored.chave}]", found=stored)


def _same_chave(status: str) -> Check:
    def check(ctx: Ctx) -> Hit | None:
        stored = _same_number(ctx)
        if stored is None or stored.chave != ctx.n.chave:
            return None
        matches = {
            "cancelada": stored.cstat == 101,
            "denegada": stored.denied,
            "autorizada": stored.authorized,
        }[status]
        if not matches:
            return None
        detail = f" [nProt:{stored.nprot}][dhAut:{stored.dh_recbto}]"
        # NT 2018.005: when the DigestValue equals the authorized one, the UF may give the protocol back.
        if status == "autorizada" and stored.dig_val == ctx.n.digest:
            return Hit(detail=detail, found=stored)
        return Hit(detail=detail if status != "autorizada" else f" [chNFe:{stored.chave}]", found=stored)

    return check


def _forced(ctx: Ctx) -> Hit | None:
    forced = ctx.switches.take_forced()
    if forced is None:
        return None
    return Hit(cstat=forced.cstat, xmotivo=forced.xmotivo)


def _irregular_emitente(ctx: Ctx) -> bool:
    return ctx.n.emitente in ctx.switches.irregular_emitentes


def _irregular_destinatario(ctx: Ctx) -> bool:
    dest = ctx.n.destinatario
    return bool(dest) and dest in ctx.switches.irregular_destinatarios


def _late(ctx: Ctx) -> bool:
    emitted = ctx.n.emitted
    return emitted is not None and ctx.now - emitted > LATE


def _always(ctx: Ctx) -> bool:
    return True


# ---- consulta by chave -----------------------------------------------------------------------------


def _consulta_chave(ctx: Ctx) -> str:
    return ctx.text("n:chNFe")


def _consulta_dv(ctx: Ctx) -> bool:
    return not digits.chave_valid(_consulta_chave(ctx))


def _consulta_uf(ctx: Ctx) -> bool:
    return _consulta_chave(ctx)[:2] != ctx.config.cuf


def _stored(ctx: Ctx) -> StoredNFe | None:
    return ctx.store.nfes.get(_consulta_chave(ctx))


def _unknown(ctx: Ctx) -> bool:
    return _stored(ctx) is None


def _situacao(*cstats: int) -> Check:
    def check(ctx: Ctx) -> Hit | None:
        stored = _stored(ctx)
        if stored is None or stored.cstat not in cstats:
            return None
        return Hit(cstat=stored.cstat, xmotivo=stored.xmotivo, found=stored)

    return check


# ---- status ----------------------------------------------------------------------------------------


def _status_uf(ctx: Ctx) -> bool:
    return ctx.text("n:cUF") != ctx.config.cuf


# ---- evento 110111 -----------------------------------------------------------------------------------


def _evento_orgao(ctx: Ctx) -> bool:
    return ctx.e.corgao != ctx.config.cuf


def _evento_id(ctx: Ctx) -> bool:
    e = ctx.e
    return e.id != f"ID{e.tp_evento}{e.chave}{int(e.n_seq_evento):02d}"


def _evento_dv(ctx: Ctx) -> bool:
    return not digits.chave_valid(ctx.e.chave)


def _evento_seq(ctx: Ctx) -> bool:
    return ctx.e.n_seq_evento != "1"


def _evento_nfe(ctx: Ctx) -> StoredNFe | None:
    return ctx.store.nfes.get(ctx.e.chave)


def _evento_unknown(ctx: Ctx) -> bool:
    return _evento_nfe(ctx) is None


def _evento_autor(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    assert stored is not None
    return ctx.e.autor[:8] != stored.cnpj[:8]


def _evento_duplicado(ctx: Ctx) -> Hit | None:
    e = ctx.e
    stored_nfe = _evento_nfe(ctx)
    for evento_id in stored_nfe.eventos if stored_nfe is not None else []:
        stored = ctx.store.eventos[evento_id]
        if (stored.tp_evento, int(stored.n_seq_evento)) == (e.tp_evento, int(e.n_seq_evento)):
            return Hit(detail=f" [nProt:{stored.nprot}][dhRegEvento:{stored.dh_reg_evento}]", found=stored)
    return None


def _evento_requires_authorized(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    return stored is None or not stored.authorized


def _evento_nprot(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    return stored is None or stored.nprot != ctx.e.nprot


def _evento_moment(ctx: Ctx) -> datetime.datetime:
    parsed = moment(ctx.e.dh_evento)
    assert parsed is not None  # TDateTimeUTC in the schema
    return parsed


def _evento_future(ctx: Ctx) -> bool:
    return _evento_moment(ctx) > ctx.now + TOLERANCE


def _evento_before_emission(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    emitted = moment(stored.dh_emi) if stored else None
    return emitted is not None and _evento_moment(ctx) < emitted - TOLERANCE


def _evento_before_authorization(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    authorized = moment(stored.dh_recbto) if stored else None
    return authorized is not None and _evento_moment(ctx) < authorized - TOLERANCE


def _evento_too_late(ctx: Ctx) -> bool:
    stored = _evento_nfe(ctx)
    authorized = moment(stored.dh_recbto) if stored else None
    return authorized is not None and ctx.now - authorized > CANCEL_WINDOW


# ---- inutilização ------------------------------------------------------------------------------------


def _inut_uf(ctx: Ctx) -> bool:
    return ctx.i.cuf != ctx.config.cuf


def _inut_id(ctx: Ctx) -> bool:
    i = ctx.i
    return i.id != f"ID{i.cuf}{i.ano}{i.cnpj}{i.mod}{int(i.serie):03d}{i.ini:09d}{i.fin:09d}"


def _inut_future_year(ctx: Ctx) -> bool:
    return int(ctx.i.ano) > ctx.now.year % 100


def _inut_old_year(ctx: Ctx) -> bool:
    return int(ctx.i.ano) < 6


def _inut_range(ctx: Ctx) -> bool:
    return ctx.i.ini > ctx.i.fin


def _inut_too_many(ctx: Ctx) -> bool:
    return ctx.i.fin - ctx.i.ini + 1 > MAX_INUTILIZACAO


def _inut_overlaps(ctx: Ctx, *, same: bool) -> Hit | None:
    i = ctx.i
    for inut in ctx.store.inutilizacoes:
        if (inut.cnpj, inut.mod, inut.serie) != (i.cnpj, i.mod, int(i.serie)):
            continue
        if same and (inut.ini, inut.fin) == (i.ini, i.fin):
            return Hit(detail=f" [nProt:{inut.nprot}]", found=inut)
        if not same and inut.ini <= i.fin and i.ini <= inut.fin:
            return Hit(detail=f" [nNFIni:{inut.ini} nNFFin:{inut.fin} nProt:{inut.nprot}]", found=inut)
    return None


def _inut_used(ctx: Ctx) -> Hit | None:
    i = ctx.i
    for nfe in ctx.store.nfes.values():
        if (nfe.cnpj, nfe.mod, nfe.serie) == (i.cnpj, i.mod, int(i.serie)) and i.ini <= nfe.nnf <= i.fin:
            return Hit(detail=f" [nNF:{nfe.nnf} chNFe:{nfe.chave}]", found=nfe)
    return None


# ---- the table ---------------------------------------------------------------------------------------

R = Rule
RULES: tuple[Rule, ...] = (
    # Every service, before the message is read.
    R("*", "paralisado-108", 108, "Serviço Paralisado Momentaneamente (curto prazo)", _down("108"), "lote"),
    R("*", "paralisado-109", 109, "Serviço Paralisado sem Previsão", _down("109"), "lote"),
    R("*", "A02-10", 243, "Rejeição: XML Mal Formado", _malformed, "lote"),
    # NFeAutorizacao4: the lote.
    R("autorizacao", "A04-10", 225, "Rejeição: Falha no Schema XML do lote de NFe", _schema("enviNFe"), "lote"),
    R(
        "autorizacao",
        "GAP03a-3",
        452,
        "Rejeição: Solicitada resposta assíncrona para Lote com somente 1 (uma) NF-e",
        _async_one,
        "lote",
    ),
    R(
        "autorizacao",
        "GAP03a-1",
        764,
        "Rejeição: Solicitada resposta síncrona para Lote com mais de uma NF-e (indSinc=1)",
        _sync_many,
        "lote",
    ),
    R(
        "autorizacao",
        "assincrono",
        999,
        "Rejeição: Erro não catalogado (lote assíncrono de várias NF-e não é emulado)",
        _async_many,
        "lote",
    ),
    # NFeAutorizacao4: each NF-e of a synchronous lote.
    R("autorizacao", "A06-10", 298, "Rejeição: Assinatura difere do padrão do Sistema", _signature_profile),
    R("autorizacao", "A06-20", 297, "Rejeição: Assinatura difere do calculado", _signature_value),
    R(
        "autorizacao",
        "A05-20",
        293,
        "Rejeição: Certificado Assinatura - erro Cadeia de Certificação",
        _certificate_chain,
    ),
    R(
        "autorizacao",
        "A05-30",
        213,
        "Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do Certificado Digital",
        _certificate_cnpj,
    ),
    R(
        "autorizacao",
        "A03-10",
        502,
        "Rejeição: Erro na Chave de Acesso - Campo Id não corresponde à concatenação dos campos correspondentes",
        _chave_fields,
    ),
    R("autorizacao", "B02-10", 226, "Rejeição: Código da UF do Emitente diverge da UF autorizadora", _cuf),
    R("autorizacao", "B03-10", 897, "Rejeição: Código numérico em formato inválido", _cnf),
    R(
        "autorizacao",
        "B09-10",
        703,
        "Rejeição: Data-Hora de Emissão posterior ao horário de recebimento",
        _emitted_in_future,
    ),
    R("autorizacao", "B23-10", 253, "Rejeição: Digito Verificador da chave de acesso composta inválida", _chave_dv),
    R("autorizacao", "B24-10", 252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", _tp_amb),
    R("autorizacao", "C02-10", 207, "Rejeição: CNPJ do emitente inválido", _emit_cnpj),
    R("autorizacao", "E02-10", 208, "Rejeição: CNPJ do destinatário inválido", _dest_cnpj),
    R("autorizacao", "E03-10", 237, "Rejeição: CPF do destinatário inválido", _dest_cpf),
    R(
        "autorizacao",
        "E04-20",
        598,
        "Rejeição: NF-e emitida em ambiente de homologação com Razão Social do destinatário diferente de "
        + HOMOLOGACAO,
        _homologacao_name,
    ),
    R("autorizacao", "W16-10", 564, "Rejeição: Total do Produto / Serviço difere do somatório dos itens", _total_vprod),
    R(
        "autorizacao",
        "W28-10",
        610,
        "Rejeição: Total da NF difere do somatório dos Valores compõe o valor Total da NF.",
        _total_vnf,
    ),
    R("autorizacao", "2B08-05", 206, "Rejeição: NF-e já está inutilizada na Base de dados da SEFAZ", _inutilizado),
    R("autorizacao", "2B08-10", 539, "Rejeição: Duplicidade de NF-e com diferença na Chave de Acesso", _other_chave),
    R("autorizacao", "2B08-20", 204, "Rejeição: Duplicidade de NF-e", _same_chave("autorizada")),
    R(
        "autorizacao",
        "2B08-30",
        218,
        "Rejeição: NF-e já está cancelada na base de dados da SEFAZ",
        _same_chave("cancelada"),
    ),
    R("autorizacao", "2B08-40", 205, "Rejeição: NF-e está denegada na base de dados da SEFAZ", _same_chave("denegada")),
    R("autorizacao", "rejeicao-forcada", 999, "Rejeição: Erro não catalogado (rejeição forçada)", _forced),
    R(
        "autorizacao",
        "denegacao-emitente",
        301,
        "Uso Denegado: Irregularidade fiscal do emitente",
        _irregular_emitente,
        kind="denegacao",
    ),
    R(
        "autorizacao",
        "denegacao-destinatario",
        302,
        "Uso Denegado: Irregularidade fiscal do destinatário",
        _irregular_destinatario,
        kind="denegacao",
    ),
    R("autorizacao", "B09-20", 150, "Autorizado o uso da NF-e, autorização fora de prazo", _late, kind="sucesso"),
    R("autorizacao", "autorizada", 100, "Autorizado o uso da NF-e", _always, kind="sucesso"),
    # NFeConsultaProtocolo4.
    R("consulta", "consulta-schema", 215, "Rejeição: Falha no schema XML", _schema("consSitNFe"), "lote"),
    R("consulta", "consulta-ambiente", 252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", _tp_amb),
    R("consulta", "consulta-dv", 236, "Rejeição: Chave de Acesso com dígito verificador inválido", _consulta_dv),
    R("consulta", "consulta-uf", 226, "Rejeição: Código da UF do Emitente diverge da UF autorizadora", _consulta_uf),
    R("consulta", "consulta-inexistente", 217, "Rejeição: NF-e não consta na base de dados da SEFAZ", _unknown),
    R("consulta", "consulta-cancelada", 101, "Cancelamento de NF-e homologado", _situacao(101), kind="sucesso"),
    R(
        "consulta",
        "consulta-denegada-emitente",
        301,
        "Uso Denegado: Irregularidade fiscal do emitente",
        _situacao(301),
        kind="sucesso",
    ),
    R(
        "consulta",
        "consulta-denegada-destinatario",
        302,
        "Uso Denegado: Irregularidade fiscal do destinatário",
        _situacao(302),
        kind="sucesso",
    ),
    R(
        "consulta",
        "consulta-fora-de-prazo",
        150,
        "Autorizado o uso da NF-e, autorização fora de prazo",
        _situacao(150),
        kind="sucesso",
    ),
    R("consulta", "consulta-autorizada", 100, "Autorizado o uso da NF-e", _situacao(100), kind="sucesso"),
    # NFeStatusServico4.
    R("status", "status-schema", 215, "Rejeição: Falha no schema XML", _schema("consStatServ"), "lote"),
    R("status", "status-ambiente", 252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", _tp_amb),
    R("status", "status-uf", 226, "Rejeição: Código da UF do Emitente diverge da UF autorizadora", _status_uf),
    R("status", "em-operacao", 107, "Serviço em Operação", _always, kind="sucesso"),
    # NFeRecepcaoEvento4, cancelamento (110111).
    R("evento", "P-schema", 215, "Rejeição: Falha no schema XML", _schema("envEvento"), "lote"),
    R("evento", "P05-10", 252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", _tp_amb),
    R("evento", "P04-10", 250, "Rejeição: UF diverge da UF autorizadora", _evento_orgao),
    R("evento", "P-298", 298, "Rejeição: Assinatura difere do padrão do Sistema", _signature_profile),
    R("evento", "P-297", 297, "Rejeição: Assinatura difere do calculado", _signature_value),
    R("evento", "P-293", 293, "Rejeição: Certificado Assinatura - erro Cadeia de Certificação", _certificate_chain),
    R(
        "evento",
        "P-213",
        213,
        "Rejeição: CNPJ-Base do Autor difere do CNPJ-Base do Certificado Digital",
        _certificate_cnpj,
    ),
    R(
        "evento",
        "P02-10",
        572,
        "Rejeição: Erro Atributo ID do evento não corresponde a concatenação dos campos "
        "('ID' + tpEvento + chNFe + nSeqEvento)",
        _evento_id,
    ),
    R("evento", "P08-10", 236, "Rejeição: Chave de Acesso com dígito verificador inválido", _evento_dv),
    R(
        "evento",
        "P15-10",
        594,
        "Rejeição: O número de sequencia do evento informado é maior que o permitido",
        _evento_seq,
    ),
    R("evento", "2P12-10", 494, "Rejeição: Chave de Acesso inexistente", _evento_unknown),
    R("evento", "P12-44", 574, "Rejeição: O autor do evento diverge do emissor da NF-e", _evento_autor),
    R("evento", "3P15-10", 573, "Rejeição: Duplicidade de Evento", _evento_duplicado),
    R("evento", "2P12-22", 580, "Rejeição: O evento exige uma NF-e autorizada", _evento_requires_authorized),
    R("evento", "2P23-10", 222, "Rejeição: Protocolo de Autorização de Uso difere do cadastrado", _evento_nprot),
    R(
        "evento",
        "P13-10",
        578,
        "Rejeição: A data do evento não pode ser maior que a data do processamento",
        _evento_future,
    ),
    R(
        "evento",
        "2P13-10",
        577,
        "Rejeição: A data do evento não pode ser menor que a data de emissão da NF-e",
        _evento_before_emission,
    ),
    R(
        "evento",
        "2P13-14",
        579,
        "Rejeição: A data do evento não pode ser menor que a data de autorização para NF-e não emitida em contingência",
        _evento_before_authorization,
    ),
    R("evento", "2P12-14", 501, "Rejeição: Prazo de Cancelamento superior ao previsto na Legislação", _evento_too_late),
    R("evento", "registrado", 135, "Evento registrado e vinculado a NF-e", _always, kind="sucesso"),
    # NFeInutilizacao4.
    R("inutilizacao", "inut-schema", 215, "Rejeição: Falha no schema XML", _schema("inutNFe"), "lote"),
    R("inutilizacao", "inut-ambiente", 252, "Rejeição: Ambiente informado diverge do Ambiente de recebimento", _tp_amb),
    R("inutilizacao", "inut-uf", 250, "Rejeição: UF diverge da UF autorizadora", _inut_uf),
    R("inutilizacao", "inut-298", 298, "Rejeição: Assinatura difere do padrão do Sistema", _signature_profile),
    R("inutilizacao", "inut-297", 297, "Rejeição: Assinatura difere do calculado", _signature_value),
    R(
        "inutilizacao",
        "inut-293",
        293,
        "Rejeição: Certificado Assinatura - erro Cadeia de Certificação",
        _certificate_chain,
    ),
    R(
        "inutilizacao",
        "inut-213",
        213,
        "Rejeição: CNPJ-Base do Emitente difere do CNPJ-Base do Certificado Digital",
        _certificate_cnpj,
    ),
    R(
        "inutilizacao",
        "inut-id",
        502,
        "Rejeição: Erro na Chave de Acesso - Campo Id não corresponde à concatenação dos campos correspondentes",
        _inut_id,
    ),
    R(
        "inutilizacao",
        "inut-ano-futuro",
        453,
        "Rejeição: Ano de inutilização não pode ser superior ao Ano atual",
        _inut_future_year,
    ),
    R(
        "inutilizacao",
        "inut-ano-antigo",
        454,
        "Rejeição: Ano de inutilização não pode ser inferior a 2006",
        _inut_old_year,
    ),
    R("inutilizacao", "inut-faixa", 224, "Rejeição: A faixa inicial é maior que a faixa final", _inut_range),
    R(
        "inutilizacao",
        "inut-limite",
        201,
        "Rejeição: Número máximo de numeração a inutilizar ultrapassou o limite",
        _inut_too_many,
    ),
    R(
        "inutilizacao",
        "inut-mesma-faixa",
        563,
        "Rejeição: Já existe pedido de Inutilização com a mesma faixa de inutilização",
        lambda ctx: _inut_overlaps(ctx, same=True),
    ),
    R(
        "inutilizacao",
        "inut-ja-inutilizada",
        256,
        "Rejeição: Uma NF-e da faixa já está inutilizada na Base de dados da SEFAZ",
        lambda ctx: _inut_overlaps(ctx, same=False),
    ),
    R("inutilizacao", "inut-numero-usado", 241, "Rejeição: Um número da faixa já foi utilizado", _inut_used),
    R("inutilizacao", "inutilizada", 102, "Inutilização de número homologado", _always, kind="sucesso"),
)


@dataclass
class Verdict:
    rule: Rule
    cstat: int
    xmotivo: str
    found: Any = None

    @property
    def kind(self) -> Kind:
        return self.rule.kind


def judge(service: Service, scope: Scope, ctx: Ctx) -> Verdict | None:
    """The first row of `service` (and, for the lote, the general rows) whose check hits; None when
    no lote row does (the lote goes on to its documents)."""
    for rule in RULES:
        applies = rule.service == service or (rule.service == "*" and scope == "lote")
        if not applies or rule.scope != scope:
            continue
        hit = rule.check(ctx)
        if not hit:
            continue
        if hit is True:
            hit = Hit()
        assert isinstance(hit, Hit)
        xmotivo = (hit.xmotivo if hit.xmotivo is not None else rule.xmotivo) + hit.detail
        return Verdict(rule, hit.cstat if hit.cstat is not None else rule.cstat, _motivo(xmotivo), hit.found)
    return None


def _motivo(text: str) -> str:
    """TMotivo: 1-255 Latin-1 characters without line breaks, no blank at either end."""
    cleaned = "".join(char if " " <= char <= "\xff" else " " for char in text)
    return cleaned[:255].strip()
