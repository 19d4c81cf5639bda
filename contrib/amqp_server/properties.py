"""Message properties between the wire and the broker.

A content header's properties are decoded by pika's codec into the broker's
:class:`~msgbus.values.Properties` and keep the bytes they came in: a message delivered as
it was published carries its properties on byte for byte, field-table types included, as
RabbitMQ does. Properties the broker made or changed (x-death, a direct reply-to address,
messages published in-process) are encoded here, with RabbitMQ's field types.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
import struct
from collections.abc import Mapping
from typing import Any

from pika.compat import long

from contrib.amqp_server.fields import TYPED_FIELDS, TableError, decode_table
from msgbus.values import DELIVERY_MODES, EMPTY_PROPERTIES, Properties
from transports.memory.fields import Long

__all__ = [
    "PropertiesError",
    "WireProperties",
    "decode_properties",
    "encode_properties",
]

_NO_FLAGS = b"\x00\x00"


class WireProperties(Properties):
    """Properties decoded from a content header, with the bytes they were decoded from.

    Equal to a :class:`Properties` with the same fields. A copy made with
    ``dataclasses.replace`` (the broker changing a field) has no bytes and is encoded anew.
    """

    __slots__ = ("encoded",)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Properties):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = Properties.__hash__


def _fields(p: Properties) -> tuple[Any, ...]:
    return (p.content_type, p.content_encoding, p.headers, p.delivery_mode, p.priority,
            p.correlation_id, p.reply_to, p.expiration, p.message_id, p.timestamp, p.type,
            p.user_id, p.app_id, p.cluster_id)


_FLAG_BITS = {
    "content_type": 15, "content_encoding": 14, "headers": 13, "delivery_mode": 12,
    "priority": 11, "correlation_id": 10, "reply_to": 9, "expiration": 8, "message_id": 7,
    "timestamp": 6, "type": 5, "user_id": 4, "app_id": 3, "cluster_id": 2,
}


def decode_properties(encoded: bytes) -> Properties:
    """The properties of a content header (``encoded``: its property flags and list)."""
    if encoded == _NO_FLAGS:
        return EMPTY_PROPERTIES
    try:
        fields = _decode_fields(encoded)
    except (struct.error, IndexError, TableError) as error:
        raise PropertiesError(f"malformed content header properties: {error}") from error
    mode = fields[3]
    if mode is not None:
        fields[3] = DELIVERY_MODES.get(mode, mode)
    props = WireProperties(*fields)
    object.__setattr__(props, "encoded", encoded)
    return props


class PropertiesError(ValueError):
    """Content header properties that do not parse."""


def _decode_fields(encoded: bytes) -> list[Any]:
    (flags,) = struct.unpack_from(">H", encoded, 0)
    offset = 2
    word = flags
    while word & 1:  # continuation words: no basic property lives there
        (word,) = struct.unpack_from(">H", encoded, offset)
        offset += 2
    fields: list[Any] = [None] * 14
    for index, name in enumerate(_FLAG_BITS):
        if not flags & (1 << _FLAG_BITS[name]):
            continue
        if name == "headers":
            fields[index], offset = decode_table(encoded, offset)
        elif name in ("delivery_mode", "priority"):
            fields[index] = encoded[offset]
            offset += 1
        elif name == "timestamp":
            (fields[index],) = struct.unpack_from(">Q", encoded, offset)
            offset += 8
        else:
            length = encoded[offset]
            raw = encoded[offset + 1:offset + 1 + length]
            if len(raw) != length:
                raise TableError(f"{name} overruns the frame")
            fields[index] = raw.decode("utf-8", "surrogateescape")
            offset += 1 + length
    return fields


# -- encoding ---------------------------------------------------------------------------



def encode_properties(properties: Properties) -> bytes:
    """The property flags and list of a content header for ``properties``."""
    if properties is EMPTY_PROPERTIES:
        return _NO_FLAGS
    encoded: bytes | None = getattr(properties, "encoded", None)
    if encoded is not None:
        return encoded
    flags = 0
    pieces: list[bytes] = []
    p = properties
    for name in _FLAG_BITS:
        value = getattr(p, name)
        if value is None:
            continue
        flags |= 1 << _FLAG_BITS[name]
        if name == "headers":
            pieces.append(_table(value))
        elif name in ("delivery_mode", "priority"):
            pieces.append(struct.pack(">B", int(value)))
        elif name == "timestamp":
            pieces.append(struct.pack(">Q", int(value)))
        else:
            pieces.append(_short(value))
    return struct.pack(">H", flags) + b"".join(pieces)


def _short(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogateescape")
    return struct.pack(">B", len(raw)) + raw


def _table(table: Mapping[str, Any]) -> bytes:
    pieces = []
    for key, value in table.items():
        pieces.append(_short(str(key)))
        pieces.append(_value(value))
    body = b"".join(pieces)
    return struct.pack(">I", len(body)) + body


def _value(value: Any) -> bytes:
    """One field value, typed as RabbitMQ types what it writes itself."""
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
        return b"S" + struct.pack(">I", len(raw)) + raw
    if isinstance(value, bool):
        return b"t" + struct.pack(">B", value)
    typed = TYPED_FIELDS.get(type(value))
    if typed is not None:
        return typed[0] + struct.pack(typed[1], value)
    if isinstance(value, (Long, long)):
        return b"l" + struct.pack(">q", value)
    if isinstance(value, int):
        if -(2 ** 31) <= value < 2 ** 31:
            return b"I" + struct.pack(">i", value)
        if -(2 ** 63) <= value < 2 ** 63:
            return b"l" + struct.pack(">q", value)
        return b"l" + struct.pack(">Q", value)
    if isinstance(value, float):
        return b"d" + struct.pack(">d", value)
    if isinstance(value, (bytes, bytearray)):
        return b"x" + struct.pack(">I", len(value)) + bytes(value)
    if isinstance(value, Mapping):
        return b"F" + _table(value)
    if isinstance(value, (list, tuple)):
        body = b"".join(_value(v) for v in value)
        return b"A" + struct.pack(">I", len(body)) + body
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            seconds = int(value.timestamp())
        else:
            seconds = calendar.timegm(value.utctimetuple())
        return b"T" + struct.pack(">Q", seconds)
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        places = -int(exponent) if isinstance(exponent, int) and exponent < 0 else 0
        unscaled = int(value.scaleb(places))
        return b"D" + struct.pack(">Bi", places, unscaled)
    if value is None:
        return b"V"
    raise TypeError(f"a header value of type {type(value).__name__} has no AMQP field type")
