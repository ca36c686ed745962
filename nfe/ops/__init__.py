"""The operator's side of the saga: DLQs, the archive's replay, parked outbox rows, one nota's story,
and SEFAZ's (authorizations pending, refusals, números to inutilizar).

One module per responsibility, each the same code against local mode and a deployed stack
(`target`); the command line (nfe/commands/ops.py, nfe/commands/fiscal.py) only parses arguments and
prints.
"""
