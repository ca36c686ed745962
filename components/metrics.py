"""Custom metrics the stack alarms on, and who emits them.

The outbox publisher (functions/publisher/handler.py) writes these through Powertools Metrics (EMF):
namespace `nfe`, dimension `service` = its POWERTOOLS_SERVICE_NAME, which the program sets to the
function's topology name. It emits the lag on every run, 0 when nothing is pending, so a missing
datapoint means the publisher is not running, and the alarm treats it as breaching.
"""

from __future__ import annotations

METRICS_NAMESPACE = "nfe"
OUTBOX_LAG_METRIC = "OutboxOldestUnpublishedAgeSeconds"
OUTBOX_PUBLISHER_SERVICE = "outbox-publisher"
OUTBOX_LAG_DIMENSIONS = {"service": OUTBOX_PUBLISHER_SERVICE}
# The schedule runs every minute: five minutes of backlog means the safety net itself is stuck.
OUTBOX_LAG_THRESHOLD_SECONDS = 300
