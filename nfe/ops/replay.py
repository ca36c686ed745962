"""Replaying a window of the bus's archive to the bus (EventBridge StartReplay), followed to its end.

EventBridge replays the archived events whose time lies in [from, to) to the bus's rules, each with
a `replay-name` field, at its own pace (a minute of events at a time). `--event-type` limits the
replay to the rules routing that event (Destination.FilterArns), since a replay cannot filter on
the events themselves. The consumers apply each event id once, so a replay changes nothing already
applied and completes whatever was lost on the way (an event dropped before its queue delivered it).
Local mode's emulator replays the same way (nfe/local/archive.py): moto's own replay does not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nfe.ops.render import iso
from nfe.ops.target import Target, TargetError

FINAL_STATES = ("COMPLETED", "CANCELLED", "FAILED")
_RELATIVE = re.compile(r"^-(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """ISO 8601 (no zone means UTC), `now`, or a relative `-15m` / `-2h` / `-1d`."""
    now = now or datetime.now(UTC)
    text = text.strip()
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TargetError(
            f"{text!r} is not a time: use ISO 8601 (2026-05-01T10:00:00Z), now, or -15m/-2h/-1d"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rules_for_event(target: Target, event_type: str) -> list[str]:
    """ARNs of the bus's rules whose pattern routes `event_type`."""
    import json

    events = target.client("events")
    arns = []
    token: str | None = None
    while True:
        page = events.list_rules(EventBusName=target.bus_name, **({"NextToken": token} if token else {}))
        for rule in page.get("Rules", []):
            pattern = json.loads(rule.get("EventPattern") or "{}")
            if event_type in (pattern.get("detail-type") or []) and not rule.get("ManagedBy"):
                arns.append(rule["Arn"])
        token = page.get("NextToken")
        if not token:
            return arns


def replay_name(start: datetime, event_type: str | None, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    name = f"nfe-{stamp}-{event_type or 'all'}-from-{start.strftime('%Y%m%dT%H%M')}"
    return re.sub(r"[^.\-_A-Za-z0-9]", "-", name)[:64]


def start(target: Target, start_at: datetime, end_at: datetime, event_type: str | None) -> str:
    if end_at <= start_at:
        raise TargetError(f"--to ({iso(end_at)}) must be after --from ({iso(start_at)})")
    if end_at > datetime.now(UTC) + timedelta(minutes=1):
        raise TargetError(f"--to ({iso(end_at)}) is in the future; EventBridge replays only what was archived")
    events = target.client("events")
    archive_arn = events.describe_archive(ArchiveName=target.archive_name)["ArchiveArn"]
    bus_arn = events.describe_event_bus(Name=target.bus_name)["Arn"]
    destination: dict[str, Any] = {"Arn": bus_arn}
    if event_type:
        filters = rules_for_event(target, event_type)
        if not filters:
            raise TargetError(f"no rule on {target.bus_name} routes {event_type!r}; nothing would receive it")
        destination["FilterArns"] = filters
    name = replay_name(start_at, event_type)
    events.start_replay(
        ReplayName=name,
        Description=f"nfe replay {iso(start_at)} .. {iso(end_at)} {event_type or 'all events'}",
        EventSourceArn=archive_arn,
        EventStartTime=start_at,
        EventEndTime=end_at,
        Destination=destination,
    )
    return name


def follow(
    target: Target, name: str, progress: Callable[[str], None], poll_seconds: float = 1.0, timeout: float = 3600
) -> dict[str, Any]:
    events = target.client("events")
    deadline = time.monotonic() + timeout
    last = None
    while True:
        replay = events.describe_replay(ReplayName=name)
        state = replay["State"]
        seen = replay.get("EventLastReplayedTime")
        line = f"{state}" + (f": replayed up to {iso(seen)}" if seen else "")
        if line != last:
            progress(line)
            last = line
        if state in FINAL_STATES or time.monotonic() > deadline:
            return {"replayName": name, "state": state, "stateReason": replay.get("StateReason")}
        time.sleep(poll_seconds)


def replay(
    target: Target,
    start_at: datetime,
    end_at: datetime,
    event_type: str | None,
    wait: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    name = start(target, start_at, end_at, event_type)
    progress(f"replay {name} started: {iso(start_at)} .. {iso(end_at)}, {event_type or 'every event type'}")
    if not wait:
        state = target.client("events").describe_replay(ReplayName=name)["State"]
        return {"replayName": name, "state": state}
    return follow(target, name, progress)
