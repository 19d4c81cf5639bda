"""Properties and method frames: pika's objects on one side, msgbus values on the other.

Outgoing properties go through pika's own encoder and decoder, so a program gets the same
client-side errors pika raises for a bad value, and the broker sees exactly the values a
real server would have received on the wire.
"""

from __future__ import annotations

from typing import Any

import pika.compat
import pika.spec
from pika.compat import as_bytes

from msgbus.values import EMPTY_PROPERTIES, Delivery, Properties, ReturnedMessage
from transports.memory.fields import Long
from transports.memory.queue import Message

__all__ = [
    "FIELDS",
    "deliver_method",
    "encode_body",
    "from_pika",
    "get_ok_method",
    "pika_delivery",
    "return_method",
    "to_pika",
]

#: The 14 basic properties, with the same names in pika and in msgbus.
FIELDS = (
    "content_type", "content_encoding", "headers", "delivery_mode", "priority",
    "correlation_id", "reply_to", "expiration", "message_id", "timestamp", "type", "user_id",
    "app_id", "cluster_id",
)

_EMPTY = EMPTY_PROPERTIES
#: the attributes of a fresh pika ``BasicProperties()``
_PIKA_EMPTY = dict(vars(pika.spec.BasicProperties()))
_new = object.__new__


def from_pika(properties: Any) -> Properties:
    """pika ``BasicProperties`` (or None) → msgbus :class:`Properties`, validated and
    normalised the way the wire would (pika encodes, the receiver decodes)."""
    if properties is None:
        return _EMPTY
    encoded = b"".join(properties.encode())  # pika's own validation and errors
    decoded = pika.spec.BasicProperties()
    decoded.decode(encoded)
    values = {name: getattr(decoded, name) for name in FIELDS}
    if all(value is None for value in values.values()):
        return _EMPTY
    return Properties(**values)


def to_pika(properties: Properties) -> pika.spec.BasicProperties:
    """msgbus :class:`Properties` → a fresh pika ``BasicProperties``."""
    if properties is _EMPTY:
        fresh = _new(pika.spec.BasicProperties)
        fresh.__dict__.update(_PIKA_EMPTY)
        return fresh
    headers = properties.headers
    delivery_mode = properties.delivery_mode
    return pika.spec.BasicProperties(
        content_type=properties.content_type,
        content_encoding=properties.content_encoding,
        headers=_plain(headers) if headers is not None else None,
        delivery_mode=int(delivery_mode) if delivery_mode is not None else None,
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


def _plain(value: Any) -> Any:
    """A deep copy of a field table into the plain dicts and lists pika hands to programs."""
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if type(value) is Long:  # a long the broker wrote: pika reads those as its own long
        return pika.compat.long(value)
    return value


def encode_body(body: Any) -> bytes:
    """The body as pika sends it: ``str`` is UTF-8 encoded, anything else must be bytes."""
    if type(body) is bytes:
        return body
    return bytes(as_bytes(body))


def pika_delivery(consumer_tag: str, delivery_tag: int, redelivered: bool, message: Message
                  ) -> tuple[pika.spec.Basic.Deliver, pika.spec.BasicProperties, bytes]:
    """What pika hands a consumer callback for a delivery: method, properties, body."""
    return (deliver_method(consumer_tag, delivery_tag, redelivered, message),
            to_pika(message.properties), message.body)


def deliver_method(consumer_tag: str, delivery_tag: int, redelivered: bool,
                   message: Message) -> pika.spec.Basic.Deliver:
    method = _new(pika.spec.Basic.Deliver)  # what its __init__ sets, without the call
    method.__dict__.update(
        consumer_tag=consumer_tag, delivery_tag=delivery_tag, redelivered=redelivered,
        exchange=message.exchange, routing_key=message.routing_key)
    return method


def get_ok_method(delivery: Delivery) -> pika.spec.Basic.GetOk:
    return pika.spec.Basic.GetOk(
        delivery_tag=delivery.delivery_tag, redelivered=delivery.redelivered,
        exchange=delivery.exchange, routing_key=delivery.routing_key,
        message_count=delivery.message_count or 0)


def return_method(message: ReturnedMessage) -> pika.spec.Basic.Return:
    return pika.spec.Basic.Return(
        reply_code=message.reply_code, reply_text=message.reply_text,
        exchange=message.exchange, routing_key=message.routing_key)
