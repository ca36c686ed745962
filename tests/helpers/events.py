"""Builders of the events AWS hands to the Lambdas, in their real shapes.

- `api_event`: an API Gateway REST API (v1) Lambda proxy integration event.
- `saga_envelope` / `sqs_event`: an EventBridge event as a rule delivers it to SQS, inside an SQS
  batch as the event source mapping passes it to the consumer.
- `FakeLambdaContext`: the attributes of the Lambda context object Powertools reads.
Shapes follow the AWS Lambda developer guide's sample events; local mode tests reuse them.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.events import SOURCES, EventName, build_detail
from nfe import topology

ACCOUNT = "123456789012"
REGION = "us-east-1"
STAGE = "test"
USER_POOL_ID = f"{REGION}_TestPool1"


def claims(
    email: str = "tester@example.com",
    groups: Iterable[str] = ("faturamento", "estoque"),
    *,
    sub: str | None = None,
    groups_style: str = "comma",
) -> dict[str, str]:
    """ID token claims as API Gateway's Cognito authorizer puts them in `requestContext.authorizer.claims`.

    Every value is a string; `cognito:groups` is "a,b" (`groups_style="comma"`) or "[a b]" ("bracket"),
    the two renderings callers have seen; `exp`/`iat` are dates, `auth_time` epoch seconds as text.
    """
    now = int(time.time())
    rendered: dict[str, str] = {
        "sub": sub or str(uuid.uuid5(uuid.NAMESPACE_URL, f"nfe-test:{email}")),
        "email_verified": "true",
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}",
        "cognito:username": sub or str(uuid.uuid5(uuid.NAMESPACE_URL, f"nfe-test:{email}")),
        "aud": "testclient",
        "token_use": "id",
        "auth_time": str(now),
        "exp": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now + 3600)),
        "iat": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now)),
        "email": email,
    }
    names = list(groups)
    if names:
        rendered["cognito:groups"] = ",".join(names) if groups_style == "comma" else "[" + " ".join(names) + "]"
    return rendered


# The caller of every api_event that names none: in the faturamento and estoque groups, so any route admits it.
DEFAULT_CLAIMS = claims()


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 30
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]test"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._started + self.timeout_seconds - time.monotonic()) * 1000))


def lambda_context(**overrides: Any) -> LambdaContext:
    """A FakeLambdaContext typed as the real one, for APIs annotated with LambdaContext."""
    return cast(LambdaContext, FakeLambdaContext(**overrides))


def _resource_for(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The API Gateway resource (`/api/v1/notas/{id}`) and path parameters a request path maps to."""
    for route in topology.ROUTES:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path)) + "$"
        found = re.match(pattern, path)
        if found and route.method == method:
            return route.path, found.groupdict()
    return path, {}


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str | list[str]] | None = None,
    raw_body: str | bytes | None = None,
    caller: Mapping[str, str] | None = DEFAULT_CLAIMS,
) -> dict[str, Any]:
    """A REST API proxy event. `body` is JSON-encoded; `raw_body` is sent as is (bytes as base64).

    `caller` is the authorizer's claims (see `claims`); None sends no authorizer block, as a public route gets.
    """
    all_headers = {"Accept": "*/*", "Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "pytest"}
    text: str | None = None
    is_base64 = False
    if raw_body is not None:
        if isinstance(raw_body, bytes):
            text, is_base64 = base64.b64encode(raw_body).decode(), True
        else:
            text = raw_body
        all_headers["Content-Type"] = "application/json"
    elif body is not None:
        text = json.dumps(body)
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    # A real query string never has a name with zero values; drop such entries.
    multi_query = {k: (v if isinstance(v, list) else [v]) for k, v in (query or {}).items()}
    multi_query = {k: v for k, v in multi_query.items() if v}
    resource, path_parameters = _resource_for(method, path)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "abcdef",
            "resourcePath": resource,
            "stage": STAGE,
            **({"authorizer": {"claims": dict(caller)}} if caller is not None else {}),
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_json(response: Mapping[str, Any]) -> Any:
    """A JSON answer parsed; a document (the NF-e's XML, the DANFE) as its text or bytes."""
    body = response.get("body")
    content_type = _content_type(response)
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(body or "")
        return json.loads(raw) if content_type.startswith("application/json") and raw else raw
    if body and not content_type.startswith("application/json"):
        return body
    return json.loads(body) if body else None


def _content_type(response: Mapping[str, Any]) -> str:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == "content-type":
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == "content-type" and values:
            return str(values[0])
    return "application/json"


def saga_envelope(
    name: EventName, payload: Any, *, event_id: UUID | None = None, occurred_at: datetime | None = None
) -> dict[str, Any]:
    """The EventBridge event a rule puts on SQS for one saga event (a contract model)."""
    event_id = event_id or uuid.uuid4()
    occurred_at = occurred_at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": name.value,
        "source": SOURCES[name].value,
        "account": ACCOUNT,
        "time": occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": build_detail(event_id, name, occurred_at, payload),
    }


def sqs_record(body: str | Mapping[str, Any], *, queue: str = "test-queue", receive_count: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": base64.b64encode(uuid.uuid4().bytes).decode(),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


def sqs_event(bodies: Iterable[str | Mapping[str, Any]], *, queue: str = "test-queue") -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it (one record per body)."""
    return {"Records": [sqs_record(body, queue=queue) for body in bodies]}


def failed_ids(response: Mapping[str, Any]) -> list[str]:
    """Message ids the consumer reported as failed (ReportBatchItemFailures)."""
    return [item["itemIdentifier"] for item in response.get("batchItemFailures", [])]


def reserva_confirmada_de(database_url: str, nota_id: str | UUID) -> Any:
    """The ReservaConfirmada Estoque would send for a nota already in the database: one reserva per
    item, and each item's fiscal snapshot (the demo produto's fiscal data under a made-up SKU)."""
    import psycopg

    from functions.shared.events import ReservaConfirmada
    from nfe.local.fiscal_demo import PRODUTO_FISCAL

    with psycopg.connect(database_url) as conn:
        items = conn.execute(
            "SELECT produto_id, quantidade FROM faturamento.itens_nota WHERE nota_fiscal_id = %s ORDER BY posicao",
            (str(nota_id),),
        ).fetchall()
    # A nota this database never had: an answer about it, with a made-up reserva.
    items = items or [(uuid.uuid4(), 1)]
    return ReservaConfirmada.model_validate(
        {
            "notaFiscalId": str(nota_id),
            "reservas": [
                {"reservaId": str(uuid.uuid4()), "produtoId": str(produto), "quantidade": quantidade}
                for produto, quantidade in items
            ],
            "produtos": [
                {"produtoId": str(produto), "codigo": f"SKU-{i}", "descricao": f"Produto {i}", **PRODUTO_FISCAL}
                for i, (produto, _) in enumerate(items, start=1)
            ],
        }
    )


def _numerada(database_url: str, nota_id: str | UUID) -> tuple[str, int, int, int]:
    """A numbered nota's chave, série, número and ambiente, as Faturamento keeps them."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT chave, serie, numero, ambiente FROM faturamento.notas_fiscais WHERE id = %s", (str(nota_id),)
        ).fetchone()
    assert row is not None and row[0] is not None, f"nota {nota_id} has no chave yet"
    return row[0], row[1], row[2], row[3]


def autorizada_de(database_url: str, nota_id: str | UUID) -> Any:
    """The NotaFiscalAutorizada the SEFAZ participant would send for a nota the database numbered
    (a made-up protocol; tests of the whole step run the participant against the emulated SEFAZ)."""
    from functions.fiscal import archive
    from functions.shared.events import NotaFiscalAutorizada

    chave, serie, numero, ambiente = _numerada(database_url, nota_id)
    return NotaFiscalAutorizada.model_validate(
        {
            "notaFiscalId": str(nota_id),
            "chave": chave,
            "protocolo": f"1352600{numero:08d}",
            "autorizadaEm": datetime.now(UTC).isoformat(),
            "digestValue": "bWFkZSB1cCBkaWdlc3Q=",
            "cStat": 100,
            "motivo": "Autorizado o uso da NF-e",
            "documento": archive.proc_key(ambiente, serie, numero, chave),
        }
    )


# A justificativa SEFAZ accepts (15-255 characters).
JUSTIFICATIVA = {"justificativa": "Pedido cancelado pelo cliente antes da entrega"}


def cancelamento_homologado_de(database_url: str, nota_id: str | UUID) -> Any:
    """The NotaFiscalCancelamentoHomologado the SEFAZ participant would send for a nota whose cancelamento
    was asked (a made-up event protocol; tests of the whole step run the participant against the
    emulated SEFAZ)."""
    from functions.fiscal import archive
    from functions.shared.events import NotaFiscalCancelamentoHomologado

    chave, serie, numero, ambiente = _numerada(database_url, nota_id)
    return NotaFiscalCancelamentoHomologado.model_validate(
        {
            "notaFiscalId": str(nota_id),
            "chave": chave,
            "protocolo": f"1352610{numero:08d}",
            "registradoEm": datetime.now(UTC).isoformat(),
            "cStat": 135,
            "motivo": "Evento registrado e vinculado a NF-e",
            "documento": archive.proc_evento_key(ambiente, serie, numero, chave),
        }
    )
