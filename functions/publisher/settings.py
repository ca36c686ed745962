"""Settings of the outbox publisher Lambda."""

from __future__ import annotations

from functions.shared.settings import DatabaseSettings, EventBusSettings


class PublisherSettings(DatabaseSettings, EventBusSettings):
    db_user: str = "outbox_publisher"
    # Stop claiming new batches when less than this remains, so a run never dies mid-batch.
    publisher_reserve_ms: int = 10_000
