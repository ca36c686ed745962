"""functions/sefaz/endpoints.py: the table is nfelib 3.2.0's, each UF has its authorizer, and the emulator's
base URL overrides it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from nfelib.nfe.client.v4_0.servers import Endpoint, servers

from functions.fiscal.identifiers import UFS
from functions.sefaz.endpoints import AUTORIZADORES, UF_AUTORIZADOR, Servico, autorizador, url, urls

NFELIB_ENDPOINT = {
    Servico.AUTORIZACAO: Endpoint.NFEAUTORIZACAO,
    Servico.CONSULTA_PROTOCOLO: Endpoint.NFECONSULTAPROTOCOLO,
    Servico.STATUS_SERVICO: Endpoint.NFESTATUSSERVICO,
    Servico.RECEPCAO_EVENTO: Endpoint.RECEPCAOEVENTO,
    Servico.INUTILIZACAO: Endpoint.NFEINUTILIZACAO,
}


def test_the_table_is_nfelibs_for_the_twelve_authorizers_and_five_services() -> None:
    assert sorted(AUTORIZADORES) == ["AM", "BA", "GO", "MG", "MS", "MT", "PE", "PR", "RS", "SP", "SVAN", "SVRS"]
    for name, ambientes in AUTORIZADORES.items():
        assert sorted(ambientes) == [1, 2]
        for ambiente, listed in ambientes.items():
            key = "prod_endpoints" if ambiente == 1 else "dev_endpoints"
            assert set(listed) == set(Servico)
            for servico, address in listed.items():
                assert address == servers[name][key][NFELIB_ENDPOINT[servico]], (name, ambiente, servico)


def test_every_uf_has_an_authorizer() -> None:
    assert set(UF_AUTORIZADOR) == set(UFS)
    assert (autorizador("sp"), autorizador("MA"), autorizador("RJ"), autorizador("PA")) == (
        "SP",
        "SVAN",
        "SVRS",
        "SVAN",
    )
    with pytest.raises(ValueError, match="unknown UF"):
        autorizador("XX")


def test_urls_post_to_the_path_without_the_wsdl_query() -> None:
    assert (
        url(Servico.AUTORIZACAO, uf="SP", ambiente=2)
        == "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfeautorizacao4.asmx"
    )
    assert url(Servico.AUTORIZACAO, uf="GO", ambiente=1) == "https://nfe.sefaz.go.gov.br/nfe/services/NFeAutorizacao4"
    assert url(Servico.CONSULTA_PROTOCOLO, uf="CE", ambiente=1).startswith("https://nfe.svrs.rs.gov.br/")
    for uf in UFS:
        for ambiente in (1, 2):
            for address in urls(uf=uf, ambiente=ambiente).values():
                assert address.startswith("https://") and "?" not in address
    with pytest.raises(ValueError, match="ambiente"):
        url(Servico.AUTORIZACAO, uf="SP", ambiente=3)


def test_a_base_url_overrides_the_table() -> None:
    assert urls(uf="SP", ambiente=2, base_url="https://localhost:8443/") == {
        servico: f"https://localhost:8443/ws/{servico.value}" for servico in Servico
    }
    with pytest.raises(ValueError, match="https"):
        url(Servico.STATUS_SERVICO, uf="SP", ambiente=2, base_url="http://localhost:8443")


def test_the_wsdl_namespace_and_operation_of_each_service() -> None:
    assert Servico.AUTORIZACAO.namespace == "http://www.portalfiscal.inf.br/nfe/wsdl/NFeAutorizacao4"
    operations = {servico: servico.operacao for servico in Servico}
    assert operations == {
        Servico.AUTORIZACAO: "nfeAutorizacaoLote",
        Servico.CONSULTA_PROTOCOLO: "nfeConsultaNF",
        Servico.STATUS_SERVICO: "nfeStatusServicoNF",
        Servico.RECEPCAO_EVENTO: "nfeRecepcaoEvento",
        Servico.INUTILIZACAO: "nfeInutilizacaoNF",
    }


def test_functions_sefaz_imports_nothing_from_nfe() -> None:
    for source in (Path(__file__).resolve().parents[1] / "functions" / "sefaz").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [name for name in names if name == "nfe" or name.startswith("nfe.")], source
