"""The fields of a method a client sends, read as RabbitMQ 3.10 reads them.

pika's codec decodes the fixed fields; the one field table of a method (``arguments``, or a
``connection.start-ok``'s ``client_properties``) is cut out first and read by
:func:`~contrib.amqp_server.fields.decode_table`, which keeps every AMQP field type and
takes every value RabbitMQ takes (pika's table decoder turns floats into integers and fails
on timestamps past the year 9999). Short strings of methods without content must be UTF-8:
RabbitMQ checks them as it decodes, in field order, and closes the connection with
``501 FRAME_ERROR - Malformed UTF-8 in shortstr`` when one is not; it skips the check for
``basic.publish``, whose names it takes as bytes.
"""

from __future__ import annotations

import struct

import pika.spec as spec
from pika.amqp_object import Method as PikaMethod

from contrib.amqp_server.fields import TableError, decode_table

__all__ = ["MALFORMED_UTF8", "PLAIN_METHODS", "MalformedShortString", "decode_fields"]

MALFORMED_UTF8 = "FRAME_ERROR - Malformed UTF-8 in shortstr"
_EMPTY_TABLE = b"\x00\x00\x00\x00"

#: Methods with a field table: the fields before it (``H`` a short, ``B`` an octet of
#: bits, ``s`` a short string) and the attribute pika keeps it in.
_TABLES: dict[int, tuple[str, str]] = {
    spec.Connection.StartOk.INDEX: ("", "client_properties"),
    spec.Exchange.Declare.INDEX: ("HssB", "arguments"),
    spec.Exchange.Bind.INDEX: ("HsssB", "arguments"),
    spec.Exchange.Unbind.INDEX: ("HsssB", "arguments"),
    spec.Queue.Declare.INDEX: ("HsB", "arguments"),
    spec.Queue.Bind.INDEX: ("HsssB", "arguments"),
    spec.Queue.Unbind.INDEX: ("Hsss", "arguments"),
    spec.Basic.Consume.INDEX: ("HssB", "arguments"),
}
#: The long-string fields of methods (pika leaves them bytes; RabbitMQ takes any bytes).
#: pika's ``connection.update-secret`` keeps its secret under ``mechanisms``.
_LONG_STRINGS = frozenset({"response", "new_secret", "challenge", "mechanisms", "locales",
                           "channel_id"})


#: The short-string fields RabbitMQ checks, by method class (none for ``basic.publish``).
_SHORT_STRINGS: dict[type, tuple[str, ...]] = {}
#: Methods pika's codec decodes whole: no table, no short string to check (the frequent
#: ones: basic.publish, whose names are not checked, and the acknowledgements).
PLAIN_METHODS = frozenset({spec.Basic.Publish, spec.Basic.Ack, spec.Basic.Nack,
                           spec.Basic.Reject, spec.Basic.Qos, spec.Basic.Recover,
                           spec.Channel.Flow, spec.Tx.Select, spec.Tx.Commit,
                           spec.Tx.Rollback, spec.Confirm.Select})


class MalformedShortString(ValueError):
    """A short string that is not UTF-8, in a method RabbitMQ checks."""


def decode_fields(method: PikaMethod, payload: bytes, offset: int = 4) -> None:
    """Set ``method``'s fields from ``payload`` (its arguments start at ``offset``).

    Raises :class:`MalformedShortString`, :class:`TableError` (a table RabbitMQ cannot
    read: it drops the client), or ``struct.error`` / ``IndexError`` / ``ValueError`` /
    ``OverflowError`` for fields that do not parse."""
    layout = _TABLES.get(method.INDEX)
    if layout is None:
        method.decode(payload, offset)
    else:
        before, attribute = layout
        start = _skip(payload, offset, before)
        table, end = decode_table(payload, start)
        if attribute == "arguments" and end != len(payload):
            raise TableError("bytes after the arguments table")
        method.decode(payload[:start] + _EMPTY_TABLE + payload[end:], offset)
        setattr(method, attribute, table)
    kind = type(method)
    names = _SHORT_STRINGS.get(kind)
    if names is None:  # the first of its kind: its string fields are its short strings
        names = _SHORT_STRINGS[kind] = () if kind is spec.Basic.Publish else tuple(
            name for name, value in vars(method).items()
            if isinstance(value, (str, bytes)) and name not in _LONG_STRINGS)
    for name in names:
        if type(getattr(method, name)) is bytes:  # pika keeps one that is not UTF-8 as bytes
            raise MalformedShortString(name)


def _skip(payload: bytes, offset: int, fields: str) -> int:
    """The offset after ``fields`` (checking their short strings, as RabbitMQ does)."""
    for kind in fields:
        if kind == "H":
            offset += 2
        elif kind == "B":
            offset += 1
        else:
            (length,) = struct.unpack_from(">B", payload, offset)
            raw = payload[offset + 1:offset + 1 + length]
            if len(raw) != length:
                raise IndexError("short string overruns its frame")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedShortString("short string") from None
            offset += 1 + length
    if offset > len(payload):
        raise IndexError("method fields overrun their frame")
    return offset
