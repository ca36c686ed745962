"""Faturamento's HTTP routes: each parses its input, calls one logic method, returns a model."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from functions.faturamento.logic import NotasService
from functions.faturamento.models import CancelamentoIn, NotaIn, NotaOut, PaginaNotas, Saude, StatusNota
from functions.shared.api import IDEMPOTENCY_HEADER, error_responses, new_resolver
from functions.shared.auth import current_actor
from functions.shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

TAG = "notas"
NotaId = Annotated[UUID, Path(description="The nota's id (a UUID)")]


def build_app(service: NotasService, cors_allow_origin: str) -> APIGatewayRestResolver:
    app = new_resolver(cors_allow_origin)

    @app.get(
        "/health",
        summary="Liveness and database reachability",
        tags=["health"],
        responses={
            200: {"description": "Up, database answering"},
            503: {
                "description": "Database not answering",
                "content": {content_types.APPLICATION_JSON: {"model": Saude}},
            },
        },
    )
    def health() -> Response[Saude]:
        saude = service.saude()
        status = HTTPStatus.OK if saude.database == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=saude)

    @app.post(
        "/api/v1/notas",
        summary="Issue a nota fiscal (PENDING until Estoque reserves its items)",
        tags=[TAG],
        status_code=HTTPStatus.CREATED,
        responses={
            201: {"description": "Created; NotaFiscalCriada is on its way to Estoque"},
            **error_responses(400, 401, 403, 409, 413, 415, 422, 503),
        },
    )
    def criar_nota(
        nota: Annotated[NotaIn, Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                min_length=1,
                max_length=255,
                description="Optional. Repeating a request with the same key and body returns the first "
                "response and creates nothing; the same key with another body is a 422. Keys are kept 24 h.",
            ),
        ] = None,
    ) -> NotaOut:
        return service.criar(nota, current_actor(app), idempotency_key, app.lambda_context)

    @app.get(
        "/api/v1/notas",
        summary="List notas, newest first",
        tags=[TAG],
        responses={200: {"description": "One page of notas"}, **error_responses(401, 403, 422, 503)},
    )
    def listar_notas(
        status: Annotated[StatusNota | None, Query(description="Only notas in this status")] = None,
        serie: Annotated[int | None, Query(ge=0, le=889, description="Only notas of this série")] = None,
        numero_de: Annotated[
            int | None, Query(alias="numeroDe", ge=1, le=999_999_999, description="Only números from this one")
        ] = None,
        numero_ate: Annotated[
            int | None, Query(alias="numeroAte", ge=1, le=999_999_999, description="Only números up to this one")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page")] = None,
    ) -> PaginaNotas:
        return service.listar(status, limit, cursor, serie, numero_de, numero_ate)

    @app.get(
        "/api/v1/notas/<id>",
        summary="Read one nota",
        tags=[TAG],
        responses={200: {"description": "The nota"}, **error_responses(401, 403, 404, 422, 503)},
    )
    def obter_nota(id: NotaId) -> NotaOut:
        return service.obter(id)

    @app.post(
        "/api/v1/notas/<id>/cancelamento",
        summary=(
            "Cancel an AUTORIZADA nota within 24 hours: SEFAZ registers the cancelamento (evento 110111), "
            "then the nota is CANCELADA and Estoque releases the stock"
        ),
        tags=[TAG],
        status_code=HTTPStatus.ACCEPTED,
        responses={
            202: {"description": "Accepted; the nota stays AUTORIZADA until SEFAZ registers the cancelamento"},
            **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
        },
    )
    def cancelar_nota(id: NotaId, pedido: Annotated[CancelamentoIn, Body()]) -> NotaOut:
        return service.solicitar_cancelamento(id, pedido, current_actor(app))

    @app.get(
        "/api/v1/notas/<id>/cancelamento/xml",
        summary="The procEventoNFe of the nota's cancelamento, as SEFAZ registered it; 404 before",
        tags=[TAG],
        responses={
            200: {
                "description": "The procEventoNFe",
                "content": {"application/xml": {"schema": {"type": "string"}}},
            },
            **error_responses(401, 403, 404, 422, 503),
        },
    )
    def cancelamento_da_nota(id: NotaId):  # type: ignore[no-untyped-def]
        evento = service.cancelamento_xml(id)
        start = evento.find('Id="ID110111')
        name = evento[start + 4 : start + 4 + 54] if start >= 0 else f"cancelamento-{id}"
        return Response(
            status_code=HTTPStatus.OK,
            content_type="application/xml",
            body=evento,
            headers={"Content-Disposition": f'attachment; filename="{name}-procEventoNFe.xml"'},
        )

    @app.get(
        "/api/v1/notas/<id>/xml",
        summary="The nota's NF-e (XML from the official schemas); 404 before its stock is reserved",
        tags=[TAG],
        responses={
            200: {"description": "The NF-e", "content": {"application/xml": {"schema": {"type": "string"}}}},
            **error_responses(401, 403, 404, 422, 503),
        },
    )
    # No return annotation on the document routes: the validation middleware then passes a non-JSON
    # answer through as it is, instead of JSON-encoding the document (bytes would fail to decode).
    def xml_da_nota(id: NotaId):  # type: ignore[no-untyped-def]
        nota_xml = service.xml(id)
        return Response(
            status_code=HTTPStatus.OK,
            content_type="application/xml",
            body=nota_xml,
            headers={"Content-Disposition": f'attachment; filename="{_filename(nota_xml, ".xml")}"'},
        )

    @app.get(
        "/api/v1/notas/<id>/danfe",
        summary="The nota's DANFE (PDF); a preview until SEFAZ authorizes it; 404 before its stock is reserved",
        tags=[TAG],
        responses={
            200: {
                "description": "The DANFE",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
            **error_responses(401, 403, 404, 422, 503),
        },
    )
    def danfe_da_nota(id: NotaId):  # type: ignore[no-untyped-def]
        pdf = service.danfe(id)
        # bytes: Powertools base64-encodes the body, and API Gateway decodes it for the client when
        # the request's first Accept is a binary media type of the API (application/pdf); a client
        # that asks for anything else first gets the base64 text, as API Gateway documents.
        return Response(
            status_code=HTTPStatus.OK,
            content_type="application/pdf",
            body=pdf,
            headers={"Content-Disposition": f'attachment; filename="DANFE-{id}.pdf"'},
        )

    return app


def _filename(nota_xml: str, suffix: str) -> str:
    # infNFe's Id is "NFe" + the chave: the name SEFAZ and ERPs file an NF-e under.
    start = nota_xml.find('Id="NFe')
    return (nota_xml[start + 4 : start + 4 + 47] if start >= 0 else "NFe") + suffix
