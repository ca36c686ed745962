"""Sample emitente, destinatário and nota for the fiscal tests (camelCase JSON, as config and events send)."""

from __future__ import annotations

import base64
from typing import Any

from lxml import etree
from nfelib.nfe.bindings.v4_0.leiaute_cons_sit_nfe_v4_00 import TprotNfe
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

from functions.fiscal.model import NotaFiscal

EMITENTE: dict[str, Any] = {
    "cnpj": "11.222.333/0001-81",
    "razaoSocial": "Empresa de Teste Ltda",
    "nomeFantasia": "Loja Teste",
    "ie": "110.042.490.114",
    "crt": 1,
    "endereco": {
        "logradouro": "Avenida Paulista",
        "numero": "1000",
        "complemento": "Conjunto 101",
        "bairro": "Bela Vista",
        "codigoMunicipio": "3550308",
        "municipio": "São Paulo",
        "uf": "SP",
        "cep": "01310-100",
    },
    "serie": 1,
    "ambiente": 2,
}

DESTINATARIO: dict[str, Any] = {
    "documento": "529.982.247-25",
    "nome": "João da Silva",
    "endereco": {
        "logradouro": "Rua das Flores",
        "numero": "42",
        "bairro": "Centro",
        "codigoMunicipio": "3304557",
        "municipio": "Rio de Janeiro",
        "uf": "RJ",
        "cep": "20010-000",
    },
    "indicadorIe": 9,
    "email": "joao@example.com",
}


def item(numero: int = 1, **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "numero": numero,
        "produto": {
            "codigo": f"SKU-{numero:03d}",
            "descricao": f"Cadeira de escritório modelo {numero}",
            "ncm": "9401.30.10",
            "unidade": "UN",
            "origem": 0,
            "gtin": "7891000315507" if numero == 1 else None,
        },
        "quantidade": "2",
        "valorUnitario": "149.90",
    }
    value.update(overrides)
    return value


def nota_json(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "emitente": EMITENTE,
        "destinatario": DESTINATARIO,
        "numero": 123,
        "serie": 1,
        "dhEmi": "2026-12-06T10:30:00-03:00",
        "cnf": "24681357",
        "items": [item(1), item(2, quantidade="1.5", valorUnitario="10.333")],
    }
    value.update(overrides)
    return value


def nota(**overrides: Any) -> NotaFiscal:
    return NotaFiscal.model_validate(nota_json(**overrides))


NFE_NS = "http://www.portalfiscal.inf.br/nfe"
N_PROT = "135260000000001"


def prot_nfe(chave: str, digest: str, *, tp_amb: int = 2, c_stat: str = "100") -> str:
    """A protNFe as SEFAZ answers it (built with nfelib's binding of TProtNFe)."""
    prot = TprotNfe(
        versao="4.00",
        infProt=TprotNfe.InfProt(
            tpAmb=str(tp_amb),
            verAplic="SVRS202612061030",
            chNFe=chave,
            dhRecbto=XmlDateTime.from_string("2026-12-06T10:30:05-03:00"),
            nProt=N_PROT,
            digVal=base64.b64decode(digest),
            cStat=c_stat,
            xMotivo="Autorizado o uso da NF-e",
        ),
    )
    serializer = XmlSerializer(config=SerializerConfig(indent=None, xml_declaration=False))
    # TprotNfe is the schema's type (TProtNFe); SEFAZ sends it as the element protNFe (inside
    # retEnviNFe / retConsSitNFe), which is what the SEFAZ function hands to nfe_proc.
    element = etree.fromstring(serializer.render(prot, ns_map={None: NFE_NS}).encode())
    element.tag = f"{{{NFE_NS}}}protNFe"
    return etree.tostring(element, encoding=str)
