"""Converting message properties between :class:`msgbus.values.Properties` and pika.

All 14 AMQP basic properties map one to one. Header tables keep their nesting and types:
``str`` travels as a long string, ``bytes`` as a byte array, and each comes back as it went.
``delivery_mode`` comes back as a :class:`~msgbus.values.DeliveryMode`.
"""

from __future__ import annotations

import pika

from msgbus.values import DeliveryMode, Properties, ReturnedMessage

__all__ = ["EMPTY", "from_pika", "returned_from_pika", "to_pika"]

EMPTY = Properties()
_DELIVERY_MODES = {1: DeliveryMode.TRANSIENT, 2: DeliveryMode.PERSISTENT}


def to_pika(properties: Properties | None) -> pika.BasicProperties | None:
    """The ``pika.BasicProperties`` for ``properties`` (``None`` stays ``None``)."""
    if properties is None or properties == EMPTY:
        return None
    mode = properties.delivery_mode
    return pika.BasicProperties(
        content_type=properties.content_type,
        content_encoding=properties.content_encoding,
        headers=dict(properties.headers) if properties.headers is not None else None,
        delivery_mode=int(mode) if mode is not None else None,
        priority=properties.priority,
        correlation_id=properties.correlation_id,
        reply_to=properties.reply_to,
        expiration=properties.expiration,
        message_id=properties.message_id,
        timestamp=properties.timestamp,
        type=properties.type,
        user_id=properties.user_id,
        app_id=properties.app_id,
        cluster_id=properties.cluster_id,
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
    return Properties(
        content_type=p.content_type,
        content_encoding=p.content_encoding,
        headers=headers,
        delivery_mode=_DELIVERY_MODES.get(mode, mode) if mode is not None else None,
        priority=p.priority,
        correlation_id=p.correlation_id,
        reply_to=p.reply_to,
        expiration=p.expiration,
        message_id=p.message_id,
        timestamp=p.timestamp,
        type=p.type,
        user_id=p.user_id,
        app_id=p.app_id,
        cluster_id=p.cluster_id,
    )


def returned_from_pika(
    method: pika.spec.Basic.Return, properties: pika.BasicProperties, body: bytes
) -> ReturnedMessage:
    """The :class:`ReturnedMessage` of a basic.return pika received."""
    return ReturnedMessage(
        body, method.exchange, method.routing_key, method.reply_code, method.reply_text,
        from_pika(properties),
    )
