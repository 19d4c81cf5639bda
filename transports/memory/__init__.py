"""The in-process broker: behaves like RabbitMQ 3.10, needs no server.

``Broker()`` is an independent broker (tests make one each); ``MemoryTransport(broker)`` is
the :class:`~msgbus.transport.Transport` on it; ``named_broker(name)`` / ``default_broker()``
are the process-wide brokers behind ``memory://NAME`` and ``memory://``. Names are imported
when first used (a program serving the broker over AMQP does not load the transport).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgbus.lazy import lazy_exports

if TYPE_CHECKING:
    from transports.memory.access import PermissionSnapshot, UserSnapshot
    from transports.memory.broker import (
        Broker,
        Channel,
        Connection,
        default_broker,
        named_broker,
    )
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
    "PermissionSnapshot",
    "QueueSnapshot",
    "UserSnapshot",
    "default_broker",
    "named_broker",
]

#: Where each public name lives.
_HOMES: dict[str, str] = {
    "BindingSnapshot": "transports.memory.snapshots",
    "Broker": "transports.memory.broker",
    "BrokerEvent": "transports.memory.events",
    "Channel": "transports.memory.broker",
    "ChannelSnapshot": "transports.memory.snapshots",
    "Connection": "transports.memory.broker",
    "ConnectionSnapshot": "transports.memory.snapshots",
    "ExchangeSnapshot": "transports.memory.snapshots",
    "MemoryTransport": "transports.memory.transport",
    "PermissionSnapshot": "transports.memory.access",
    "QueueSnapshot": "transports.memory.snapshots",
    "UserSnapshot": "transports.memory.access",
    "default_broker": "transports.memory.broker",
    "named_broker": "transports.memory.broker",
}


__getattr__, __dir__ = lazy_exports("transports.memory", _HOMES, globals(), __all__)
