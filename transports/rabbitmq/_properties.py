"""Converting message properties between :class:`msgbus.values.Properties` and pika.

All 14 AMQP basic properties map one to one. Header tables keep their nesting and types:
``str`` travels as a long string, ``bytes`` as a byte array, and each comes back as it went.
``delivery_mode`` comes back as a :class:`~msgbus.values.DeliveryMode`. pika decodes a
64-bit integer as its own ``int`` subclass (``pika.compat.long``): those come back as
plain ``int``, as they went.
"""

from __future__ import annotations

from typing import Any

import pika
from pika.compat import long

from msgbus.values import DELIVERY_MODES, Properties, ReturnedMessage

__all__ = ["EMPTY", "from_pika", "returned_from_pika", "to_pika"]

EMPTY = Properties()


def to_pika(properties: Properties | None) -> pika.BasicProperties | None:
    """The ``pika.BasicProperties`` for ``properties`` (``None`` stays ``None``)."""
    if properties is None:
        return None
    p = properties
    headers, mode = p.headers, p.delivery_mode
    if p.content_type is None and p.correlation_id is None and p == EMPTY:
        return None
    # Positional, in the AMQP order both classes share: keywords cost twice as much, and
    # this runs for every message published.
    return pika.BasicProperties(
        p.content_type, p.content_encoding, dict(headers) if headers is not None else None,
        int(mode) if mode is not None else None, p.priority, p.correlation_id, p.reply_to,
        p.expiration, p.message_id, p.timestamp, p.type, p.user_id, p.app_id, p.cluster_id,
    )


def from_pika(properties: pika.BasicProperties) -> Properties:
    """The :class:`Properties` of a message pika received."""
    p = properties
    headers = p.headers
    mode = p.delivery_mode
    if (
        headers is None and mode is None and p.content_type is None
        and p.correlation_id is None and p.reply_to is None and p.message_id is None
        and p.content_encoding is None and p.priority is None and p.expiration is None
        and p.timestamp is None and p.type is None and p.user_id is None
        and p.app_id is None and p.cluster_id is None
    ):
        return EMPTY
    if headers:
        _plain_table(headers)
    return Properties(  # positional, in the AMQP order (see to_pika)
        p.content_type, p.content_encoding, headers,
        DELIVERY_MODES.get(mode, mode) if mode is not None else None, p.priority,
        p.correlation_id, p.reply_to, p.expiration, p.message_id, p.timestamp, p.type,
        p.user_id, p.app_id, p.cluster_id,
    )


def _plain_table(container: Any) -> None:
    """Turn pika's ``long`` values in ``container`` (a table or an array, freshly decoded)
    into ``int``, at every depth."""
    pairs = container.items() if type(container) is dict else enumerate(container)
    for key, value in pairs:
        kind = type(value)
        if kind is long:
            container[key] = int(value)
        elif kind is dict or kind is list:
            _plain_table(value)


def returned_from_pika(
    method: pika.spec.Basic.Return, properties: pika.BasicProperties, body: bytes
) -> ReturnedMessage:
    """The :class:`ReturnedMessage` of a basic.return pika received."""
    return ReturnedMessage(
        body, method.exchange, method.routing_key, method.reply_code, method.reply_text,
        from_pika(properties),
    )
