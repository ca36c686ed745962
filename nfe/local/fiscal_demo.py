"""Local mode's fiscal demo data: an emitente, destinatários and produtos' fiscal fields.

Fictional but valid where SEFAZ checks: CNPJs and CPF with correct check digits, IBGE município
codes inside their UF, 8-digit NCMs. The emitente emits in homologação (tpAmb 2), where SEFAZ
demands the destinatário's name be the rule E04-20 literal and nothing has fiscal value. Tests,
benchmarks and `nfe demo` use these; local mode gives its Faturamento containers this emitente.
"""

from __future__ import annotations

import json
from typing import Any

# The emitente local mode gives Faturamento's functions (nfe:emitente on a stack). The emulated
# SEFAZ's default certificate carries the same CNPJ.
DEMO_EMITENTE: dict[str, Any] = {
    "cnpj": "11222333000181",
    "razaoSocial": "NFE DEMO COMERCIO LTDA",
    "nomeFantasia": "NFE DEMO",
    "ie": "110042490114",
    "crt": 1,
    "endereco": {
        "logradouro": "Avenida Paulista",
        "numero": "1000",
        "bairro": "Bela Vista",
        "codigoMunicipio": "3550308",
        "municipio": "Sao Paulo",
        "uf": "SP",
        "cep": "01310100",
    },
    "serie": 1,
    "ambiente": 2,
}

# In the emitente's UF (CFOP 5102), não contribuinte.
DESTINATARIO_SP: dict[str, Any] = {
    "documento": "11.222.333/0001-81",
    "nome": "ACME Ltda",
    "endereco": {
        "logradouro": "Rua Augusta",
        "numero": "500",
        "complemento": "Sala 2",
        "bairro": "Consolacao",
        "codigoMunicipio": "3550308",
        "municipio": "Sao Paulo",
        "uf": "SP",
        "cep": "01305-000",
    },
    "indicadorIe": 9,
}

# Another UF (CFOP 6102), contribuinte with its IE.
DESTINATARIO_RJ: dict[str, Any] = {
    "documento": "11.444.777/0001-61",
    "nome": "Loja Carioca SA",
    "endereco": {
        "logradouro": "Rua da Assembleia",
        "numero": "10",
        "bairro": "Centro",
        "codigoMunicipio": "3304557",
        "municipio": "Rio de Janeiro",
        "uf": "RJ",
        "cep": "20011-000",
    },
    "indicadorIe": 1,
    "ie": "86582413",
    "email": "compras@example.com",
}

# What a produto needs to be invoiced (merged into a produto's body).
PRODUTO_FISCAL: dict[str, Any] = {"ncm": "94036000", "unidade": "UN", "origem": 0}


def emitente_json(emitente: dict[str, Any] | None = None) -> str:
    return json.dumps(emitente or DEMO_EMITENTE, separators=(",", ":"))
