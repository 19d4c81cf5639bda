"""Frozen value types shared by every transport: properties, deliveries, declarations."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "Delivery",
    "DeliveryMode",
    "ExchangeType",
    "Properties",
    "Publication",
    "QueueInfo",
    "ReturnedMessage",
]

#: A value an AMQP field table may hold (pika's encoder accepts the same set).
FieldValue = Any


class ExchangeType(str, enum.Enum):
    """The exchange types every transport supports."""

    DIRECT = "direct"
    FANOUT = "fanout"
    TOPIC = "topic"
    HEADERS = "headers"

    def __str__(self) -> str:
        return self.value


class DeliveryMode(enum.IntEnum):
    """Whether a message survives a broker restart (in a durable queue)."""

    TRANSIENT = 1
    PERSISTENT = 2


#: A received ``delivery_mode`` number as the :class:`DeliveryMode` it names (what the
#: transports hand out; other numbers stay as they are).
DELIVERY_MODES: dict[int, DeliveryMode] = {int(mode): mode for mode in DeliveryMode}


@dataclass(frozen=True, slots=True)
class Properties:
    """The AMQP 0-9-1 basic properties of a message. ``None`` means "not set"."""

    content_type: str | None = None
    content_encoding: str | None = None
    headers: Mapping[str, FieldValue] | None = None
    delivery_mode: DeliveryMode | int | None = None
    priority: int | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration: str | None = None
    message_id: str | None = None
    timestamp: int | None = None
    type: str | None = None
    user_id: str | None = None
    app_id: str | None = None
    cluster_id: str | None = None

    @property
    def persistent(self) -> bool:
        """True when ``delivery_mode`` is 2 (persistent)."""
        return self.delivery_mode == DeliveryMode.PERSISTENT


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message handed to a consumer callback or returned by ``get``.

    ``delivery_tag`` identifies it for ``ack``/``nack``/``reject`` on the transport that
    delivered it. ``consumer_tag`` is ``None`` for ``get``; ``message_count`` (the messages
    left in the queue) is set only by ``get``.
    """

    body: bytes
    delivery_tag: int
    exchange: str
    routing_key: str
    redelivered: bool = False
    properties: Properties = field(default_factory=Properties)
    consumer_tag: str | None = None
    message_count: int | None = None


# The generated __init__ of a frozen dataclass calls object.__setattr__ per field; the
# slots' own descriptors do the same in half the time, and these run for every message.
(_set_content_type, _set_content_encoding, _set_headers, _set_delivery_mode, _set_priority,
 _set_correlation_id, _set_reply_to, _set_expiration, _set_message_id, _set_timestamp,
 _set_type, _set_user_id, _set_app_id, _set_cluster_id) = (
    getattr(Properties, f.name).__set__ for f in fields(Properties))


def _init_properties(
    self: Properties, content_type: str | None = None, content_encoding: str | None = None,
    headers: Mapping[str, FieldValue] | None = None,
    delivery_mode: DeliveryMode | int | None = None, priority: int | None = None,
    correlation_id: str | None = None, reply_to: str | None = None,
    expiration: str | None = None, message_id: str | None = None,
    timestamp: int | None = None, type: str | None = None, user_id: str | None = None,
    app_id: str | None = None, cluster_id: str | None = None,
) -> None:
    _set_content_type(self, content_type)
    _set_content_encoding(self, content_encoding)
    _set_headers(self, headers)
    _set_delivery_mode(self, delivery_mode)
    _set_priority(self, priority)
    _set_correlation_id(self, correlation_id)
    _set_reply_to(self, reply_to)
    _set_expiration(self, expiration)
    _set_message_id(self, message_id)
    _set_timestamp(self, timestamp)
    _set_type(self, type)
    _set_user_id(self, user_id)
    _set_app_id(self, app_id)
    _set_cluster_id(self, cluster_id)


_init_properties.__qualname__ = "Properties.__init__"
setattr(Properties, "__init__", _init_properties)  # noqa: B010

#: A message without properties (transports share it, so that "none set" is an identity test).
EMPTY_PROPERTIES = Properties()
_set_body, _set_tag, _set_exchange, _set_key, _set_redelivered, _set_properties, \
    _set_consumer, _set_count = (getattr(Delivery, f.name).__set__ for f in fields(Delivery))


def _init_delivery(self: Delivery, body: bytes, delivery_tag: int, exchange: str,
                   routing_key: str, redelivered: bool = False,
                   properties: Properties = EMPTY_PROPERTIES, consumer_tag: str | None = None,
                   message_count: int | None = None) -> None:
    _set_body(self, body)
    _set_tag(self, delivery_tag)
    _set_exchange(self, exchange)
    _set_key(self, routing_key)
    _set_redelivered(self, redelivered)
    _set_properties(self, properties)
    _set_consumer(self, consumer_tag)
    _set_count(self, message_count)


_init_delivery.__qualname__ = "Delivery.__init__"
setattr(Delivery, "__init__", _init_delivery)  # noqa: B010


@dataclass(frozen=True, slots=True)
class ReturnedMessage:
    """A ``mandatory`` message the broker could not route (basic.return)."""

    body: bytes
    exchange: str
    routing_key: str
    reply_code: int
    reply_text: str
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True, slots=True)
class Publication:
    """One message of :meth:`~msgbus.transport.Transport.publish_batch`: what ``publish``
    takes, as a value."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Properties | None = None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """What queue.declare-ok says: the queue's name and its current counts."""

    name: str
    message_count: int
    consumer_count: int
