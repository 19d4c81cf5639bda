"""Connection state: :mod:`msgbus.recovery`'s names, kept here for code that imports them
from the RabbitMQ transport (they are shared by every transport)."""

from __future__ import annotations

from msgbus.recovery import ConnectionEvent, ConnectionListener, ConnectionState, RecoveryPolicy

__all__ = ["ConnectionEvent", "ConnectionListener", "ConnectionState", "RecoveryPolicy"]
