"""msgbus: typed messaging over pluggable transports.

The core needs only the standard library; transports live in :mod:`transports`.
"""

from __future__ import annotations

from msgbus.clock import Clock, ManualClock, SystemClock
from msgbus.connect import connect, default_url
from msgbus.errors import (
    AccessRefused,
    AMQPError,
    ChannelClosed,
    ConnectionClosed,
    ConnectionLost,
    MsgbusError,
    NotFound,
    PreconditionFailed,
    PublishNacked,
    ResourceLocked,
    TransportError,
    Unroutable,
    ValidationError,
)
from msgbus.transport import ConsumerHandle, Transport
from msgbus.values import (
    Delivery,
    DeliveryMode,
    ExchangeType,
    Properties,
    QueueInfo,
    ReturnedMessage,
)

__version__ = "0.1.0"

__all__ = [
    "AMQPError",
    "AccessRefused",
    "ChannelClosed",
    "Clock",
    "ConnectionClosed",
    "ConnectionLost",
    "ConsumerHandle",
    "Delivery",
    "DeliveryMode",
    "ExchangeType",
    "ManualClock",
    "MsgbusError",
    "NotFound",
    "PreconditionFailed",
    "Properties",
    "PublishNacked",
    "QueueInfo",
    "ResourceLocked",
    "ReturnedMessage",
    "SystemClock",
    "Transport",
    "TransportError",
    "Unroutable",
    "ValidationError",
    "__version__",
    "connect",
    "default_url",
]
