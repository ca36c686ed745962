"""`nfe dlq`, `nfe replay`, `nfe outbox`, `nfe saga`: operating the saga, on local mode or a stack.

The target options, the error handling and the printing are shared with `nfe fiscal`
(nfe/commands/fiscal.py) through `target_parent`, `add_command`, `print_result` and `open_database`.

Results go to stdout (a table, or with --json the documented shape); progress and errors go to
stderr, so `--json` output can be piped. A target that can't be read or reached is one line on
stderr and exit code 2; an operation that ran and failed is exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_HELP = """target (one of):
  --state-file PATH     local mode: the file `nfe local --state-file PATH` writes
  --stack NAME          a deployed stack: its outputs from `pulumi stack output --json`
  --outputs FILE        ... or from that command's saved output (no Pulumi CLI needed)
AWS credentials come from boto3's standard chain (profile, environment, role)."""


def target_parent(database: bool) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("target")
    group.add_argument("--state-file", type=Path, metavar="PATH", help="local mode's state file")
    group.add_argument("--stack", metavar="NAME", help="a deployed stack (dev, prod)")
    group.add_argument("--outputs", type=Path, metavar="FILE", help="saved `pulumi stack output --json` of --stack")
    group.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL of the stack's database"
        + (" (required on a stack)" if database else " (optional)")
        + "; local mode's comes from its state file",
    )
    parent.add_argument("--json", action="store_true", help="print the result as JSON (the documented shape)")
    return parent


def add_command(
    subparsers: Any,
    name: str,
    help_text: str,
    reads: str,
    changes: str,
    parents: list[argparse.ArgumentParser],
    func: Callable[[argparse.Namespace], Any],
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=f"{help_text}.\n\nReads: {reads}\nChanges: {changes}",
        epilog=TARGET_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    parser.set_defaults(func=lambda args: _run(args, func))
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    aws_only = target_parent(database=False)
    with_db = target_parent(database=True)

    dlq = subparsers.add_parser("dlq", help="dead-letter queues: list, show, redrive")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    add_command(
        dlq_commands,
        "list",
        "every DLQ with its depth, the age of its oldest message and what it serves",
        "each DLQ's attributes, and its messages (peeked: they stay in the DLQ)",
        "nothing (a peek adds one to each message's SQS receive count)",
        [aws_only],
        _dlq_list,
    )
    show = add_command(
        dlq_commands,
        "show",
        "a DLQ's messages with event type, nota, receives, first failure and reason",
        "the DLQ's messages (peeked: they stay), and with a database the reasons the consumers recorded",
        "nothing (a peek adds one to each message's SQS receive count)",
        [aws_only],
        _dlq_show,
    )
    show.add_argument("queue", metavar="QUEUE", help="the DLQ: its name, its queue's (estoque-reserva) or a service's")
    show.add_argument("--limit", type=int, default=50, metavar="N", help="at most N messages (default 50)")
    redrive = add_command(
        dlq_commands,
        "redrive",
        "send a DLQ's messages back to the queue they came from",
        "the DLQ's messages",
        "moves messages from the DLQ to their source queue (each leaves the DLQ only after its copy is "
        "in the queue), where the consumers process them again",
        [aws_only],
        _dlq_redrive,
    )
    redrive.add_argument(
        "queue", metavar="QUEUE", help="the DLQ: its name, its queue's (estoque-reserva) or a service's"
    )
    redrive.add_argument("--max", type=int, metavar="N", help="move at most N messages (default: all)")
    redrive.add_argument("--dry-run", action="store_true", help="show what would move, move nothing")
    redrive.add_argument(
        "--visibility-timeout",
        type=int,
        default=60,
        metavar="S",
        help="seconds a message being copied stays hidden (default 60): after an interruption, when it reappears",
    )

    replay = add_command(
        subparsers,
        "replay",
        "replay a window of the event archive to the bus",
        "the bus, its archive and its rules",
        "starts an EventBridge replay: the window's events are delivered again to the queues "
        "(consumers skip what they already applied)",
        [aws_only],
        _replay,
    )
    replay.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="TIME",
        help="ISO 8601 (UTC if no zone), now, or --from=-2h (relative: -15m, -2h, -1d)",
    )
    replay.add_argument("--to", dest="end", required=True, metavar="TIME", help="end of the window (exclusive)")
    replay.add_argument("--event-type", metavar="NAME", help="only to the rules routing this event (NotaFiscalCriada)")
    replay.add_argument("--wait", action="store_true", help="follow the replay, with progress, until it ends")

    outbox = subparsers.add_parser("outbox", help="the outboxes: status, retry parked rows")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    add_command(
        outbox_commands,
        "status",
        "unpublished rows and the oldest one's age per schema; parked rows with the reason",
        "both schemas' eventos_outbox",
        "nothing",
        [with_db],
        _outbox_status,
    )
    retry = add_command(
        outbox_commands,
        "retry",
        "un-park parked outbox rows once their cause is fixed, and publish them",
        "the parked rows",
        "clears `estacionado` on the rows and sends them to the bus (the last error stays recorded)",
        [with_db],
        _outbox_retry,
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", metavar="ID", help="one row, by its id (the event id)")
    which.add_argument("--all", action="store_true", help="every parked row of both schemas")
    retry.add_argument("--no-publish", action="store_true", help="only un-park; the scheduled publisher sends them")

    saga = subparsers.add_parser("saga", help="one nota's story")
    saga_commands = saga.add_subparsers(dest="saga_command", required=True, metavar="ACTION")
    story = add_command(
        saga_commands,
        "show",
        "one nota's story across both schemas and the DLQs, as a timeline",
        "the nota (with SEFAZ's answer), both outboxes and inboxes, the reservas, the recorded failures and every DLQ",
        "nothing (a peek adds one to each DLQ message's SQS receive count)",
        [with_db],
        _saga_show,
    )
    story.add_argument("nota_id", metavar="NOTA_ID")
    story.add_argument("--no-dlq", action="store_true", help="don't look in the DLQs (database only)")


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(f"nfe {args.command}: {message}", file=sys.stderr, flush=True)

    return say


def _target(args: argparse.Namespace) -> Any:
    from nfe.ops.target import resolve

    return resolve(args.state_file, args.stack, args.outputs)


def _run(args: argparse.Namespace, func: Callable[[argparse.Namespace], Any]) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from nfe.ops.dlq import OpsError
    from nfe.ops.target import TargetError, aws_failure

    target = None
    try:
        target = _target(args)
        args.target = target
        return int(func(args) or 0)
    except TargetError as exc:
        print(f"nfe {args.command}: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        assert target is not None
        print(f"nfe {args.command}: {aws_failure(target, exc)}", file=sys.stderr)
        return 2
    except (OpsError, LookupError) as exc:
        print(f"nfe {args.command}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nfe {args.command}: interrupted; nothing half-done is lost (run it again)", file=sys.stderr)
        return 130


def print_result(args: argparse.Namespace, data: Any, human: Callable[[], str]) -> None:
    print(json.dumps(data, indent=2) if args.json else human())


def open_database(args: argparse.Namespace, required: bool = True) -> Any:
    from nfe.ops.target import connect_database

    if not required and not (args.database_url or args.target.database_url):
        return None
    return connect_database(args.target, args.database_url)


def _dlq_list(args: argparse.Namespace) -> int:
    from nfe.ops import dlq
    from nfe.ops.render import table

    rows = dlq.list_dlqs(args.target)
    columns = [("queue", "DLQ"), ("depth", "DEPTH"), ("oldestAgeSeconds", "OLDEST (s)"), ("source", "SERVES")]
    print_result(
        args,
        [{k: r[k] for k in ("queue", "depth", "oldestAgeSeconds", "source")} for r in rows],
        lambda: table(rows, columns),
    )
    return 0


def _dlq_show(args: argparse.Namespace) -> int:
    from nfe.ops import dlq
    from nfe.ops.render import table

    queue = args.target.dlq(args.queue)
    conn = open_database(args, required=False)
    try:
        rows = dlq.show(args.target, queue, args.limit, conn)
    finally:
        if conn is not None:
            conn.close()
    columns = [
        ("messageId", "MESSAGE"),
        ("eventType", "EVENT"),
        ("notaId", "NOTA"),
        ("receiveCount", "RECEIVES"),
        ("firstFailedAt", "FIRST FAILED"),
        ("reason", "REASON"),
    ]
    print_result(args, rows, lambda: table(rows, columns) if rows else f"{queue.name}: empty")
    return 0


def _dlq_redrive(args: argparse.Namespace) -> int:
    from nfe.ops import dlq

    queue = args.target.dlq(args.queue)
    result = dlq.redrive(args.target, queue, args.max, args.dry_run, _progress(args), args.visibility_timeout)
    if args.dry_run:
        human = f"would move {result['wouldMove']} message(s): " + ", ".join(
            f"{n} to {d}" for d, n in result["destinations"].items()
        )
    else:
        human = f"moved {result['moved']}, failed {result['failed']} ({result.get('method')})"
    print_result(args, result, lambda: human)
    return 1 if result["failed"] else 0


def _replay(args: argparse.Namespace) -> int:
    from nfe.ops import replay

    result = replay.replay(
        args.target,
        replay.parse_time(args.start),
        replay.parse_time(args.end),
        args.event_type,
        args.wait,
        _progress(args),
    )
    print_result(args, result, lambda: f"replay {result['replayName']}: {result['state']}")
    return 1 if result["state"] in ("FAILED", "CANCELLED") else 0


def _outbox_status(args: argparse.Namespace) -> int:
    from nfe.ops import outbox
    from nfe.ops.render import table

    with open_database(args) as conn:
        rows = outbox.status(conn)

    def human() -> str:
        text = table(
            rows,
            [
                ("schema", "SCHEMA"),
                ("unpublished", "UNPUBLISHED"),
                ("oldestAgeSeconds", "OLDEST (s)"),
                ("parked", "PARKED"),
            ],
        )
        parked = [{**p, "schema": r["schema"]} for r in rows for p in r["parkedRows"]]
        if parked:
            text += "\n\nparked rows:\n" + table(
                parked,
                [("schema", "SCHEMA"), ("id", "ID"), ("eventType", "EVENT"), ("notaId", "NOTA"), ("reason", "REASON")],
            )
        return text

    print_result(args, rows, human)
    return 0


def _outbox_retry(args: argparse.Namespace) -> int:
    from nfe.ops import outbox

    with open_database(args) as conn:
        result = outbox.retry(args.target, conn, args.id, args.all, publish=not args.no_publish)
    human = f"un-parked {result['unparked']}, published {result['published']}, parked again {result['parkedAgain']}"
    print_result(args, result, lambda: human + "".join(f"\n  {e}" for e in result.get("errors", [])))
    return 1 if result["parkedAgain"] else 0


def _sefaz_queue() -> str:
    from nfe import topology

    return next(q.name for q in topology.QUEUES if topology.function(q.consumer).service == "sefaz")


def _saga_show(args: argparse.Namespace) -> int:
    from nfe.ops import saga

    with open_database(args) as conn:
        story = saga.show(args.target, conn, args.nota_id, read_dlqs=not args.no_dlq)

    def human() -> str:
        lines = [f"nota {story['notaId']}: {story['status']}"]
        nfe = story["nfe"]
        if nfe is not None:
            answer = (
                f"protocolo {nfe['protocolo']}"
                if nfe["protocolo"] and nfe["cStat"] is None
                else f"cStat {nfe['cStat']} {nfe['motivo']}"
                if nfe["cStat"] is not None
                else f"no answer from SEFAZ applied yet (`nfe fiscal status`; the {_sefaz_queue()} queue and DLQ)"
            )
            lines.append(f"NF-e série {nfe['serie']} número {nfe['numero']}, chave {nfe['chave']}: {answer}")
        lines += [f"  {step['at']}  {step['what']}" for step in story["timeline"]]
        return "\n".join(lines)

    print_result(args, story, human)
    return 0
