"""The five web services: read the message, ask the rule table, keep what SEFAZ keeps, answer.

Each answer is the ret* document the WSDL puts inside nfeResultMsg, valid against its official
schema (tests check every one). The whole of a request runs under the store's lock: SEFAZ answers
one chave at a time, and two racing resends must see each other (204), not both be authorized.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from lxml import etree

from nfe.local.sefaz.documents import NFE, evento_facts, inut_facts, nfe_facts, q
from nfe.local.sefaz.rules import Config, Ctx, Service, Verdict, judge
from nfe.local.sefaz.state import Store, StoredEvento, StoredInutilizacao, StoredNFe, Switches

BRT = datetime.timezone(datetime.timedelta(hours=-3))
SERVICES: dict[str, Service] = {
    "NFeAutorizacao4": "autorizacao",
    "NFeConsultaProtocolo4": "consulta",
    "NFeStatusServico4": "status",
    "NFeRecepcaoEvento4": "evento",
    "NFeInutilizacao4": "inutilizacao",
}


def timestamp(moment: datetime.datetime) -> str:
    """TDateTimeUTC as SEFAZ writes it: local time of the UF with its offset, no fraction."""
    return moment.astimezone(BRT).replace(microsecond=0).isoformat()


def _element(tag: str, attrib: dict[str, str] | None = None, *children: tuple[str, str | None]) -> etree._Element:
    element = etree.Element(q(tag), attrib or {}, nsmap={None: NFE})
    _add(element, *children)
    return element


def _add(parent: etree._Element, *children: tuple[str, str | None]) -> None:
    for tag, text in children:
        if text is not None:
            etree.SubElement(parent, q(tag)).text = text


class SefazService:
    def __init__(self, config: Config, store: Store, switches: Switches) -> None:
        self.config = config
        self.store = store
        self.switches = switches

    def handle(self, name: str, message: etree._Element | None) -> etree._Element:
        """The answer of web service `name` (e.g. "NFeAutorizacao4") to `message` (None: not XML)."""
        service = SERVICES[name]
        with self.store.lock:
            root_name = ""
            if message is not None and etree.QName(message).namespace == NFE:
                root_name = etree.QName(message).localname
            ctx = Ctx(self.config, self.store, self.switches, self.switches.now(), message, root_name)
            handler = getattr(self, f"_{service}")
            result: etree._Element = handler(ctx)
            return result

    # ---- NFeAutorizacao4 ---------------------------------------------------------------------------

    def _ret_envi(self, ctx: Ctx, cstat: int, xmotivo: str, prot: etree._Element | None = None) -> etree._Element:
        ret = _element(
            "retEnviNFe",
            {"versao": "4.00"},
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("cStat", str(cstat)),
            ("xMotivo", xmotivo),
            ("cUF", self.config.cuf),
            ("dhRecbto", timestamp(ctx.now)),
        )
        if prot is not None:
            ret.append(prot)
        return ret

    def _autorizacao(self, ctx: Ctx) -> etree._Element:
        verdict = judge("autorizacao", "lote", ctx)
        if verdict is not None:
            return self._ret_envi(ctx, verdict.cstat, verdict.xmotivo)
        assert ctx.message is not None
        (nfe,) = ctx.message.iterfind(q("NFe"))  # the lote rules leave exactly one (synchronous)
        ctx.nfe = nfe_facts(nfe)
        verdict = judge("autorizacao", "documento", ctx)
        assert verdict is not None  # the last row always hits
        return self._ret_envi(ctx, 104, "Lote processado", self._settle(ctx, verdict))

    def _settle(self, ctx: Ctx, verdict: Verdict) -> etree._Element:
        n = ctx.n
        stored = verdict.kind != "rejeicao"
        nprot = self.store.next_protocol(self.config.cuf, ctx.now) if stored else None
        prot = etree.Element(q("protNFe"), {"versao": "4.00"}, nsmap={None: NFE})
        inf = etree.SubElement(prot, q("infProt"))
        _add(
            inf,
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("chNFe", n.chave),
            ("dhRecbto", timestamp(ctx.now)),
            ("nProt", nprot),
            ("digVal", n.digest if stored else None),
            ("cStat", str(verdict.cstat)),
            ("xMotivo", verdict.xmotivo),
        )
        if stored and nprot is not None:
            # Authorized and denied NF-e are kept (a denial consumes the número); rejected ones never are.
            self.store.add_nfe(
                StoredNFe(
                    chave=n.chave,
                    cnpj=n.emitente,
                    mod=n.mod,
                    serie=int(n.serie),
                    nnf=int(n.nnf),
                    tp_amb=n.tp_amb,
                    dh_emi=n.dh_emi,
                    cstat=verdict.cstat,
                    xmotivo=verdict.xmotivo,
                    nprot=nprot,
                    dh_recbto=timestamp(ctx.now),
                    dig_val=n.digest,
                    prot_nfe=etree.tostring(prot, encoding="unicode"),
                    dest=n.destinatario,
                )
            )
        return prot

    # ---- NFeConsultaProtocolo4 ---------------------------------------------------------------------

    def _consulta(self, ctx: Ctx) -> etree._Element:
        verdict = judge("consulta", "lote", ctx) or judge("consulta", "documento", ctx)
        assert verdict is not None
        chave = ctx.text("n:chNFe") if ctx.message is not None and verdict.rule.cstat != 243 else ""
        if len(chave) != 44:
            chave = "0" * 44
        ret = _element(
            "retConsSitNFe",
            {"versao": "4.00"},
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("cStat", str(verdict.cstat)),
            ("xMotivo", verdict.xmotivo),
            ("cUF", self.config.cuf),
            ("dhRecbto", timestamp(ctx.now)),
            ("chNFe", chave),
        )
        stored = verdict.found
        if isinstance(stored, StoredNFe):
            ret.append(etree.fromstring(stored.prot_nfe))
            for evento_id in stored.eventos:
                ret.append(etree.fromstring(self.store.eventos[evento_id].proc_evento))
        return ret

    # ---- NFeStatusServico4 -------------------------------------------------------------------------

    def _status(self, ctx: Ctx) -> etree._Element:
        verdict = judge("status", "lote", ctx) or judge("status", "documento", ctx)
        assert verdict is not None
        return _element(
            "retConsStatServ",
            {"versao": "4.00"},
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("cStat", str(verdict.cstat)),
            ("xMotivo", verdict.xmotivo),
            ("cUF", self.config.cuf),
            ("dhRecbto", timestamp(ctx.now)),
            ("tMed", "1" if verdict.cstat == 107 else None),
        )

    # ---- NFeRecepcaoEvento4 ------------------------------------------------------------------------

    def _evento(self, ctx: Ctx) -> etree._Element:
        verdict = judge("evento", "lote", ctx)
        id_lote = ctx.text("n:idLote") if ctx.message is not None and verdict is None else ""
        ret = _element("retEnvEvento", {"versao": "1.00"}, ("idLote", id_lote or "0"))
        _add(ret, ("tpAmb", self.config.tp_amb), ("verAplic", self.config.ver_aplic), ("cOrgao", self.config.cuf))
        if verdict is not None:
            _add(ret, ("cStat", str(verdict.cstat)), ("xMotivo", verdict.xmotivo))
            return ret
        _add(ret, ("cStat", "128"), ("xMotivo", "Lote de Evento Processado"))
        assert ctx.message is not None
        for evento in ctx.message.iterfind(q("evento")):
            ctx.evento = evento_facts(evento)
            verdict = judge("evento", "documento", ctx)
            assert verdict is not None
            ret.append(self._settle_evento(ctx, verdict))
        return ret

    def _settle_evento(self, ctx: Ctx, verdict: Verdict) -> etree._Element:
        e = ctx.e
        registered = verdict.kind == "sucesso"
        nprot = self.store.next_protocol(self.config.cuf, ctx.now) if registered else None
        ret = etree.Element(q("retEvento"), {"versao": "1.00"}, nsmap={None: NFE})
        inf = etree.SubElement(ret, q("infEvento"))
        _add(
            inf,
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("cOrgao", self.config.cuf),
            ("cStat", str(verdict.cstat)),
            ("xMotivo", verdict.xmotivo),
            ("chNFe", e.chave),
            ("tpEvento", e.tp_evento),
            ("xEvento", "Cancelamento registrado" if registered else None),
            ("nSeqEvento", e.n_seq_evento),
            ("dhRegEvento", timestamp(ctx.now)),
            ("nProt", nprot),
        )
        if registered and nprot is not None:
            proc = etree.Element(q("procEventoNFe"), {"versao": "1.00"}, nsmap={None: NFE})
            proc.append(_standalone(e.element))
            proc.append(copy.deepcopy(ret))
            self.store.add_evento(
                StoredEvento(
                    id=e.id,
                    chave=e.chave,
                    tp_evento=e.tp_evento,
                    n_seq_evento=int(e.n_seq_evento),
                    cstat=verdict.cstat,
                    nprot=nprot,
                    dh_reg_evento=timestamp(ctx.now),
                    proc_evento=etree.tostring(proc, encoding="unicode"),
                )
            )
            nfe = self.store.nfes[e.chave]
            nfe.cstat, nfe.xmotivo = 101, "Cancelamento de NF-e homologado"
            self.store.save()
        return ret

    # ---- NFeInutilizacao4 --------------------------------------------------------------------------

    def _inutilizacao(self, ctx: Ctx) -> etree._Element:
        verdict = judge("inutilizacao", "lote", ctx)
        if verdict is None:
            assert ctx.message is not None
            ctx.inut = inut_facts(ctx.message)
            verdict = judge("inutilizacao", "documento", ctx)
        assert verdict is not None
        ret = _element("retInutNFe", {"versao": "4.00"})
        inf = etree.SubElement(ret, q("infInut"))
        _add(
            inf,
            ("tpAmb", self.config.tp_amb),
            ("verAplic", self.config.ver_aplic),
            ("cStat", str(verdict.cstat)),
            ("xMotivo", verdict.xmotivo),
            ("cUF", self.config.cuf),
        )
        nprot: str | None = None
        if ctx.inut is not None:
            i = ctx.inut
            _add(
                inf,
                ("ano", i.ano),
                ("CNPJ", i.cnpj),
                ("mod", i.mod),
                ("serie", i.serie),
                ("nNFIni", str(i.ini)),
                ("nNFFin", str(i.fin)),
            )
            if verdict.cstat == 563 and isinstance(verdict.found, StoredInutilizacao):
                nprot = verdict.found.nprot  # the same range again: the earlier protocol comes back
            elif verdict.kind == "sucesso":
                nprot = self.store.next_protocol(self.config.cuf, ctx.now)
        _add(inf, ("dhRecbto", timestamp(ctx.now)), ("nProt", nprot))
        if verdict.kind == "sucesso" and ctx.inut is not None and nprot is not None:
            i = ctx.inut
            self.store.add_inutilizacao(
                StoredInutilizacao(
                    cnpj=i.cnpj,
                    mod=i.mod,
                    serie=int(i.serie),
                    ano=i.ano,
                    ini=i.ini,
                    fin=i.fin,
                    nprot=nprot,
                    dh_recbto=timestamp(ctx.now),
                    x_just=i.x_just,
                    ret_inut=etree.tostring(ret, encoding="unicode"),
                )
            )
        return ret


def _standalone(element: etree._Element) -> etree._Element:
    document = etree.fromstring(etree.tostring(element))
    etree.cleanup_namespaces(document)
    return document


def _camel(item: Any) -> Any:
    """The stored records with the JSON API's camelCase keys (dh_recbto -> dhRecbto)."""
    if not isinstance(item, dict):
        return item
    result = {}
    for key, value in item.items():
        head, *rest = key.split("_")
        result[head + "".join(part[:1].upper() + part[1:] for part in rest)] = value
    return result


def describe(store: Store, switches: Switches, config: Config) -> dict[str, Any]:
    """GET /_emulator/state: what is stored, the switches and the clock."""
    with store.lock:
        stored = store.as_json()
        data = {key: [_camel(item) for item in stored[key]] for key in ("nfe", "eventos", "inutilizacoes")}
        return {
            "uf": config.uf,
            "cUF": config.cuf,
            "tpAmb": config.tp_amb,
            "now": timestamp(switches.now()),
            "switches": switches.as_json(),
            "nfe": data["nfe"],
            "eventos": data["eventos"],
            "inutilizacoes": data["inutilizacoes"],
        }
