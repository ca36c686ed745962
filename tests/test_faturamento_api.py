"""faturamento-api driven with real API Gateway REST proxy events against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from functions.faturamento import bootstrap
from functions.faturamento.settings import FaturamentoApiSettings, FaturamentoConsumerSettings
from functions.shared.db import Database
from functions.shared.events import EventName, ProdutoCadastrado
from functions.shared.settings import load
from nfe.local.fiscal_demo import DESTINATARIO_SP
from tests.conftest import set_function_env
from tests.helpers.api import ApiClient
from tests.helpers.db import counts, one, outbox
from tests.helpers.events import (
    JUSTIFICATIVA,
    autorizada_de,
    failed_ids,
    reserva_confirmada_de,
    saga_envelope,
    sqs_event,
)

CNPJ = "11.222.333/0001-81"
CPF = "529.982.247-25"


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    return set_function_env(monkeypatch, database_url)


@pytest.fixture
def db(function_env: str) -> Iterator[Database]:
    database = Database(load(FaturamentoApiSettings))
    yield database
    database.close()


@pytest.fixture
def api(db: Database) -> ApiClient:
    return ApiClient(bootstrap.api(load(FaturamentoApiSettings), db).resolve)


def nota_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "destinatario": {**DESTINATARIO_SP, "documento": CNPJ, "nome": "ACME Ltda"},
        "items": [
            {"produtoId": str(uuid.uuid4()), "quantidade": 2, "valorUnitario": "10.50"},
            {"produtoId": str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "0.99"},
        ],
    }
    body.update(overrides)
    return body


def item(**overrides: Any) -> dict[str, Any]:
    return {"produtoId": str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "1.00", **overrides}


def confirm(database_url: str, db: Database, nota_id: str) -> None:
    """Move a nota to CONFIRMADA the way the saga does: a ReservaConfirmada through the consumer."""
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    payload = reserva_confirmada_de(database_url, nota_id)
    assert failed_ids(consumer.handle(sqs_event([saga_envelope(EventName.RESERVA_CONFIRMADA, payload)]), None)) == []


def authorize(database_url: str, db: Database, nota_id: str) -> None:
    """CONFIRMADA, then AUTORIZADA as SEFAZ's answer arrives (the participant's event through the consumer)."""
    confirm(database_url, db, nota_id)
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    envelope = saga_envelope(EventName.NOTA_FISCAL_AUTORIZADA, autorizada_de(database_url, nota_id))
    assert failed_ids(consumer.handle(sqs_event([envelope]), None)) == []


# --- POST /api/v1/notas ---------------------------------------------------------------------


def test_create_nota_writes_nota_items_and_outbox_row(api: ApiClient, function_env: str) -> None:
    # Given a valid nota with a formatted CNPJ
    body = nota_body()
    # When it is posted
    result = api.post("/api/v1/notas", body)
    # Then 201 with the nota, PENDING, total computed, documento stored as digits
    assert result.status == 201, result.body
    nota = result.body
    assert nota["status"] == "PENDING"
    assert nota["valorTotal"] == "21.99"
    assert nota["destinatario"] == {
        **DESTINATARIO_SP,
        "documento": "11222333000181",
        "endereco": {**DESTINATARIO_SP["endereco"], "cep": "01305000"},
        "ie": None,
        "email": None,
    }
    # And it is not numbered yet: número and chave come with the reservation, in the emitente's série
    assert nota["numero"] is None and nota["chave"] is None and nota["emitidaEm"] is None
    assert nota["serie"] == 1 and nota["ambiente"] == "homologacao"
    assert nota["naturezaOperacao"] == "Venda de mercadoria"
    assert [i["produtoId"] for i in nota["items"]] == [i["produtoId"] for i in body["items"]]
    assert nota["items"][0]["valorUnitario"] == "10.50"
    assert nota["confirmadaEm"] is None and nota["erro"] is None
    # And the nota, its items and one NotaFiscalCriada outbox row are stored together
    row = one(function_env, "SELECT * FROM faturamento.notas_fiscais WHERE id = %s", (nota["id"],))
    assert row["destinatario_documento"] == "11222333000181"
    assert str(row["valor_total"]) == "21.99"
    assert counts(function_env)["faturamento.itens_nota"] == 2
    [event] = outbox(function_env, "faturamento")
    assert event["tipo"] == "NotaFiscalCriada" and str(event["agregado_id"]) == nota["id"]
    assert event["payload"]["correlationId"] == nota["id"]
    assert event["payload"]["payload"]["items"] == [
        {"produtoId": i["produtoId"], "quantidade": i["quantidade"]} for i in body["items"]
    ]
    assert event["payload"]["payload"]["valorTotal"] == "21.99"


def test_create_nota_accepts_cpf_digits_only(api: ApiClient) -> None:
    # Given a CPF without punctuation / When posted / Then it is accepted as is
    result = api.post(
        "/api/v1/notas", nota_body(destinatario={**DESTINATARIO_SP, "documento": "52998224725", "nome": "Maria"})
    )
    assert result.status == 201
    assert result.body["destinatario"]["documento"] == "52998224725"


def _items(n: int) -> list[dict[str, Any]]:
    return [item() for _ in range(n)]


_same = str(uuid.uuid4())

BAD_BODIES: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "cnpj check digit",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": "11.222.333/0001-82", "nome": "Xavier"}),
        {"destinatario.documento"},
    ),
    (
        "cpf check digit",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": "529.982.247-24", "nome": "Xavier"}),
        {"destinatario.documento"},
    ),
    (
        "repeated digits cpf",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": "111.111.111-11", "nome": "Xavier"}),
        {"destinatario.documento"},
    ),
    (
        "documento length",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": "1234567", "nome": "Xavier"}),
        {"destinatario.documento"},
    ),
    (
        "documento letters",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": "ABC.222.333/0001-81", "nome": "Xavier"}),
        {"destinatario.documento"},
    ),
    ("empty nome", nota_body(destinatario={**DESTINATARIO_SP, "documento": CPF, "nome": " "}), {"destinatario.nome"}),
    (
        "long nome",
        nota_body(destinatario={**DESTINATARIO_SP, "documento": CPF, "nome": "x" * 201}),
        {"destinatario.nome"},
    ),
    ("no items", nota_body(items=[]), {"items"}),
    ("101 items", nota_body(items=_items(101)), {"items"}),
    ("repeated produtoId", nota_body(items=[item(produtoId=_same), item(), item(produtoId=_same)]), {"items"}),
    ("quantidade 0", nota_body(items=[item(quantidade=0)]), {"items[0].quantidade"}),
    ("quantidade too big", nota_body(items=[item(quantidade=1_000_001)]), {"items[0].quantidade"}),
    ("quantidade fraction", nota_body(items=[item(quantidade=2.5)]), {"items[0].quantidade"}),
    ("quantidade as text", nota_body(items=[item(quantidade="2")]), {"items[0].quantidade"}),
    ("quantidade boolean", nota_body(items=[item(quantidade=True)]), {"items[0].quantidade"}),
    ("negative price", nota_body(items=[item(valorUnitario="-1.00")]), {"items[0].valorUnitario"}),
    ("three decimals", nota_body(items=[item(valorUnitario="10.505")]), {"items[0].valorUnitario"}),
    ("price as number", nota_body(items=[item(valorUnitario=10.5)]), {"items[0].valorUnitario"}),
    ("price not a number", nota_body(items=[item(valorUnitario="dez")]), {"items[0].valorUnitario"}),
    ("price exponent", nota_body(items=[item(valorUnitario="1e3")]), {"items[0].valorUnitario"}),
    ("total overflows", nota_body(items=[item(quantidade=1_000_000, valorUnitario="9999999999999.99")]), {"items"}),
    ("malformed produtoId", nota_body(items=[item(produtoId="not-a-uuid")]), {"items[0].produtoId"}),
    ("unknown top-level field", nota_body(desconto="5.00"), {"desconto"}),
    ("unknown item field", nota_body(items=[item(ncm="94036000")]), {"items[0].ncm"}),
    ("bad cfop", nota_body(items=[item(cfop="51020")]), {"items[0].cfop"}),
    (
        "snake_case name",
        nota_body(items=[{"produto_id": str(uuid.uuid4()), "quantidade": 1, "valorUnitario": "1.00"}]),
        {"items[0].produto_id", "items[0].produtoId"},
    ),
    ("missing destinatario", {"items": _items(1)}, {"destinatario"}),
    ("not an object", [], {"body"}),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("case", "body", "fields"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_nota_is_422_naming_the_field_and_stores_nothing(
    api: ApiClient, function_env: str, case: str, body: dict[str, Any], fields: set[str]
) -> None:
    # Given a body with one kind of mistake / When posted
    result = api.post("/api/v1/notas", body)
    # Then 422 naming exactly the bad fields, and nothing stored
    assert result.status == 422, result.body
    assert result.body["message"] == "request validation failed"
    assert result.fields() == fields, result.body
    assert all(e["message"] and e["in"] == "body" for e in result.body["errors"])
    assert set(counts(function_env).values()) == {0}


def test_every_bad_field_is_named_at_once(api: ApiClient, function_env: str) -> None:
    # Given a body wrong in four places
    body = {
        "destinatario": {**DESTINATARIO_SP, "documento": "11.222.333/0001-00", "nome": ""},
        "items": [item(quantidade=0), item(valorUnitario="1.234")],
        "extra": True,
    }
    # When posted / Then each one is named
    result = api.post("/api/v1/notas", body)
    assert result.status == 422
    assert result.fields() == {
        "destinatario.documento",
        "destinatario.nome",
        "items[0].quantidade",
        "items[1].valorUnitario",
        "extra",
    }
    assert set(counts(function_env).values()) == {0}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"destinatario": ', 400),
        ("not json at all", 400),
        ('{"destinatario": {**DESTINATARIO_SP, "documento": "x", "nome": NaN}, "items": []}', 400),
        ('{"items": [{"quantidade": ' + "9" * 5000 + "}]}", 400),
        ("[" * 100_000 + "]" * 100_000, 400),
    ],
    ids=["truncated", "text", "NaN", "huge integer", "deep nesting"],
)
def test_unreadable_json_is_400(api: ApiClient, function_env: str, raw: str, status: int) -> None:
    # Given a body that is not (acceptable) JSON / When posted / Then 400 with an error body, nothing stored
    result = api.post("/api/v1/notas", raw_body=raw)
    assert result.status == status, result.body
    assert result.body["message"] == "request body is not valid JSON"
    assert result.body["errors"][0]["in"] == "body"
    assert set(counts(function_env).values()) == {0}


def test_body_over_256kb_is_413(api: ApiClient, function_env: str) -> None:
    # Given an otherwise valid nota padded with whitespace past 256 KB
    import json

    raw = json.dumps(nota_body()) + " " * (256 * 1024)
    # When posted / Then 413 before parsing, nothing stored
    result = api.post("/api/v1/notas", raw_body=raw)
    assert result.status == 413
    assert "256 KB" in result.body["message"]
    assert set(counts(function_env).values()) == {0}


def test_body_of_exactly_256kb_is_parsed(api: ApiClient) -> None:
    # Given a valid nota padded to exactly the limit / When posted / Then it is accepted
    import json

    text = json.dumps(nota_body())
    result = api.post("/api/v1/notas", raw_body=text + " " * (256 * 1024 - len(text)))
    assert result.status == 201


def test_non_json_content_type_is_415(api: ApiClient, function_env: str) -> None:
    # Given a form-encoded body / When posted / Then 415, nothing stored
    result = api.post("/api/v1/notas", raw_body="a=1", headers={"Content-Type": "text/plain"})
    assert result.status == 415
    assert set(counts(function_env).values()) == {0}


def test_binary_body_that_is_not_utf8_is_400(api: ApiClient) -> None:
    # Given a base64-encoded body that is not UTF-8 / When posted / Then 400, not 500
    result = api.post("/api/v1/notas", raw_body=b"\xff\xfe\x00garbage")
    assert result.status == 400


# --- GET /api/v1/notas/{id} and the list ----------------------------------------------------


def test_get_nota(api: ApiClient) -> None:
    # Given a created nota / When read by id / Then the same nota comes back
    created = api.post("/api/v1/notas", nota_body()).body
    result = api.get(f"/api/v1/notas/{created['id']}")
    assert result.status == 200
    assert result.body == created


def test_get_unknown_nota_is_404(api: ApiClient) -> None:
    result = api.get(f"/api/v1/notas/{uuid.uuid4()}")
    assert result.status == 404
    assert "not found" in result.body["message"]


def test_get_malformed_id_is_422(api: ApiClient) -> None:
    # Given an id that is not a UUID / When read / Then 422 naming the path parameter
    result = api.get("/api/v1/notas/123")
    assert result.status == 422
    assert result.body["errors"][0]["field"] == "id"
    assert result.body["errors"][0]["in"] == "path"


def test_list_pages_through_every_nota_newest_first(api: ApiClient) -> None:
    # Given five notas
    ids = [api.post("/api/v1/notas", nota_body()).body["id"] for _ in range(5)]
    # When listed two at a time
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/notas", query=query)
        assert page.status == 200, page.body
        seen += [n["id"] for n in page.body["items"]]
        pages += 1
        cursor = page.body["nextCursor"]
        if cursor is None:
            break
    # Then three pages hold all five, newest first, each once
    assert pages == 3
    assert seen == list(reversed(ids))


def test_list_filters_by_status(api: ApiClient, db: Database, function_env: str) -> None:
    # Given one CONFIRMADA and two PENDING notas
    ids = [api.post("/api/v1/notas", nota_body()).body["id"] for _ in range(3)]
    confirm(function_env, db, ids[1])
    # When filtered by status / Then only the matching notas are listed
    confirmadas = api.get("/api/v1/notas", query={"status": "CONFIRMADA"}).body["items"]
    pendentes = api.get("/api/v1/notas", query={"status": "PENDING"}).body["items"]
    assert [n["id"] for n in confirmadas] == [ids[1]]
    assert {n["id"] for n in pendentes} == {ids[0], ids[2]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "APROVADA"}, "status"),
        ({"cursor": "definitely-not-a-cursor"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),  # base64 of "[]": decodes, but is not ours
    ],
)
def test_list_with_bad_query_is_422(api: ApiClient, query: dict[str, str], field: str) -> None:
    result = api.get("/api/v1/notas", query=query)
    assert result.status == 422, result.body
    assert result.body["errors"][0]["field"] == field
    assert result.body["errors"][0]["in"] == "query"


def test_unknown_route_is_404_with_error_body(api: ApiClient) -> None:
    result = api.get("/api/v1/nada")
    assert result.status == 404
    assert result.body["message"] == "no such route"


# --- POST /api/v1/notas/{id}/cancelamento ----------------------------------------------------


def test_cancel_autorizada_nota_is_202_and_asks_sefaz_to_register_the_cancelamento(
    api: ApiClient, db: Database, function_env: str
) -> None:
    # Given an AUTORIZADA nota
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    authorize(function_env, db, nota_id)
    nota = api.get(f"/api/v1/notas/{nota_id}").body
    assert nota["cancelavelAte"] is not None
    # When its cancelation is requested, with a justificativa written with stray blanks
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", {"justificativa": "  Pedido cancelado\n pelo cliente  "})
    # Then 202; the nota stays AUTORIZADA (the NF-e is authorized until SEFAZ registers the event)
    assert result.status == 202, result.body
    assert result.body["status"] == "AUTORIZADA"
    assert result.body["cancelamentoSolicitadoEm"] is not None
    assert result.body["cancelamentoJustificativa"] == "Pedido cancelado pelo cliente"
    # And the SEFAZ participant is asked for evento 110111 with the authorization's protocol; Estoque is
    # told nothing yet (the goods stay reserved until SEFAZ says the NF-e is cancelled)
    [event] = outbox(function_env, "faturamento", "NotaFiscalCancelamentoSolicitado")
    assert event["payload"]["payload"] == {
        "notaFiscalId": nota_id,
        "chave": nota["chave"],
        "protocolo": nota["protocolo"],
        "justificativa": "Pedido cancelado pelo cliente",
        "serie": nota["serie"],
        "numero": nota["numero"],
        "ambiente": 2,
        "solicitadoPor": result.body["cancelamentoSolicitadoPor"],
    }
    assert outbox(function_env, "faturamento", "NotaFiscalCancelada") == []


@pytest.mark.parametrize("justificativa", ["curta demais", " " * 20, "x" * 256, None])
def test_a_bad_justificativa_is_422_naming_the_field_and_nothing_is_stored(
    api: ApiClient, db: Database, function_env: str, justificativa: str | None
) -> None:
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    authorize(function_env, db, nota_id)
    body = {} if justificativa is None else {"justificativa": justificativa}
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", body)
    assert result.status == 422, result.body
    assert result.fields() == {"justificativa"}
    assert api.get(f"/api/v1/notas/{nota_id}").body["cancelamentoSolicitadoEm"] is None
    assert outbox(function_env, "faturamento", "NotaFiscalCancelamentoSolicitado") == []


def test_cancel_more_than_24_hours_after_the_authorization_is_409_saying_why(
    api: ApiClient, db: Database, function_env: str
) -> None:
    # Given a nota SEFAZ authorized 24 h and 1 minute ago
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    authorize(function_env, db, nota_id)
    with psycopg.connect(function_env, autocommit=True) as conn:
        conn.execute(
            "UPDATE faturamento.notas_fiscais SET autorizada_em = now() - interval '24 hours 1 minute' WHERE id = %s",
            (nota_id,),
        )
    assert api.get(f"/api/v1/notas/{nota_id}").body["cancelavelAte"] < datetime.now(UTC).isoformat()
    # When cancelled / Then 409: the legal window is over, SEFAZ would answer 501; nothing is sent
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA)
    assert result.status == 409
    assert "24 hours" in result.body["message"] and "501" in result.body["message"]
    assert "estorno" in result.body["message"]
    assert outbox(function_env, "faturamento", "NotaFiscalCancelamentoSolicitado") == []


def test_second_cancelation_is_409_and_emits_nothing_more(api: ApiClient, db: Database, function_env: str) -> None:
    # Given a nota whose cancelation was already accepted
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    authorize(function_env, db, nota_id)
    assert api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA).status == 202
    # When cancelled again while the event is in flight / Then 409 and still a single request to SEFAZ
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA)
    assert result.status == 409
    assert "already" in result.body["message"]
    assert len(outbox(function_env, "faturamento", "NotaFiscalCancelamentoSolicitado")) == 1


def test_cancel_of_a_nota_still_with_sefaz_is_409_saying_so(api: ApiClient, db: Database, function_env: str) -> None:
    # Given a CONFIRMADA NF-e (SEFAZ has not answered) / When cancelled / Then 409 saying why, nothing emitted
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    confirm(function_env, db, nota_id)
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA)
    assert result.status == 409
    assert "SEFAZ" in result.body["message"] and "AUTORIZADA" in result.body["message"]
    assert outbox(function_env, "faturamento", "NotaFiscalCancelamentoSolicitado") == []


def test_cancel_pending_nota_is_409(api: ApiClient, function_env: str) -> None:
    # Given a PENDING nota / When cancelled / Then 409 naming its status, nothing emitted
    nota_id = api.post("/api/v1/notas", nota_body()).body["id"]
    result = api.post(f"/api/v1/notas/{nota_id}/cancelamento", JUSTIFICATIVA)
    assert result.status == 409
    assert "PENDING" in result.body["message"]
    assert outbox(function_env, "faturamento", "NotaFiscalCancelada") == []


def test_cancel_unknown_or_malformed_nota(api: ApiClient) -> None:
    assert api.post(f"/api/v1/notas/{uuid.uuid4()}/cancelamento", JUSTIFICATIVA).status == 404
    assert api.post("/api/v1/notas/xyz/cancelamento", JUSTIFICATIVA).status == 422


# --- GET /health ------------------------------------------------------------------------------


def test_health_is_ok_when_database_answers(api: ApiClient) -> None:
    result = api.get("/health")
    assert result.status == 200
    assert result.body == {"status": "ok", "database": "ok"}


def test_health_is_503_when_database_does_not_answer(function_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function whose database is unreachable (nothing listens on the port)
    from nfe.pgserver import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://127.0.0.1:{free_port()}/nfe")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    settings = load(FaturamentoApiSettings)
    client = ApiClient(bootstrap.api(settings, Database(settings)).resolve)
    # When asked for its health / Then 503 saying the database is down
    result = client.get("/health")
    assert result.status == 503
    assert result.body == {"status": "unavailable", "database": "unavailable"}
    # And a data route answers 503 too, never 500
    assert client.get(f"/api/v1/notas/{uuid.uuid4()}").status == 503


# --- a produto that cannot be invoiced -----------------------------------------------------------------


def test_a_nota_with_a_produto_estoque_announced_without_ncm_is_422_naming_each_item_and_field(
    api: ApiClient, db: Database, function_env: str
) -> None:
    # Given Faturamento's projection of two produtos Estoque announced: one complete, one without NCM/origem
    completo, incompleto = uuid.uuid4(), uuid.uuid4()
    consumer = bootstrap.consumer(load(FaturamentoConsumerSettings), db)
    for produto_id, sku, fiscal in (
        (completo, "COM-1", {"ncm": "94036000", "unidade": "UN", "origem": 0}),
        (incompleto, "INC-1", {"unidade": "UN"}),
    ):
        cadastrado = ProdutoCadastrado.model_validate({"produtoId": str(produto_id), "sku": sku, **fiscal})
        envelope = saga_envelope(EventName.PRODUTO_CADASTRADO, cadastrado)
        assert failed_ids(consumer.handle(sqs_event([envelope]), None)) == []
    before = counts(function_env)
    # When a nota lists the incomplete one second
    body = nota_body(items=[item(produtoId=str(completo)), item(produtoId=str(incompleto))])
    result = api.post("/api/v1/notas", body)
    # Then 422 naming the item and the missing fields, and nothing is stored
    assert result.status == 422, result.body
    [error] = result.body["errors"]
    assert error["field"] == "items[1].produtoId"
    assert "INC-1" in error["message"] and "ncm" in error["message"] and "origem" in error["message"]
    assert counts(function_env) == before
    # And a produto Estoque has not announced (yet) is left to the reservation to check
    assert api.post("/api/v1/notas", nota_body(items=[item(produtoId=str(completo)), item()])).status == 201
