"""`nfe fiscal inutilizar`: ask SEFAZ to inutilizar a range of números, after the numbering's own
records say it may.

Checked first, against the database, and refused (exit 1, nothing sent) when any fails:
- the request itself, as the SEFAZ function validates it (functions/sefaz/pedidos.py): justificativa
  of 15 to 255 characters, de <= ate, at most 10,000 números;
- no número of the range is used: a nota of the série holds it with any status but REJEITADA
  (AUTORIZADA, CANCELADA and DENEGADA are SEFAZ's record, CONFIRMADA is with SEFAZ); SEFAZ would
  answer 241;
- no número is beyond the série's last número (`faturamento.numeracao`). Inutilizar a future número
  is legal, but then the counter would have to skip it, and nothing here moves the counter: the next
  nota would take the número and SEFAZ would refuse it (206). So only números the counter has passed
  are inutilizados. This also makes the check race-free: new notas take only números above the
  counter, and a rejected nota's número is never given again, so a range that passes stays unused;
- no número is in an inutilização already recorded (`faturamento.inutilizacoes`): the same range again
  would get SEFAZ's 563 with the earlier protocol, an overlapping one 256.

Then SEFAZ is asked through the SEFAZ participant itself, `AutorizadorSefaz.inutilizar`, which signs the
pedido with the emitente's A1, archives the procInutNFe and announces `NumeracaoInutilizada`, from which
Faturamento records the range:
- on a stack, by invoking the function `sefaz-autorizador-<stack>` directly (RequestResponse): the
  operator needs `lambda:InvokeFunction` on it, and nothing of the certificate;
- in local mode, in this process, with the settings local mode gives that function's containers (the
  emulated SEFAZ, the test A1 in the emulator's Secrets Manager, the emulator's archive and bus): local
  mode's functions are processes of `nfe local`, which no other process can invoke.
SEFAZ's answer is printed; exit 0 when it homologated the inutilização (102, or 563 with the earlier
protocol), 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from nfe import topology
from nfe.ops.dlq import OpsError
from nfe.ops.numeracao import label
from nfe.ops.target import Target, TargetError

if TYPE_CHECKING:
    from functions.sefaz.pedidos import InutilizacaoPedido

SEFAZ_FUNCTION = "sefaz-autorizador"
# SEFAZ's answers that mean the range is inutilizado (functions/sefaz/outcome.py Classe.HOMOLOGADA).
HOMOLOGADA = "HOMOLOGADA"
# The function's timeout (nfe/topology.py) and some: a RequestResponse invocation waits for its answer.
INVOKE_READ_TIMEOUT_SECONDS = 90
# Used números listed in a refusal; the rest are counted.
LISTED = 20


def pedido(serie: int, de: int, ate: int, justificativa: str, ano: int | None = None) -> InutilizacaoPedido:
    """The request as the SEFAZ function validates it (`InutilizacaoPedido`), or OpsError saying why not."""
    from pydantic import ValidationError

    from functions.sefaz.pedidos import InutilizacaoPedido

    try:
        return InutilizacaoPedido(serie=serie, de=de, ate=ate, justificativa=justificativa, ano=ano)
    except ValidationError as exc:
        reasons = [
            f"{'.'.join(map(str, e['loc'])) or 'range'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        ]
        raise OpsError("refused before asking SEFAZ:\n  " + "\n  ".join(reasons)) from None


def problems(conn: Any, serie: int, de: int, ate: int) -> list[str]:
    """Why the numbering's records forbid inutilizar `de`..`ate` of `serie`; empty when they allow it."""
    found: list[str] = []
    used = conn.execute(
        "SELECT numero, status FROM faturamento.notas_fiscais WHERE serie = %s AND numero BETWEEN %s AND %s "
        "AND status <> 'REJEITADA' ORDER BY numero",
        (serie, de, ate),
    ).fetchall()
    if used:
        shown = ", ".join(f"{r['numero']} ({r['status']})" for r in used[:LISTED])
        more = f" and {len(used) - LISTED} more" if len(used) > LISTED else ""
        found.append(
            f"used números in the range (SEFAZ would answer 241): {shown}{more}; "
            "only a rejected nota's número or one no nota took can be inutilizado"
        )
    counter = conn.execute("SELECT ultimo_numero FROM faturamento.numeracao WHERE serie = %s", (serie,)).fetchone()
    last = counter["ultimo_numero"] if counter else 0
    if ate > last:
        first = max(de, last + 1)
        one = first == ate
        found.append(
            f"{label(first, ate)} {'is' if one else 'are'} beyond série {serie}'s last número ({last}): the counter "
            f"would give {'it to the next nota' if one else 'them to the next notas'}, which SEFAZ would then "
            "refuse (206); only números the counter has passed are inutilizados here"
        )
    recorded = conn.execute(
        "SELECT numero_inicial, numero_final, protocolo, homologada_em FROM faturamento.inutilizacoes "
        "WHERE serie = %s AND numero_inicial <= %s AND numero_final >= %s ORDER BY numero_inicial",
        (serie, ate, de),
    ).fetchall()
    for r in recorded:
        first, last = r["numero_inicial"], r["numero_final"]
        when = r["homologada_em"].date().isoformat()
        if (first, last) == (de, ate):
            found.append(
                f"this range is already inutilizado: protocolo {r['protocolo']} of {when} "
                "(SEFAZ would answer 563 with that protocol)"
            )
        else:
            found.append(
                f"{label(first, last)} {'is' if first == last else 'are'} already inutilizado (protocolo "
                f"{r['protocolo']} of {when}; SEFAZ would answer 256): ask for the números outside it"
            )
    conn.rollback()
    return found


# ---- asking SEFAZ ------------------------------------------------------------------------------------


def _request(p: InutilizacaoPedido) -> dict[str, Any]:
    return {"serie": p.serie, "de": p.de, "ate": p.ate, "justificativa": p.justificativa, "ano": p.ano}


def function_name(target: Target) -> str:
    """The SEFAZ function of the target's stack: `<topology name>-<environment>` (components/lambdas.py)."""
    return f"{topology.function(SEFAZ_FUNCTION).name}-{target.environment}"


def ask_stack(target: Target, p: InutilizacaoPedido, client: Any = None) -> dict[str, Any]:
    """Invoke the stack's SEFAZ function with `{"inutilizar": ...}` and wait for its answer.

    One attempt: the function may have sent the pedido before a lost answer, and a second invocation
    would only meet SEFAZ's 563; the operator asks again instead, knowing it.
    """
    if client is None:
        import boto3
        from botocore.config import Config

        config = Config(read_timeout=INVOKE_READ_TIMEOUT_SECONDS, retries={"max_attempts": 1})
        client = boto3.client("lambda", region_name=target.region, config=config)
    name = function_name(target)
    response = client.invoke(
        FunctionName=name,
        InvocationType="RequestResponse",
        Payload=json.dumps({"inutilizar": _request(p)}).encode(),
    )
    body = response["Payload"].read()
    answer = json.loads(body) if body else None
    if response.get("FunctionError"):
        error = answer if isinstance(answer, dict) else {}
        raise OpsError(
            f"{name} failed: {error.get('errorType', 'error')}: {error.get('errorMessage', body)}; SEFAZ may or may "
            "not have received the pedido: ask again (a range SEFAZ inutilizou answers 563 with its protocol)"
        )
    if not isinstance(answer, dict) or "erro" in answer:
        reason = answer.get("erro") if isinstance(answer, dict) else answer
        raise OpsError(f"{name} refused the request: {reason}")
    return answer


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """This process's environment replaced by `variables` alone, as a container of the function has
    exactly the stack's; the operator's own variables come back afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def local_participant(target: Target) -> Any:
    """The SEFAZ participant wired as local mode wires its containers (nfe/local/system.py
    `container_environment`): the emitente local mode gives Faturamento, the emulated SEFAZ and its CA,
    the test A1 in the emulator's Secrets Manager, the emulator's archive bucket and bus."""
    from nfe import function_env
    from nfe.local import fiscal_demo
    from nfe.local.emulator import FISCAL_ARCHIVE_BUCKET
    from nfe.local.system import SEFAZ_CERTIFICATE_SECRET_NAME

    sefaz = target.sefaz
    if not sefaz:
        raise TargetError(f"{target.description}: no emulated SEFAZ in it (restart nfe local with this version)")
    spec = topology.function(SEFAZ_FUNCTION)
    variables = {
        k: str(v)
        for k, v in function_env.function_environment(
            spec,
            {},
            target.bus_name,
            None,
            None,
            fiscal_demo.emitente_json(),
            fiscal_archive_bucket=FISCAL_ARCHIVE_BUCKET,
            sefaz_certificate_secret=SEFAZ_CERTIFICATE_SECRET_NAME,
            sefaz_ca_bundle=sefaz["caFile"],
            sefaz_base_url=sefaz["url"],
        ).items()
    }
    with _environment(variables):
        from functions.fiscal.archive import FiscalArchive
        from functions.sefaz import bootstrap
        from functions.sefaz.settings import SefazSettings
        from functions.shared.observability import logger
        from functions.shared.settings import load

        settings = load(SefazSettings)
    # The function's log lines are not this command's output: stderr, and only what went wrong.
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel("ERROR")
    return bootstrap.participant(
        settings,
        events_client=target.client("events"),
        fiscal_archive=FiscalArchive(FISCAL_ARCHIVE_BUCKET, target.client("s3")),
        secrets_client=target.client("secretsmanager"),
    )


def ask_local(target: Target, p: InutilizacaoPedido) -> dict[str, Any]:
    from functions.sefaz.outcome import SefazIndisponivel

    try:
        answer: dict[str, Any] = local_participant(target).inutilizar(p.serie, p.de, p.ate, p.justificativa, ano=p.ano)
    except SefazIndisponivel as exc:
        raise OpsError(
            f"SEFAZ did not answer ({exc}); nothing is recorded: ask again (a range SEFAZ inutilizou "
            "answers 563 with its protocol)"
        ) from None
    except ValueError as exc:
        # A pedido SEFAZ would refuse on its face (functions/sefaz/inutilize.py): nothing was sent.
        raise OpsError(f"the pedido cannot be built: {exc}") from None
    return answer


# ---- the command ---------------------------------------------------------------------------------------


def recorded(conn: Any, serie: int, de: int, ate: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT protocolo, homologada_em, registrada_em FROM faturamento.inutilizacoes "
        "WHERE serie = %s AND numero_inicial = %s AND numero_final = %s",
        (serie, de, ate),
    ).fetchone()
    conn.rollback()
    return dict(row) if row else None


def inutilizar(
    target: Target,
    conn: Any,
    p: InutilizacaoPedido,
    *,
    wait_seconds: float = 20,
    ask: Callable[[Target, InutilizacaoPedido], dict[str, Any]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """`nfe fiscal inutilizar`'s whole answer (its --json shape), or OpsError when the numbering's
    records refuse the range (nothing sent). After SEFAZ homologates it, waits up to `wait_seconds`
    for Faturamento to record the range (it does so from the NumeracaoInutilizada event)."""
    found = problems(conn, p.serie, p.de, p.ate)
    if found:
        raise OpsError(f"refused before asking SEFAZ: série {p.serie}, {label(p.de, p.ate)}:\n  " + "\n  ".join(found))
    if ask is None:
        ask = ask_local if target.is_local else ask_stack
    via = "local mode (in process)" if target.is_local else function_name(target)
    answer = ask(target, p)
    result: dict[str, Any] = {
        "serie": p.serie,
        "numeroInicial": p.de,
        "numeroFinal": p.ate,
        "via": via,
        "classe": answer.get("classe"),
        "cStat": answer.get("cStat"),
        "motivo": answer.get("motivo"),
        "protocolo": answer.get("protocolo"),
        "documento": answer.get("documento"),
        "recorded": False,
    }
    if result["classe"] == HOMOLOGADA:
        deadline = time.monotonic() + wait_seconds
        while True:
            if recorded(conn, p.serie, p.de, p.ate) is not None:
                result["recorded"] = True
                break
            if time.monotonic() >= deadline:
                break
            sleep(0.25)
    return result


def exit_code(result: dict[str, Any]) -> int:
    return 0 if result["classe"] == HOMOLOGADA else 1


def render(result: dict[str, Any]) -> str:
    span = f"série {result['serie']}, {label(result['numeroInicial'], result['numeroFinal'])}"
    said = f"cStat {result['cStat']} {result['motivo']}"
    if result["classe"] != HOMOLOGADA:
        return f"SEFAZ refused the inutilização of {span}: {said}"
    lines = [
        f"SEFAZ homologated the inutilização of {span}: {said}",
        f"protocolo {result['protocolo']}",
        f"procInutNFe archived as {result['documento']}",
    ]
    if result["recorded"]:
        lines.append("recorded in faturamento.inutilizacoes")
    else:
        lines.append(
            "not recorded in faturamento.inutilizacoes yet: Faturamento records it from the NumeracaoInutilizada "
            "event (see `nfe fiscal numeracao` later, and the faturamento-sefaz DLQ if it never comes)"
        )
    return "\n".join(lines)
