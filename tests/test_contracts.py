"""Event contracts: the committed JSON Schemas are the models', and what producers emit satisfies them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from functions.shared.consumer import MalformedEvent, parse_body
from functions.shared.events import (
    PAYLOADS,
    EventName,
    NotaFiscalAutorizada,
    NotaFiscalCancelada,
    NotaFiscalCancelamentoHomologado,
    NotaFiscalCancelamentoRejeitado,
    NotaFiscalCancelamentoSolicitado,
    NotaFiscalCriada,
    NotaFiscalDenegada,
    NotaFiscalEmitida,
    NotaFiscalRejeitada,
    NumeracaoInutilizada,
    ProdutoCadastrado,
    ReservaConfirmada,
    ReservaFalhou,
    ReservaLiberada,
    build_detail,
)
from nfe.cli import main
from nfe.commands import schemas
from tests.helpers.events import saga_envelope

COMMITTED = Path(__file__).resolve().parents[1] / "events" / "schemas"
NOTA = uuid.uuid4()
# The MOC's worked example (MOC 7.0 §2.2.6.2).
CHAVE = "52060433009911002506550120000007800267301615"
PRODUTO = uuid.uuid4()
EXAMPLES: dict[EventName, Any] = {
    EventName.NOTA_FISCAL_CRIADA: NotaFiscalCriada.model_validate(
        {"notaFiscalId": str(NOTA), "items": [{"produtoId": str(PRODUTO), "quantidade": 2}], "valorTotal": "21.00"}
    ),
    EventName.NOTA_FISCAL_CANCELADA: NotaFiscalCancelada.model_validate({"notaFiscalId": str(NOTA)}),
    EventName.RESERVA_CONFIRMADA: ReservaConfirmada.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "reservas": [{"reservaId": str(uuid.uuid4()), "produtoId": str(PRODUTO), "quantidade": 2}],
        }
    ),
    EventName.RESERVA_FALHOU: ReservaFalhou.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "codigo": "PRODUTO_INEXISTENTE",
            "mensagem": "unknown product",
            "produtosEmFalta": [{"produtoId": str(PRODUTO), "solicitado": 2, "disponivel": None}],
        }
    ),
    EventName.RESERVA_LIBERADA: ReservaLiberada.model_validate({"notaFiscalId": str(NOTA), "reservas": []}),
    EventName.NOTA_FISCAL_EMITIDA: NotaFiscalEmitida.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "chave": CHAVE,
            "serie": 1,
            "numero": 7,
            "ambiente": 2,
            "emitidaEm": "2026-12-06T10:00:00-03:00",
            "xml": "<NFe/>",
        }
    ),
    EventName.NOTA_FISCAL_AUTORIZADA: NotaFiscalAutorizada.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "chave": CHAVE,
            "protocolo": "135260000000007",
            "autorizadaEm": "2026-12-06T10:00:01-03:00",
            "digestValue": "bWFkZSB1cCBkaWdlc3Q=",
            "cStat": 100,
            "motivo": "Autorizado o uso da NF-e",
            "documento": "nfe/homologacao/serie-001/000000007-x/NFex-procNFe.xml",
        }
    ),
    EventName.NOTA_FISCAL_REJEITADA: NotaFiscalRejeitada.model_validate(
        {"notaFiscalId": str(NOTA), "chave": CHAVE, "cStat": 610, "motivo": "Rejeição: Total da NF difere"}
    ),
    EventName.NOTA_FISCAL_CANCELAMENTO_SOLICITADO: NotaFiscalCancelamentoSolicitado.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "chave": CHAVE,
            "protocolo": "135260000000007",
            "justificativa": "Pedido cancelado pelo cliente",
            "serie": 1,
            "numero": 7,
            "ambiente": 2,
        }
    ),
    EventName.NOTA_FISCAL_CANCELAMENTO_HOMOLOGADO: NotaFiscalCancelamentoHomologado.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "chave": CHAVE,
            "protocolo": "135260000000009",
            "registradoEm": "2026-12-06T11:00:00-03:00",
            "cStat": 135,
            "motivo": "Evento registrado e vinculado a NF-e",
            "documento": "nfe/homologacao/serie-001/000000007-x/NFex-procEventoNFe-110111-01.xml",
        }
    ),
    EventName.NOTA_FISCAL_CANCELAMENTO_REJEITADO: NotaFiscalCancelamentoRejeitado.model_validate(
        {"notaFiscalId": str(NOTA), "chave": CHAVE, "cStat": 501, "motivo": "Rejeição: Prazo de Cancelamento Superior"}
    ),
    EventName.NUMERACAO_INUTILIZADA: NumeracaoInutilizada.model_validate(
        {
            "inutilizacaoId": str(uuid.uuid4()),
            "serie": 1,
            "numeroInicial": 8,
            "numeroFinal": 9,
            "ambiente": 2,
            "justificativa": "Números rejeitados pela SEFAZ",
            "protocolo": "135260000000010",
            "homologadaEm": "2026-12-06T11:00:00-03:00",
            "cStat": 102,
            "documento": "nfe/homologacao/serie-001/inutilizacao-000000008-000000009-procInutNFe.xml",
        }
    ),
    EventName.PRODUTO_CADASTRADO: ProdutoCadastrado.model_validate(
        {"produtoId": str(PRODUTO), "sku": "PAR-1", "ncm": "73181500", "unidade": "UN", "origem": 0}
    ),
    EventName.NOTA_FISCAL_DENEGADA: NotaFiscalDenegada.model_validate(
        {
            "notaFiscalId": str(NOTA),
            "chave": CHAVE,
            "protocolo": "135260000000008",
            "denegadaEm": "2026-12-06T10:00:01-03:00",
            "cStat": 302,
            "motivo": "Uso Denegado: Irregularidade fiscal do destinatário",
            "documento": "nfe/homologacao/serie-001/000000007-x/NFex-procNFe.xml",
        }
    ),
}


def committed(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((COMMITTED / name).read_text(encoding="utf-8"))
    return schema


def test_committed_schemas_match_the_models() -> None:
    # Given the models as the code defines them / Then the committed files are exactly theirs, none extra
    assert schemas.stale_files(COMMITTED) == []
    assert {p.name for p in COMMITTED.glob("*.json")} == {"EventDetail.json"} | {f"{n.value}.json" for n in PAYLOADS}


def test_schemas_command_writes_checks_and_removes_leftovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a folder with a tampered schema and a leftover from a removed event
    out = tmp_path / "schemas"
    assert main(["schemas", "--out", str(out)]) == 0
    (out / "ReservaFalhou.json").write_text("{}\n")
    (out / "EventoAntigo.json").write_text("{}\n")
    # When checked / Then both are named and the exit status is 1
    assert main(["schemas", "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "ReservaFalhou.json" in err and "EventoAntigo.json" in err
    # When written again / Then the folder is exactly the models' schemas
    assert main(["schemas", "--out", str(out)]) == 0
    assert schemas.stale_files(out) == []
    assert not (out / "EventoAntigo.json").exists()


@pytest.mark.parametrize("name", list(EventName), ids=[n.value for n in EventName])
def test_emitted_detail_satisfies_the_committed_schemas(name: EventName) -> None:
    # Given the detail a producer writes to its outbox for this event
    detail = build_detail(uuid.uuid4(), name, datetime.now(UTC), EXAMPLES[name])
    # Then the envelope and the payload validate against the committed schemas
    jsonschema.Draft202012Validator(committed("EventDetail.json")).validate(detail)
    jsonschema.Draft202012Validator(committed(f"{name.value}.json")).validate(detail["payload"])
    # And a consumer reads it back as the same typed payload
    parsed, payload = parse_body(json.dumps(saga_envelope(name, EXAMPLES[name])))
    assert parsed.event_type is name and payload == EXAMPLES[name]


def test_committed_schema_rejects_what_consumers_reject() -> None:
    # Given a payload with a quantity of zero / Then the schema and the consumer both refuse it
    bad = {"notaFiscalId": str(NOTA), "items": [{"produtoId": str(PRODUTO), "quantidade": 0}], "valorTotal": "1.00"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(committed("NotaFiscalCriada.json")).validate(bad)
    envelope = saga_envelope(EventName.NOTA_FISCAL_CRIADA, EXAMPLES[EventName.NOTA_FISCAL_CRIADA])
    envelope["detail"]["payload"] = bad
    with pytest.raises(MalformedEvent, match="quantidade"):
        parse_body(json.dumps(envelope))
