"""Sample emitente, destinatário and nota for the fiscal tests (camelCase JSON, as config and events send)."""

from __future__ import annotations

from typing import Any

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
