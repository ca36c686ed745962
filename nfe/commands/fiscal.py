"""`nfe fiscal status|numeracao|inutilizar`: SEFAZ from the operator's side, on local mode or a stack
(nfe/ops/fiscal.py, nfe/ops/numeracao.py, nfe/ops/inutilizacao.py).

Same targets, exit codes and `--json` as `nfe dlq|outbox|saga` (nfe/commands/ops.py).
"""

from __future__ import annotations

import argparse

from nfe.commands.ops import add_command, open_database, print_result, target_parent


def register(subparsers: argparse._SubParsersAction) -> None:
    fiscal = subparsers.add_parser("fiscal", help="SEFAZ: authorizations pending, refusals, inutilização")
    actions = fiscal.add_subparsers(dest="fiscal_command", required=True, metavar="ACTION")
    status = add_command(
        actions,
        "status",
        "authorizations pending with their age, refusals by cStat over a window, números awaiting inutilização "
        "with their deadline",
        "faturamento.notas_fiscais (the notas with SEFAZ, and SEFAZ's answers they keep)",
        "nothing",
        [target_parent(database=True)],
        _status,
    )
    status.add_argument(
        "--since",
        default="24h",
        metavar="WHEN",
        help="refusals answered since WHEN: 24h (default), 90m, 7d, 2w, or a time (ISO 8601, -2h)",
    )
    status.add_argument(
        "--limit", type=int, default=50, metavar="N", help="list at most N pending notas and N números (default 50)"
    )

    numeracao = add_command(
        actions,
        "numeracao",
        "per série, the last número and every número's fate (autorizada, cancelada, denegada, inutilizada, "
        "pendente, a inutilizar with its deadline), flagging gaps; exit 1 on a gap or an overdue número",
        "faturamento.numeracao, faturamento.notas_fiscais and faturamento.inutilizacoes",
        "nothing",
        [target_parent(database=True)],
        _numeracao,
    )
    numeracao.add_argument("--serie", type=int, metavar="S", help="only this série (default: every série)")

    inutilizar = add_command(
        actions,
        "inutilizar",
        "ask SEFAZ to inutilizar números DE to ATE of a série, through the SEFAZ function, after checking that "
        "none is used, beyond the série's last número or already inutilizado; exit 0 when SEFAZ homologates it",
        "faturamento.notas_fiscais, faturamento.numeracao and faturamento.inutilizacoes (the checks)",
        "SEFAZ inutiliza the números (a fiscal act: it cannot be undone); the procInutNFe goes to the fiscal "
        "archive and Faturamento records the range. On a stack it invokes sefaz-autorizador-<stack> "
        "(lambda:InvokeFunction); in local mode it runs that function's code in this process",
        [target_parent(database=True)],
        _inutilizar,
    )
    inutilizar.add_argument("--serie", type=int, required=True, metavar="S", help="the série (0-889)")
    inutilizar.add_argument("--de", type=int, required=True, metavar="N", help="the first número of the range")
    inutilizar.add_argument("--ate", type=int, required=True, metavar="M", help="the last número (at most 10,000)")
    inutilizar.add_argument(
        "--justificativa", required=True, metavar="TEXT", help="why, 15 to 255 characters (SEFAZ's xJust)"
    )
    inutilizar.add_argument(
        "--ano", type=int, metavar="YYYY", help="the year of the números, as SEFAZ records it (default: this year)"
    )
    inutilizar.add_argument(
        "--wait",
        type=float,
        default=20,
        metavar="S",
        help="seconds to wait for Faturamento to record the range after SEFAZ homologates it (default 20; 0: none)",
    )


def _status(args: argparse.Namespace) -> int:
    from nfe.ops import fiscal

    with open_database(args) as conn:
        answer = fiscal.status(conn, args.since, args.limit)
    print_result(args, answer, lambda: fiscal.render(answer))
    return 0


def _numeracao(args: argparse.Namespace) -> int:
    from nfe.ops import numeracao

    with open_database(args) as conn:
        answer = numeracao.accounting(conn, args.serie)
    print_result(args, answer, lambda: numeracao.render(answer))
    return numeracao.exit_code(answer)


def _inutilizar(args: argparse.Namespace) -> int:
    from nfe.ops import inutilizacao

    # The request's own limits first: a bad one needs no database.
    pedido = inutilizacao.pedido(args.serie, args.de, args.ate, args.justificativa, args.ano)
    with open_database(args) as conn:
        result = inutilizacao.inutilizar(args.target, conn, pedido, wait_seconds=args.wait)
    print_result(args, result, lambda: inutilizacao.render(result))
    return inutilizacao.exit_code(result)
