"""When a record fails: whose failure it is, and when its message should come back.

Two kinds of failure reach an SQS consumer, and they deserve opposite treatment:
- The message's own (it cannot be parsed, a rule refuses it, a bug in its handler): no retry will
  fix it, so it spends its receives at the queue's pace and reaches the DLQ, where an operator
  reads why (`nfe dlq show`).
- A dependency's (the database restarting or unreachable, a connection killed, throttling, and
  SEFAZ down): the message is fine and will succeed once the dependency is back. Each failed
  receive still counts towards `maxReceiveCount` (SQS counts receives, not failures), so instead
  of letting the message come back after the queue's visibility timeout, the consumer stretches
  its invisibility with ChangeMessageVisibility, exponentially with jitter, so that the receives
  allowed span an outage of the configured length before anything is dead-lettered, and a
  database that is starting up is not met by every message at once.

MAX_RECEIVE_COUNT is declared here, once: the queues' redrive policy (nfe/topology.py reads it)
and the consumer's "giving up" log both use it, and the function package holds only functions/.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Receives before SQS moves a message to its DLQ. The seed's "DLQ after 3 retries" reads as 4
# receives; AWS recommends at least 5 for a queue feeding Lambda ("Using Lambda with Amazon SQS":
# a throttled or failed batch can use up receives without the function seeing the message), and
# the backoff below needs several steps to span an outage. 5: four delays of 1, 2, 4 and 8 units.
MAX_RECEIVE_COUNT = 5

# SQS's ceiling for a message's visibility timeout (ChangeMessageVisibility refuses more).
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600
# The default outage a message survives before it is dead-lettered (stack config can raise it).
DEFAULT_OUTAGE_TOLERANCE_SECONDS = 15 * 60
# Each delay is stretched by a random factor in [1, 1 + JITTER): the minimum delays alone span the
# tolerance, so jitter only spreads the retries of messages that failed together, never shortens them.
JITTER = 0.5


class DependencyUnavailable(Exception):
    """A dependency the handler needs is down or refusing work; the message itself is fine.

    Handlers raise it for dependencies that are not the database (SEFAZ, a throttled AWS API);
    database failures are recognised from psycopg's own exceptions.
    """


def is_dependency_failure(exc: BaseException) -> bool:
    """True when `exc` says a dependency is down, not that the message or its handler is wrong.

    psycopg raises OperationalError for every failure of the server or the connection (SQLSTATE
    classes 08 connection, 53 resources, 57 operator intervention such as admin shutdown or
    "the database system is starting up", 40 serialization and deadlock, statement timeout) and
    InterfaceError when the connection is unusable; integrity, data and programming errors are
    the message's or the code's own. Socket and timeout errors cover AWS and SEFAZ calls.
    """
    import psycopg  # here, not at the top: nfe/topology.py (the stack, local mode) reads this module's constants

    if isinstance(exc, DependencyUnavailable | psycopg.OperationalError | psycopg.InterfaceError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return _is_botocore_transient(exc)


def is_outage(exc: BaseException) -> bool:
    """A dependency failure that the batch's next records would meet too: no connection to the
    database could be opened (functions.shared.db.DatabaseUnreachable), a socket failed, or another
    dependency said it is down. One connection killed mid-transaction is not one: the next record
    reconnects and goes on, as does one after a serialization failure or a deadlock."""
    if isinstance(exc, DependencyUnavailable | ConnectionError | TimeoutError):
        return True
    return _is_botocore_transient(exc)


def _is_botocore_transient(exc: BaseException) -> bool:
    module = type(exc).__module__
    if not module.startswith("botocore"):
        return False
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "Throttl" in code or code in ("RequestLimitExceeded", "ServiceUnavailable") or status >= 500
    return False


@dataclass(frozen=True)
class Backoff:
    """How long a message whose dependency is down stays invisible after each failed receive.

    The n-th failed receive (n = 1 .. MAX_RECEIVE_COUNT - 1) hides the message for
    base * 2**(n-1) seconds times a jitter factor in [1, 1 + JITTER), where base is chosen so that
    the unjittered delays add up to the outage tolerance: with 5 receives, 15 minutes gives 60,
    120, 240 and 480 s. Every delay is capped at the tolerance itself and at SQS's 12 hours.
    """

    outage_tolerance_seconds: int = DEFAULT_OUTAGE_TOLERANCE_SECONDS
    max_receives: int = MAX_RECEIVE_COUNT

    @property
    def base_seconds(self) -> float:
        steps = max(self.max_receives - 1, 1)
        return self.outage_tolerance_seconds / (2**steps - 1)

    @property
    def cap_seconds(self) -> int:
        return min(self.outage_tolerance_seconds, SQS_MAX_VISIBILITY_SECONDS)

    def delay_seconds(self, receive_count: int, rng: random.Random | None = None) -> int:
        """The visibility to give a message after its `receive_count`-th receive failed (>= 1 s)."""
        n = min(max(receive_count, 1), max(self.max_receives - 1, 1))
        factor = 1 + JITTER * (rng or _rng).random()
        return max(1, min(self.cap_seconds, math.ceil(self.base_seconds * 2 ** (n - 1) * factor)))

    def minimum_span_seconds(self) -> float:
        """The shortest time from the first receive to the last one: the outage survived."""
        return sum(self.base_seconds * 2 ** (n - 1) for n in range(1, self.max_receives))


# Jitter needs no cryptographic quality: it only spreads retries apart.
_rng = random.Random()  # noqa: S311
