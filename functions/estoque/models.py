"""Estoque's HTTP models: what the API accepts and answers (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, WithJsonSchema

from functions.fiscal.identifiers import SEM_GTIN, normalizar_gtin, normalizar_ncm
from functions.shared.apimodels import ApiInput, ApiOutput, UsuarioOut

# estoque.produtos.quantidade is an integer column; stock is kept below its ceiling.
MAX_ESTOQUE = 2_147_483_647
MAX_ESTOQUE_INICIAL = 1_000_000_000
MAX_ENTRADA = 1_000_000

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["PAR-001"])]


def _gtin_or_none(value: str | None) -> str | None:
    gtin = normalizar_gtin(value)
    return None if gtin == SEM_GTIN else gtin


Ncm = Annotated[
    str,
    Field(max_length=16),
    AfterValidator(normalizar_ncm),
    WithJsonSchema(
        {"type": "string", "maxLength": 16, "description": "NCM, 8 digits (dots allowed)", "examples": ["94036000"]}
    ),
]
Gtin = Annotated[
    str | None,
    Field(default=None, max_length=20),
    AfterValidator(_gtin_or_none),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 20,
            "description": "GTIN-8/12/13/14, check digit verified; omit or null for SEM GTIN",
            "examples": ["7891000315507"],
        }
    ),
]
Unidade = Annotated[str, Field(min_length=1, max_length=6, pattern=r"^\S+$", examples=["UN", "KG", "CX"])]
# Origem da mercadoria (the NF-e's orig, ICMS table A): 0 nacional ... 8 nacional com importação > 70 %.
Origem = Annotated[int, Field(strict=True, ge=0, le=8)]


class ProdutoIn(ApiInput):
    sku: Sku
    nome: Annotated[str, Field(min_length=1, max_length=200, examples=["Parafuso 6mm"])]
    # strict: 2.0, "2" and true are not quantities.
    quantidade: Annotated[int, Field(strict=True, ge=0, le=MAX_ESTOQUE_INICIAL)]
    # What an NF-e item needs. Optional so that clients from before keep working, but a produto
    # without them cannot be invoiced: its reservation fails with PRODUTO_SEM_DADOS_FISCAIS.
    ncm: Ncm | None = None
    unidade: Unidade | None = None
    origem: Origem | None = None
    gtin: Gtin = None


class EntradaIn(ApiInput):
    quantidade: Annotated[int, Field(strict=True, ge=1, le=MAX_ENTRADA)]


class ProdutoOut(ApiOutput):
    id: UUID
    sku: str
    nome: str
    quantidade: int = Field(description="Units available now (reserved units are already taken out)")
    ncm: str | None = Field(default=None, description="null: the produto cannot be invoiced until it has one")
    unidade: str | None = None
    origem: int | None = None
    gtin: str | None = Field(default=None, description="null: SEM GTIN")
    criado_em: datetime
    criado_por: UsuarioOut | None = Field(
        default=None, description="Who created the produto; null for produtos created before sign-in existed"
    )
    atualizado_em: datetime


class EntradaOut(ApiOutput):
    id: UUID
    quantidade: int
    registrada_em: datetime
    registrada_por: UsuarioOut | None = Field(description="Who registered the entrada")


class EntradaRegistrada(ProdutoOut):
    """The produto with its new stock, and the entrada just recorded."""

    entrada: EntradaOut


class PaginaProdutos(ApiOutput):
    items: list[ProdutoOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
