"""AMQP field tables as RabbitMQ reads them, for the tables pika's codec gets wrong.

pika's decoder turns ``f`` and ``d`` (floating point) values into integers, which changes
what a headers exchange matches and what an argument's type is. Tables that the broker
interprets — method arguments and message headers — are read here instead: every field type
RabbitMQ 3.10 accepts, 64-bit integers kept as the broker's :class:`Long`, timestamps as UTC
``datetime``, long strings as ``str`` (bytes that are not UTF-8 kept with
``surrogateescape``). A malformed table raises :class:`TableError`.
"""

from __future__ import annotations

import datetime
import decimal
import math
import struct
from typing import Any

from transports.memory.fields import (
    Byte,
    Float,
    Long,
    Short,
    Timestamp,
    UnsignedByte,
    UnsignedInt,
    UnsignedShort,
)

__all__ = ["TYPED_FIELDS", "TableError", "decode_table"]

#: fixed-size field types: (struct format, size, the type that keeps the AMQP type)
_UNPACK: dict[bytes, tuple[str, int, type]] = {
    b"b": (">b", 1, Byte), b"B": (">B", 1, UnsignedByte), b"s": (">h", 2, Short),
    b"u": (">H", 2, UnsignedShort), b"I": (">i", 4, int), b"i": (">I", 4, UnsignedInt),
    b"f": (">f", 4, Float), b"d": (">d", 8, float),
}
#: The Python types that keep an AMQP field type (see ``transports.memory.fields``), with
#: their type letter and struct format: what a value of that type is encoded as.
TYPED_FIELDS: dict[type, tuple[bytes, str]] = {
    kind: (letter, fmt) for letter, (fmt, _, kind) in _UNPACK.items()
    if kind not in (int, float)
} | {Timestamp: (b"T", ">Q")}
#: The last second a ``datetime`` can hold (9999-12-31 23:59:59 UTC); later timestamps are
#: kept as :class:`Timestamp` seconds.
_LAST_DATETIME = 253402300799
#: How deep tables may nest in what a client sends (RabbitMQ has no fixed limit; Python's
#: recursion has).
MAX_DEPTH = 100


class TableError(ValueError):
    """A field table that does not parse."""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def decode_table(data: bytes, offset: int = 0, depth: int = 0) -> tuple[dict[str, Any], int]:
    """The table at ``offset`` (a 4-byte size, then name/value pairs) and the offset after."""
    if depth > MAX_DEPTH:
        raise TableError(f"tables nested more than {MAX_DEPTH} deep")
    try:
        (size,) = struct.unpack_from(">I", data, offset)
    except struct.error as error:
        raise TableError("truncated table size") from error
    offset += 4
    end = offset + size
    if end > len(data):
        raise TableError(f"table of {size} bytes overruns its frame")
    table: dict[str, Any] = {}
    while offset < end:
        length = data[offset]
        offset += 1
        key = _text(data[offset:offset + length])
        offset += length
        table[key], offset = _value(data, offset, depth)
    if offset != end:
        raise TableError("table entries overrun the table's size")
    return table, offset


def _value(data: bytes, offset: int, depth: int) -> tuple[Any, int]:
    try:
        kind = data[offset:offset + 1]
        offset += 1
        fixed = _UNPACK.get(kind)
        if fixed is not None:
            (value,) = struct.unpack_from(fixed[0], data, offset)
            if kind in b"fd" and not math.isfinite(value):
                # Erlang has no such float: RabbitMQ's reader fails and drops the client
                raise TableError(f"a floating-point value that is not finite ({value})")
            return fixed[2](value), offset + fixed[1]
        if kind == b"t":
            return data[offset] != 0, offset + 1
        if kind in (b"l", b"L"):
            (number,) = struct.unpack_from(">q" if kind == b"l" else ">Q", data, offset)
            return Long(number), offset + 8
        if kind in (b"S", b"x"):
            (length,) = struct.unpack_from(">I", data, offset)
            offset += 4
            if offset + length > len(data):
                raise TableError("string overruns its frame")
            raw = bytes(data[offset:offset + length])
            return (_text(raw) if kind == b"S" else raw), offset + length
        if kind == b"D":
            places, unscaled = struct.unpack_from(">Bi", data, offset)
            return decimal.Decimal(unscaled).scaleb(-places), offset + 5
        if kind == b"T":
            (seconds,) = struct.unpack_from(">Q", data, offset)
            if seconds > _LAST_DATETIME:  # RabbitMQ takes any 64-bit count of seconds
                return Timestamp(seconds), offset + 8
            return (datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc),
                    offset + 8)
        if kind == b"F":
            return decode_table(data, offset, depth + 1)
        if kind == b"A":
            (length,) = struct.unpack_from(">I", data, offset)
            offset += 4
            end = offset + length
            if end > len(data):
                raise TableError("array overruns its frame")
            items = []
            while offset < end:
                item, offset = _value(data, offset, depth + 1)
                items.append(item)
            return items, offset
        if kind == b"V":
            return None, offset
    except (struct.error, IndexError, OverflowError, ValueError) as error:
        raise TableError(f"malformed field value of type {kind!r}") from error
    raise TableError(f"unknown field type {kind!r}")
