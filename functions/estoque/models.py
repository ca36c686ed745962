"""Estoque's HTTP models: what the API accepts and answers (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from functions.shared.apimodels import ApiInput, ApiOutput, UsuarioOut

# estoque.produtos.quantidade is an integer column; stock is kept below its ceiling.
MAX_ESTOQUE = 2_147_483_647
MAX_ESTOQUE_INICIAL = 1_000_000_000
MAX_ENTRADA = 1_000_000

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["PAR-001"])]


class ProdutoIn(ApiInput):
    sku: Sku
    nome: Annotated[str, Field(min_length=1, max_length=200, examples=["Parafuso 6mm"])]
    # strict: 2.0, "2" and true are not quantities.
    quantidade: Annotated[int, Field(strict=True, ge=0, le=MAX_ESTOQUE_INICIAL)]


class EntradaIn(ApiInput):
    quantidade: Annotated[int, Field(strict=True, ge=1, le=MAX_ENTRADA)]


class ProdutoOut(ApiOutput):
    id: UUID
    sku: str
    nome: str
    quantidade: int = Field(description="Units available now (reserved units are already taken out)")
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
