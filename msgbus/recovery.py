"""Connection state: the events listeners receive, and the policy that bounds recovery.

One lifecycle for every transport: the RabbitMQ transport reconnects after a lost
connection, the in-process one after ``Broker.restart()`` or a connection error, and both
report the same :class:`ConnectionEvent` values under the same :class:`RecoveryPolicy`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from msgbus.errors import ValidationError

__all__ = ["ConnectionEvent", "ConnectionListener", "ConnectionState", "RecoveryPolicy"]


class ConnectionState(str, enum.Enum):
    """What happened to the connection.

    ``CONNECTED``: the first connection is open. ``LOST``: it dropped and recovery starts.
    ``RECOVERED``: a new connection is open and the topology and consumers are back.
    ``FAILED``: recovery gave up (or is disabled); the transport is closed.
    ``CLOSED``: ``close()`` was called.
    """

    CONNECTED = "connected"
    LOST = "lost"
    RECOVERED = "recovered"
    FAILED = "failed"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A change of connection state, as passed to connection listeners.

    ``broker`` names the broker reached: on RabbitMQ a redacted URL (never the password)
    of the one node connected to — of a URL with several hosts, the one that answered —
    ``memory://NAME`` on the in-process broker; ``attempts`` counts the
    reconnection attempts made so far; ``error`` is what caused ``LOST`` or ``FAILED``;
    ``renamed_queues`` maps the old to the new names of server-named queues re-created by
    a recovery.
    """

    state: ConnectionState
    broker: str
    attempts: int = 0
    error: BaseException | None = None
    renamed_queues: Mapping[str, str] = field(default_factory=dict)


ConnectionListener = Callable[[ConnectionEvent], None]


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """How hard to try to reconnect after the connection is lost.

    Attempt ``n`` (from 1) waits ``min(initial_delay * multiplier ** (n - 1), max_delay)``
    seconds first, except the first attempt when ``immediate_first`` is set (a closed
    connection on a live node comes back at once). ``max_attempts=0`` disables recovery:
    a lost connection closes the transport.
    """

    max_attempts: int = 20
    initial_delay: float = 0.25
    max_delay: float = 5.0
    multiplier: float = 2.0
    immediate_first: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValidationError(
                f"RecoveryPolicy.max_attempts must be >= 0, got {self.max_attempts!r}"
            )
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValidationError(
                "RecoveryPolicy delays must be >= 0 and multiplier >= 1, got "
                f"initial_delay={self.initial_delay!r}, max_delay={self.max_delay!r}, "
                f"multiplier={self.multiplier!r}"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (from 1)."""
        if attempt == 1 and self.immediate_first:
            return 0.0
        exponent = attempt - 2 if self.immediate_first else attempt - 1
        return float(min(self.initial_delay * self.multiplier**exponent, self.max_delay))
