"""Estoque's HTTP routes: each parses its input, calls one logic method, returns a model."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from functions.estoque.logic import ProdutosService
from functions.estoque.models import EntradaIn, EntradaRegistrada, PaginaProdutos, ProdutoIn, ProdutoOut
from functions.shared.api import error_responses, new_resolver
from functions.shared.auth import current_actor
from functions.shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

TAG = "produtos"
ProdutoId = Annotated[UUID, Path(description="The produto's id (a UUID)")]


def build_app(service: ProdutosService, cors_allow_origin: str) -> APIGatewayRestResolver:
    app = new_resolver(cors_allow_origin)

    @app.post(
        "/api/v1/produtos",
        summary="Register a produto with its initial stock",
        tags=[TAG],
        status_code=HTTPStatus.CREATED,
        responses={201: {"description": "Created"}, **error_responses(400, 401, 403, 409, 413, 415, 422, 503)},
    )
    def criar_produto(produto: Annotated[ProdutoIn, Body()]) -> ProdutoOut:
        return service.criar(produto, current_actor(app))

    @app.get(
        "/api/v1/produtos",
        summary="List produtos, newest first",
        tags=[TAG],
        responses={200: {"description": "One page of produtos"}, **error_responses(401, 403, 422, 503)},
    )
    def listar_produtos(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page")] = None,
    ) -> PaginaProdutos:
        return service.listar(limit, cursor)

    @app.get(
        "/api/v1/produtos/<id>",
        summary="Read one produto and its current stock",
        tags=[TAG],
        responses={200: {"description": "The produto"}, **error_responses(401, 403, 404, 422, 503)},
    )
    def obter_produto(id: ProdutoId) -> ProdutoOut:
        return service.obter(id)

    @app.post(
        "/api/v1/produtos/<id>/entradas",
        summary="Add units to a produto's stock",
        tags=[TAG],
        responses={
            200: {"description": "The produto with its new stock, and who registered the entrada"},
            **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
        },
    )
    def registrar_entrada(id: ProdutoId, entrada: Annotated[EntradaIn, Body()]) -> EntradaRegistrada:
        return service.registrar_entrada(id, entrada, current_actor(app))

    return app
