"""AMQP field values as they come out of the wire: :func:`wire_table` (what a client can
send in headers and arguments, normalised the way a round trip through RabbitMQ normalises
it, shared with every transport) and the integer width the broker itself writes."""

from __future__ import annotations

from msgbus.checks import wire_table

__all__ = [
    "Byte",
    "Float",
    "Long",
    "Short",
    "Timestamp",
    "UnsignedByte",
    "UnsignedInt",
    "UnsignedShort",
    "wire_table",
]


class Long(int):
    """An integer field value the broker itself writes as a 64-bit ``long`` (as RabbitMQ
    writes an ``x-death`` count); clients that tell integer widths apart see a long."""

    __slots__ = ()
    amqp_field = "long"


# Values a client sent with a field type Python has no type for (an AMQP client such as
# aio-pika sends a small int as a ``byte``): the broker keeps the type, as RabbitMQ does,
# in its reply texts and in what it passes on.


class Byte(int):
    __slots__ = ()
    amqp_field = "byte"


class UnsignedByte(int):
    __slots__ = ()
    amqp_field = "unsignedbyte"


class Short(int):
    __slots__ = ()
    amqp_field = "short"


class UnsignedShort(int):
    __slots__ = ()
    amqp_field = "unsignedshort"


class UnsignedInt(int):
    __slots__ = ()
    amqp_field = "unsignedint"


class Float(float):
    """A 32-bit floating point value (AMQP ``f``; a Python float is a ``double``)."""

    __slots__ = ()
    amqp_field = "float"


class Timestamp(int):
    """A timestamp (AMQP ``T``) past what a ``datetime`` holds, in seconds since 1970:
    RabbitMQ takes any 64-bit count (earlier ones come out of the wire as ``datetime``)."""

    __slots__ = ()
    amqp_field = "timestamp"
