"""NF-e 4.00 web service URLs: one table per authorizer and ambiente, and an override for the emulator.

Source: nfelib 3.2.0, `nfelib/nfe/client/v4_0/servers.py` (generated from the SEFAZ portal's list of
web services, https://www.nfe.fazenda.gov.br/portal/webServices.aspx), copied here as data, not imported:
that module sits in nfelib's SOAP client package, which this function does not use, and a copy makes a
URL change a reviewed diff. `tests/test_sefaz_client_endpoints.py` compares the copy with the installed
nfelib, so an upgrade that moves a URL fails a test instead of silently changing where notas go.

Which UF uses which authorizer follows nfelib's `nfe.py` (`_OWN_SERVER_UFS`, `_SVAN_NORMAL_UFS`,
`_SVRS_NORMAL_UFS`): ten UFs run their own SEFAZ, MA and PA use SVAN, the others SVRS. Contingency
authorizers (SVC-AN, SVC-RS) are not in the table: contingency is not supported yet (issue 21).

nfelib lists some URLs with `?wsdl` (GO, MT, PE homologação, PR). That query asks a server for its WSDL on
a GET; the SOAP endpoint is the path, which is what other clients' tables list for the same services, so
`url()` posts to the path without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["AUTORIZADORES", "UF_AUTORIZADOR", "Servico", "autorizador", "url", "urls"]


class Servico(StrEnum):
    """The NF-e 4.00 web services this function may call (the WSDL's service name)."""

    AUTORIZACAO = "NFeAutorizacao4"
    CONSULTA_PROTOCOLO = "NFeConsultaProtocolo4"
    STATUS_SERVICO = "NFeStatusServico4"
    RECEPCAO_EVENTO = "NFeRecepcaoEvento4"
    INUTILIZACAO = "NFeInutilizacao4"

    @property
    def operacao(self) -> str:
        """The WSDL operation (the SOAP 1.2 action is `<namespace>/<operacao>`)."""
        return _OPERACOES[self]

    @property
    def namespace(self) -> str:
        """The WSDL namespace of nfeDadosMsg and nfeResultMsg."""
        return f"http://www.portalfiscal.inf.br/nfe/wsdl/{self.value}"


_OPERACOES = {
    Servico.AUTORIZACAO: "nfeAutorizacaoLote",
    Servico.CONSULTA_PROTOCOLO: "nfeConsultaNF",
    Servico.STATUS_SERVICO: "nfeStatusServicoNF",
    Servico.RECEPCAO_EVENTO: "nfeRecepcaoEvento",
    Servico.INUTILIZACAO: "nfeInutilizacaoNF",
}

PRODUCAO = 1
HOMOLOGACAO = 2

# authorizer -> tpAmb (1 produção, 2 homologação) -> service -> URL, as nfelib 3.2.0 lists them.
_TABELA: dict[str, dict[int, dict[Servico, str]]] = {
    "AM": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.am.gov.br/services2/services/NfeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.am.gov.br/services2/services/NfeConsulta4",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.am.gov.br/services2/services/NfeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.am.gov.br/services2/services/RecepcaoEvento4",
            Servico.INUTILIZACAO: "https://nfe.sefaz.am.gov.br/services2/services/NfeInutilizacao4",
        },
        2: {
            Servico.AUTORIZACAO: "https://homnfe.sefaz.am.gov.br/services2/services/NfeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://homnfe.sefaz.am.gov.br/services2/services/NfeConsulta4",
            Servico.STATUS_SERVICO: "https://homnfe.sefaz.am.gov.br/services2/services/NfeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://homnfe.sefaz.am.gov.br/services2/services/RecepcaoEvento4",
            Servico.INUTILIZACAO: "https://homnfe.sefaz.am.gov.br/services2/services/NfeInutilizacao4",
        },
    },
    "BA": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.ba.gov.br/webservices/NFeAutorizacao4/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.ba.gov.br/webservices/NFeConsultaProtocolo4/NFeConsultaProtocolo4.asmx",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.ba.gov.br/webservices/NFeStatusServico4/NFeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.ba.gov.br/webservices/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx",
            Servico.INUTILIZACAO: "https://nfe.sefaz.ba.gov.br/webservices/NFeInutilizacao4/NFeInutilizacao4.asmx",
        },
        2: {
            Servico.AUTORIZACAO: "https://hnfe.sefaz.ba.gov.br/webservices/NFeAutorizacao4/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://hnfe.sefaz.ba.gov.br/webservices/NFeConsultaProtocolo4/NFeConsultaProtocolo4.asmx",
            Servico.STATUS_SERVICO: "https://hnfe.sefaz.ba.gov.br/webservices/NFeStatusServico4/NFeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://hnfe.sefaz.ba.gov.br/webservices/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx",
            Servico.INUTILIZACAO: "https://hnfe.sefaz.ba.gov.br/webservices/NFeInutilizacao4/NFeInutilizacao4.asmx",
        },
    },
    "GO": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.go.gov.br/nfe/services/NFeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.go.gov.br/nfe/services/NFeConsultaProtocolo4?wsdl",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.go.gov.br/nfe/services/NFeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.go.gov.br/nfe/services/NFeRecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://nfe.sefaz.go.gov.br/nfe/services/NFeInutilizacao4?wsdl",
        },
        2: {
            Servico.AUTORIZACAO: "https://homolog.sefaz.go.gov.br/nfe/services/NFeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://homolog.sefaz.go.gov.br/nfe/services/NFeConsultaProtocolo4?wsdl",
            Servico.STATUS_SERVICO: "https://homolog.sefaz.go.gov.br/nfe/services/NFeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://homolog.sefaz.go.gov.br/nfe/services/NFeRecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://homolog.sefaz.go.gov.br/nfe/services/NFeInutilizacao4?wsdl",
        },
    },
    "MG": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.fazenda.mg.gov.br/nfe2/services/NFeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.fazenda.mg.gov.br/nfe2/services/NFeConsultaProtocolo4",
            Servico.STATUS_SERVICO: "https://nfe.fazenda.mg.gov.br/nfe2/services/NFeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://nfe.fazenda.mg.gov.br/nfe2/services/NFeRecepcaoEvento4",
            Servico.INUTILIZACAO: "https://nfe.fazenda.mg.gov.br/nfe2/services/NFeInutilizacao4",
        },
        2: {
            Servico.AUTORIZACAO: "https://hnfe.fazenda.mg.gov.br/nfe2/services/NFeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://hnfe.fazenda.mg.gov.br/nfe2/services/NFeConsultaProtocolo4",
            Servico.STATUS_SERVICO: "https://hnfe.fazenda.mg.gov.br/nfe2/services/NFeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://hnfe.fazenda.mg.gov.br/nfe2/services/NFeRecepcaoEvento4",
            Servico.INUTILIZACAO: "https://hnfe.fazenda.mg.gov.br/nfe2/services/NFeInutilizacao4",
        },
    },
    "MS": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.ms.gov.br/ws/NFeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.ms.gov.br/ws/NFeConsultaProtocolo4",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.ms.gov.br/ws/NFeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.ms.gov.br/ws/NFeRecepcaoEvento4",
            Servico.INUTILIZACAO: "https://nfe.sefaz.ms.gov.br/ws/NFeInutilizacao4",
        },
        2: {
            Servico.AUTORIZACAO: "https://hom.nfe.sefaz.ms.gov.br/ws/NFeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://hom.nfe.sefaz.ms.gov.br/ws/NFeConsultaProtocolo4",
            Servico.STATUS_SERVICO: "https://hom.nfe.sefaz.ms.gov.br/ws/NFeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://hom.nfe.sefaz.ms.gov.br/ws/NFeRecepcaoEvento4",
            Servico.INUTILIZACAO: "https://hom.nfe.sefaz.ms.gov.br/ws/NFeInutilizacao4",
        },
    },
    "MT": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.mt.gov.br/nfews/v2/services/NfeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.mt.gov.br/nfews/v2/services/NfeConsulta4?wsdl",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.mt.gov.br/nfews/v2/services/NfeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.mt.gov.br/nfews/v2/services/RecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://nfe.sefaz.mt.gov.br/nfews/v2/services/NfeInutilizacao4?wsdl",
        },
        2: {
            Servico.AUTORIZACAO: "https://homologacao.sefaz.mt.gov.br/nfews/v2/services/NfeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://homologacao.sefaz.mt.gov.br/nfews/v2/services/NfeConsulta4?wsdl",
            Servico.STATUS_SERVICO: "https://homologacao.sefaz.mt.gov.br/nfews/v2/services/NfeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://homologacao.sefaz.mt.gov.br/nfews/v2/services/RecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://homologacao.sefaz.mt.gov.br/nfews/v2/services/NfeInutilizacao4?wsdl",
        },
    },
    "PE": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefaz.pe.gov.br/nfe-service/services/NFeAutorizacao4",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefaz.pe.gov.br/nfe-service/services/NFeConsultaProtocolo4",
            Servico.STATUS_SERVICO: "https://nfe.sefaz.pe.gov.br/nfe-service/services/NFeStatusServico4",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefaz.pe.gov.br/nfe-service/services/NFeRecepcaoEvento4",
            Servico.INUTILIZACAO: "https://nfe.sefaz.pe.gov.br/nfe-service/services/NFeInutilizacao4",
        },
        2: {
            Servico.AUTORIZACAO: "https://nfehomolog.sefaz.pe.gov.br/nfe-service/services/NFeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://nfehomolog.sefaz.pe.gov.br/nfe-service/services/NFeConsultaProtocolo4?wsdl",
            Servico.STATUS_SERVICO: "https://nfehomolog.sefaz.pe.gov.br/nfe-service/services/NFeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://nfehomolog.sefaz.pe.gov.br/nfe-service/services/NFeRecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://nfehomolog.sefaz.pe.gov.br/nfe-service/services/NFeInutilizacao4?wsdl",
        },
    },
    "PR": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefa.pr.gov.br/nfe/NFeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefa.pr.gov.br/nfe/NFeConsultaProtocolo4?wsdl",
            Servico.STATUS_SERVICO: "https://nfe.sefa.pr.gov.br/nfe/NFeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefa.pr.gov.br/nfe/NFeRecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://nfe.sefa.pr.gov.br/nfe/NFeInutilizacao4?wsdl",
        },
        2: {
            Servico.AUTORIZACAO: "https://homologacao.nfe.sefa.pr.gov.br/nfe/NFeAutorizacao4?wsdl",
            Servico.CONSULTA_PROTOCOLO: "https://homologacao.nfe.sefa.pr.gov.br/nfe/NFeConsultaProtocolo4?wsdl",
            Servico.STATUS_SERVICO: "https://homologacao.nfe.sefa.pr.gov.br/nfe/NFeStatusServico4?wsdl",
            Servico.RECEPCAO_EVENTO: "https://homologacao.nfe.sefa.pr.gov.br/nfe/NFeRecepcaoEvento4?wsdl",
            Servico.INUTILIZACAO: "https://homologacao.nfe.sefa.pr.gov.br/nfe/NFeInutilizacao4?wsdl",
        },
    },
    "RS": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.sefazrs.rs.gov.br/ws/NfeAutorizacao/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.sefazrs.rs.gov.br/ws/NfeConsulta/NfeConsulta4.asmx",
            Servico.STATUS_SERVICO: "https://nfe.sefazrs.rs.gov.br/ws/NfeStatusServico/NfeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe.sefazrs.rs.gov.br/ws/recepcaoevento/recepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://nfe.sefazrs.rs.gov.br/ws/nfeinutilizacao/nfeinutilizacao4.asmx",
        },
        2: {
            Servico.AUTORIZACAO: "https://nfe-homologacao.sefazrs.rs.gov.br/ws/NfeAutorizacao/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe-homologacao.sefazrs.rs.gov.br/ws/NfeConsulta/NfeConsulta4.asmx",
            Servico.STATUS_SERVICO: "https://nfe-homologacao.sefazrs.rs.gov.br/ws/NfeStatusServico/NfeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe-homologacao.sefazrs.rs.gov.br/ws/recepcaoevento/recepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://nfe-homologacao.sefazrs.rs.gov.br/ws/nfeinutilizacao/nfeinutilizacao4.asmx",
        },
    },
    "SP": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.fazenda.sp.gov.br/ws/nfeautorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.fazenda.sp.gov.br/ws/nfeconsultaprotocolo4.asmx",
            Servico.STATUS_SERVICO: "https://nfe.fazenda.sp.gov.br/ws/nfestatusservico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe.fazenda.sp.gov.br/ws/nferecepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://nfe.fazenda.sp.gov.br/ws/nfeinutilizacao4.asmx",
        },
        2: {
            Servico.AUTORIZACAO: "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfeautorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfeconsultaprotocolo4.asmx",
            Servico.STATUS_SERVICO: "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfestatusservico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://homologacao.nfe.fazenda.sp.gov.br/ws/nferecepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfeinutilizacao4.asmx",
        },
    },
    "SVAN": {
        1: {
            Servico.AUTORIZACAO: "https://www.sefazvirtual.fazenda.gov.br/NFeAutorizacao4/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://www.sefazvirtual.fazenda.gov.br/NFeConsultaProtocolo4/NFeConsultaProtocolo4.asmx",
            Servico.STATUS_SERVICO: "https://www.sefazvirtual.fazenda.gov.br/NFeStatusServico4/NFeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://www.sefazvirtual.fazenda.gov.br/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx",
            Servico.INUTILIZACAO: "https://www.sefazvirtual.fazenda.gov.br/NFeInutilizacao4/NFeInutilizacao4.asmx",
        },
        2: {
            Servico.AUTORIZACAO: "https://hom.sefazvirtual.fazenda.gov.br/NFeAutorizacao4/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://hom.sefazvirtual.fazenda.gov.br/NFeConsultaProtocolo4/NFeConsultaProtocolo4.asmx",
            Servico.STATUS_SERVICO: "https://hom.sefazvirtual.fazenda.gov.br/NFeStatusServico4/NFeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://hom.sefazvirtual.fazenda.gov.br/NFeRecepcaoEvento4/NFeRecepcaoEvento4.asmx",
            Servico.INUTILIZACAO: "https://hom.sefazvirtual.fazenda.gov.br/NFeInutilizacao4/NFeInutilizacao4.asmx",
        },
    },
    "SVRS": {
        1: {
            Servico.AUTORIZACAO: "https://nfe.svrs.rs.gov.br/ws/NfeAutorizacao/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe.svrs.rs.gov.br/ws/NfeConsulta/NfeConsulta4.asmx",
            Servico.STATUS_SERVICO: "https://nfe.svrs.rs.gov.br/ws/NfeStatusServico/NfeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe.svrs.rs.gov.br/ws/recepcaoevento/recepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://nfe.svrs.rs.gov.br/ws/nfeinutilizacao/nfeinutilizacao4.asmx",
        },
        2: {
            Servico.AUTORIZACAO: "https://nfe-homologacao.svrs.rs.gov.br/ws/NfeAutorizacao/NFeAutorizacao4.asmx",
            Servico.CONSULTA_PROTOCOLO: "https://nfe-homologacao.svrs.rs.gov.br/ws/NfeConsulta/NfeConsulta4.asmx",
            Servico.STATUS_SERVICO: "https://nfe-homologacao.svrs.rs.gov.br/ws/NfeStatusServico/NfeStatusServico4.asmx",
            Servico.RECEPCAO_EVENTO: "https://nfe-homologacao.svrs.rs.gov.br/ws/recepcaoevento/recepcaoevento4.asmx",
            Servico.INUTILIZACAO: "https://nfe-homologacao.svrs.rs.gov.br/ws/nfeinutilizacao/nfeinutilizacao4.asmx",
        },
    },
}

AUTORIZADORES: Mapping[str, Mapping[int, Mapping[Servico, str]]] = MappingProxyType(
    {
        nome: MappingProxyType({amb: MappingProxyType(svc) for amb, svc in ambientes.items()})
        for nome, ambientes in _TABELA.items()
    }
)

_PROPRIOS = ("AM", "BA", "GO", "MG", "MS", "MT", "PE", "PR", "RS", "SP")
_SVAN = ("MA", "PA")
_SVRS = ("AC", "AL", "AP", "CE", "DF", "ES", "PB", "PI", "RJ", "RN", "RO", "RR", "SC", "SE", "TO")

UF_AUTORIZADOR: Mapping[str, str] = MappingProxyType(
    {**{uf: uf for uf in _PROPRIOS}, **{uf: "SVAN" for uf in _SVAN}, **{uf: "SVRS" for uf in _SVRS}}
)


def autorizador(uf: str) -> str:
    """The authorizer of an emitente's UF: the UF itself, "SVAN" or "SVRS"."""
    try:
        return UF_AUTORIZADOR[uf.upper()]
    except KeyError:
        raise ValueError(f"unknown UF {uf!r}") from None


def _ambiente(ambiente: int) -> int:
    if int(ambiente) not in (PRODUCAO, HOMOLOGACAO):
        raise ValueError("ambiente must be 1 (produção) or 2 (homologação)")
    return int(ambiente)


def url(servico: Servico, *, uf: str, ambiente: int, base_url: str | None = None) -> str:
    """Where to POST `servico` for an emitente of `uf` in `ambiente`.

    `base_url` overrides the table (local mode and tests: the emulated SEFAZ serves `<base>/ws/<Service>`).
    """
    servico = Servico(servico)
    _ambiente(ambiente)
    if base_url is not None:
        if not base_url.startswith("https://"):
            raise ValueError("the SEFAZ base URL must be https:// (mutual TLS)")
        return f"{base_url.rstrip('/')}/ws/{servico.value}"
    listed = AUTORIZADORES[autorizador(uf)][int(ambiente)][servico]
    return listed.removesuffix("?wsdl")


def urls(*, uf: str, ambiente: int, base_url: str | None = None) -> dict[Servico, str]:
    """Every service's URL for an emitente of `uf` in `ambiente` (see `url`)."""
    return {servico: url(servico, uf=uf, ambiente=ambiente, base_url=base_url) for servico in Servico}
