"""The in-process broker: behaves like RabbitMQ 3.10, needs no server.

``Broker()`` is an independent broker (tests make one each); ``MemoryTransport(broker)`` is
the :class:`~msgbus.transport.Transport` on it; ``named_broker(name)`` / ``default_broker()``
are the process-wide brokers behind ``memory://NAME`` and ``memory://``.
"""

from __future__ import annotations

from transports.memory.broker import Broker, Channel, Connection, default_broker, named_broker
from transports.memory.events import BrokerEvent
from transports.memory.snapshots import (
    BindingSnapshot,
    ChannelSnapshot,
    ConnectionSnapshot,
    ExchangeSnapshot,
    QueueSnapshot,
)
from transports.memory.transport import MemoryTransport

__all__ = [
    "BindingSnapshot",
    "Broker",
    "BrokerEvent",
    "Channel",
    "ChannelSnapshot",
    "Connection",
    "ConnectionSnapshot",
    "ExchangeSnapshot",
    "MemoryTransport",
    "QueueSnapshot",
    "default_broker",
    "named_broker",
]
