"""EventBridge archive replay in local mode, done as EventBridge does it.

moto (5.2) keeps an archive's events and answers StartReplay, DescribeReplay and CancelReplay, but
its replay is not EventBridge's: it sends every archived event, whatever the replay's window, to
every rule of the bus, before StartReplay even returns. `nfe replay` must behave the same on both
targets, and a replay of a window must not resend what lies outside it, so local mode replaces the
replay step of moto's model (in this process, where the moto server runs) with a faithful one:

- only events whose time (PutEvents' `Time`, the outbox row's creation) is at or after
  EventStartTime and before EventEndTime are replayed, oldest first;
- to the rules named in Destination.FilterArns when given, else to every rule of the bus except
  managed ones (the archive's own rule); EventBridge replays to the same bus only;
- each replayed event is the archived one with a new `id` and a `replay-name` field: EventBridge's
  mark of a replay, which the archive's rule excludes so that replays are never archived again;
- asynchronously: STARTING, then RUNNING with EventLastReplayedTime advancing, then COMPLETED
  (FAILED with a StateReason if delivery breaks); CancelReplay stops it between events.

The rest (validation of names, ARNs and windows, the archive itself) stays moto's.
"""

from __future__ import annotations

import threading
from typing import Any

_INSTALLED = False


def _event_time(event: dict[str, Any]) -> float:
    value = event.get("time")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        from datetime import datetime

        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def install_faithful_replay() -> None:
    """Patch moto's Replay model once per process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.core.utils import unix_time
    from moto.events import models
    from moto.moto_api._internal import mock_random as random

    replay_cls: Any = models.Replay
    state = models.ReplayState

    def replay_events(self: Any, archive: Any) -> None:
        self.last_replayed_time = None
        self.state_reason = None
        start, end = float(self.event_start_time), float(self.event_end_time)
        backend = models.events_backends[self.account_id][self.region]
        bus = backend.describe_event_bus(self.destination["Arn"].split("/")[-1])
        filter_arns = set(self.destination.get("FilterArns") or [])
        window = sorted(
            (e for e in list(archive.events) if start <= _event_time(e) < end),
            key=_event_time,
        )

        def run() -> None:
            self.state = state.RUNNING
            try:
                for event in window:
                    if self.state in (state.CANCELLING, state.CANCELLED):
                        self.state = state.CANCELLED
                        self.end_time = unix_time()
                        return
                    replayed: Any = dict(event, **{"id": str(random.uuid4()), "replay-name": self.name})
                    for rule in list(bus.rules.values()):
                        if getattr(rule, "managed_by", None) or (filter_arns and rule.arn not in filter_arns):
                            continue
                        rule.send_to_targets(replayed, transform_input=False)
                    self.last_replayed_time = _event_time(event)
            except Exception as exc:  # reported by DescribeReplay, as EventBridge does
                self.state = state.FAILED
                self.state_reason = f"{type(exc).__name__}: {exc}"[:512]
            else:
                self.state = state.COMPLETED
            self.end_time = unix_time()

        threading.Thread(target=run, name=f"replay-{self.name}", daemon=True).start()

    original_describe_short = replay_cls.describe_short

    def describe_short(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original_describe_short(self)
        if getattr(self, "last_replayed_time", None) is not None:
            result["EventLastReplayedTime"] = self.last_replayed_time
        if getattr(self, "state_reason", None):
            result["StateReason"] = self.state_reason
        return result

    replay_cls.replay_events = replay_events
    replay_cls.describe_short = describe_short
    _INSTALLED = True
