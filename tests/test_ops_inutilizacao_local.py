"""`nfe fiscal numeracao` and `nfe fiscal inutilizar` against local mode, as an operator runs them: the
emulated SEFAZ rejects a nota, its número is inutilizado through the SEFAZ participant's own code (102,
the procInutNFe archived, the range recorded by Faturamento from the bus), a range holding a used número
and the same range twice are refused before SEFAZ is asked, and a gap made by hand is flagged until it
is inutilizado too."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from nfe.local.emulator import FISCAL_ARCHIVE_BUCKET
from tests.conftest import create_database
from tests.test_local_mode import start_local
from tests.test_ops_local import Api, nfe, sefaz_switches, sql

JUSTIFICATIVA = "Numeracao rejeitada pela SEFAZ e abandonada"


@pytest.fixture(scope="module")
def state_file(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("inutilizacao") / "local-state.json"
    system = start_local(create_database(pg_admin_url), "--state-file", str(path))
    try:
        yield path
    finally:
        assert system.stop() == 0


@pytest.fixture(scope="module")
def state(state_file: Path) -> dict[str, Any]:
    return dict(json.loads(state_file.read_text()))


def sefaz_state(state: dict[str, Any]) -> dict[str, Any]:
    import requests

    sefaz = state["sefaz"]
    session = requests.Session()
    session.trust_env = False
    answer = session.get(
        f"{sefaz['url']}/_emulator/state",
        cert=(sefaz["clientCert"], sefaz["clientKey"]),
        verify=sefaz["caFile"],
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def inutilizar(state_file: Path, de: int, ate: int, expect: int) -> Any:
    args = ("--serie", "1", "--de", str(de), "--ate", str(ate), "--justificativa", JUSTIFICATIVA)
    return nfe("fiscal", "inutilizar", "--state-file", str(state_file), *args, "--json", expect=expect)


def numeracao(state_file: Path, expect: int) -> dict[str, Any]:
    return dict(json.loads(nfe("fiscal", "numeracao", "--state-file", str(state_file), "--json", expect=expect).stdout))


def fates(answer: dict[str, Any]) -> list[tuple[int, int, str]]:
    (serie,) = answer["series"]
    return [(r["numeroInicial"], r["numeroFinal"], r["fate"]) for r in serie["ranges"]]


def test_every_numero_is_accounted_for_after_a_rejected_one_and_a_gap_are_inutilizados(
    state: dict[str, Any], state_file: Path
) -> None:
    api = Api(state)
    produto = api.produto(10)
    # Given an authorized nota, then one the emulated SEFAZ rejects (610)
    authorized = api.nota(produto, 1)
    assert api.wait_for(authorized, "AUTORIZADA") == "AUTORIZADA"
    sefaz_switches(state, forcedRejection={"cStat": 610, "xMotivo": "Rejeição: Total da NF difere", "count": 1})
    rejected = api.nota(produto, 1)
    assert api.wait_for(rejected, "REJEITADA") == "REJEITADA"
    first = api.call("GET", f"/api/v1/notas/{authorized}", expect=200)["numero"]
    numero = api.call("GET", f"/api/v1/notas/{rejected}", expect=200)["numero"]
    assert (first, numero) == (1, 2)

    # Then the accounting shows the rejected número awaiting inutilização by the 10th of next month
    answer = numeracao(state_file, expect=0)
    assert fates(answer) == [(1, 1, "autorizada"), (2, 2, "a inutilizar")]
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-10", answer["series"][0]["ranges"][1]["deadline"])

    # When the operator asks for a range holding the authorized número, with SEFAZ down meanwhile
    sefaz_switches(state, down="108")
    try:
        refused = inutilizar(state_file, 1, 2, expect=1)
    finally:
        sefaz_switches(state, down=None)
    # Then it is refused from the numbering's records, before SEFAZ (which could not have answered)
    assert refused.stdout == ""
    assert refused.stderr.startswith("nfe fiscal: refused before asking SEFAZ: série 1, números 1-2:")
    assert "1 (AUTORIZADA)" in refused.stderr and "SEFAZ would answer 241" in refused.stderr
    assert sefaz_state(state)["inutilizacoes"] == []

    # When the rejected número alone is inutilizado
    result = json.loads(inutilizar(state_file, numero, numero, expect=0).stdout)
    # Then SEFAZ homologated it (102), the procInutNFe is in the archive and Faturamento recorded the range
    assert (result["classe"], result["cStat"], result["via"]) == ("HOMOLOGADA", 102, "local mode (in process)")
    assert re.fullmatch(r"[0-9]{15}", result["protocolo"]) and result["recorded"] is True
    s3 = boto3.client(
        "s3",
        endpoint_url=state["awsEndpoint"],
        region_name=state["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    kept = s3.get_object(Bucket=FISCAL_ARCHIVE_BUCKET, Key=result["documento"])["Body"].read()
    assert b"<ProcInutNFe " in kept and result["protocolo"].encode() in kept
    recorded = sql(state, "SELECT numero_inicial, numero_final, protocolo FROM faturamento.inutilizacoes")
    assert recorded == [{"numero_inicial": 2, "numero_final": 2, "protocolo": result["protocolo"]}]
    assert len(sefaz_state(state)["inutilizacoes"]) == 1

    # When the same range is asked again / Then it is refused as already inutilizado, nothing sent
    again = inutilizar(state_file, numero, numero, expect=1)
    assert f"this range is already inutilizado: protocolo {result['protocolo']}" in again.stderr
    assert len(sefaz_state(state)["inutilizacoes"]) == 1

    # Given a gap made by hand: the counter moved past two números no nota took
    sql(state, "UPDATE faturamento.numeracao SET ultimo_numero = ultimo_numero + 2 WHERE serie = 1")
    # Then the accounting flags it, exit 1
    answer = numeracao(state_file, expect=1)
    assert fates(answer)[-1] == (3, 4, "lacuna")
    assert answer["problems"] == ["série 1: números 3-4 unexplained: no nota and no inutilização (a gap)"]
    text = nfe("fiscal", "numeracao", "--state-file", str(state_file), expect=1).stdout
    assert any(
        line.split() == ["3-4", "lacuna", "GAP:", "no", "nota,", "no", "inutilização"] for line in text.splitlines()
    )

    # When the gap is inutilizado / Then every número of the série is accounted for
    assert json.loads(inutilizar(state_file, 3, 4, expect=0).stdout)["recorded"] is True
    answer = numeracao(state_file, expect=0)
    assert fates(answer) == [(1, 1, "autorizada"), (2, 2, "inutilizada"), (3, 4, "inutilizada")]
    assert answer["problems"] == []
    # (the two inutilizações keep their own protocols)
    protocols = [r["protocolo"] for r in answer["series"][0]["ranges"][1:]]
    assert protocols[0] == result["protocolo"] and protocols[1] != protocols[0]
    text = nfe("fiscal", "numeracao", "--state-file", str(state_file)).stdout
    assert text.splitlines()[-1] == "every número is accounted for: no gap, nothing overdue"
    # A nota emitted afterwards takes the next número: the inutilizados stay out of the counter's way
    after = api.nota(produto, 1)
    assert api.wait_for(after, "AUTORIZADA") == "AUTORIZADA"
    assert api.call("GET", f"/api/v1/notas/{after}", expect=200)["numero"] == 5
    deadline = time.monotonic() + 5
    while fates(answer)[-1] != (5, 5, "autorizada") and time.monotonic() < deadline:
        answer = numeracao(state_file, expect=0)
    assert fates(answer)[-1] == (5, 5, "autorizada")
